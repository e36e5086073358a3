"""The README walked as a newcomer walks it: every command and Python block from
"Quickstart" to "Documentation", in order, each in the folder the ones above left behind.

The files a reader brings (``a.jpg``, ``my_people/``, ``scores.csv``, LFW under
``../shared``, a PostgreSQL server, …) are small stand-ins made here: fifteen test-split LFW
people of ``tests/data/readme_people``. Two things are changed for small data and said
here: training runs 2 steps of 8 photos an epoch (22 training photos fill no batch of 32),
not 100 steps of 32, and ``postgresql://ROLE@db/bio`` points
at a server started for the test, where the README's roles are made as ``docs/gallery.md``
makes them. Nothing else: a command the README adds runs here too, so the README cannot show
a step that fails, or one that only works in another order.
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from helpers import DEFAULT_FACE, ROOT, TESTS

pytestmark = pytest.mark.slow

PEOPLE = TESTS / "data" / "readme_people"
_BLOCK = re.compile(r"```(bash|python)\n(.*?)```", re.S)
#: the options changed for small data (and only these): option -> value used here
SMALL_DATA = {"--steps-per-epoch": "2", "--batch-size": "8"}
_POSTGRES = re.compile(r"postgresql://(\w+)@db/bio")


@dataclass(frozen=True)
class Step:
    """One thing the README tells the reader to run: a command line or a Python block."""

    kind: str  # "bash" or "python"
    text: str


def readme_steps(readme: str) -> list[Step]:
    """The commands and Python blocks between "## Quickstart" and "## Documentation", in order.

    In a bash block with ``$ `` sessions only the ``$ `` lines are commands (the rest is
    their output); otherwise every line is, continuations joined and comments dropped.
    """
    walked = readme.split("\n## Quickstart", 1)[1].split("\n## Documentation", 1)[0]
    steps = []
    for kind, body in _BLOCK.findall(walked):
        if kind == "python":
            steps.append(Step("python", body))
            continue
        lines = body.replace("\\\n", " ").splitlines()
        if any(line.startswith("$ ") for line in lines):
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        for line in lines:
            if shlex.split(line, comments=True):
                steps.append(Step("bash", line))
    return steps


def command_line(text: str, postgres_host: str) -> list[str]:
    """The argv a README command line runs here (see the module docstring for what changes)."""
    text = _POSTGRES.sub(lambda m: f"postgresql://{m[1]}@/bio?host={postgres_host}", text)
    words = shlex.split(text, comments=True)
    programs = {".venv/bin/bioverify": [sys.executable, "-m", "bioverify"]}
    programs[".venv/bin/python"] = [sys.executable]
    assert words[0] in programs, f"the README runs {words[0]!r}: only bioverify and python here"
    argv = [*programs[words[0]], *words[1:]]
    for i, word in enumerate(argv[:-1]):
        if word in SMALL_DATA:
            argv[i + 1] = SMALL_DATA[word]
    return argv


def _pairs_txt(people: list[str]) -> str:
    """LFW's pairs.txt for ``people`` (two photos each): 7 folds, each with every person's
    genuine pair and a ring of impostor pairs shifted by the fold (so the 7 folds hold every
    impostor pair of 15 people once, whichever of them a split puts in its test part)."""
    n = len(people)
    folds = (n - 1) // 2
    lines = [f"{folds}\t{n}"]
    for shift in range(1, folds + 1):
        lines += [f"{p}\t1\t2" for p in people]
        lines += [f"{people[i]}\t1\t{people[(i + shift) % n]}\t2" for i in range(n)]
    return "\n".join(lines) + "\n"


def _scores_csv(path: Path, rng: np.random.Generator) -> None:
    """A score file as an application writes one: 300 genuine and 30,000 impostor trials of
    60 people with their subject ids."""
    rows = ["score,label,subject_a,subject_b"]
    rows += [f"{rng.normal(2, 1):.4f},1,p{i % 60},p{i % 60}" for i in range(300)]
    for _ in range(30_000):
        a, b = rng.choice(60, 2, replace=False)
        rows.append(f"{rng.normal(0, 1):.4f},0,p{a},p{b}")
    path.write_text("\n".join(rows) + "\n")


def _copy_people(target: Path) -> None:
    for person in sorted(p for p in PEOPLE.iterdir() if p.is_dir()):
        shutil.copytree(person, target / person.name)


def _what_the_reader_brings(work: Path) -> None:
    """The files the README's commands take but do not make."""
    lfw = work.parent / "shared" / "data" / "faces" / "lfw"
    _copy_people(lfw)
    (lfw / "pairs.txt").write_text(_pairs_txt(sorted(p.name for p in lfw.iterdir())))
    for folder in ("my_people", "people", "photos"):
        _copy_people(work / folder)
    for name in ("examples", "recipes"):
        (work / name).symlink_to(ROOT / name)
    first = sorted(p for p in PEOPLE.iterdir() if p.is_dir())[0]
    photos = {
        "a.jpg": ROOT / "examples" / "face_a1.jpg",
        "b.jpg": ROOT / "examples" / "face_a2.jpg",
        "c.jpg": ROOT / "examples" / "face_b1.jpg",
        "a1.jpg": first / f"{first.name}_0001.jpg",
        "a2.jpg": first / f"{first.name}_0002.jpg",
        "a3.jpg": ROOT / "examples" / "face_a1.jpg",
        "probe.jpg": ROOT / "examples" / "face_a2.jpg",
    }
    for name, source in photos.items():
        shutil.copyfile(source, work / name)
    rng = np.random.default_rng(0)
    _scores_csv(work / "scores.csv", rng)
    production = [f"{score:.4f}" for score in rng.uniform(0.5, 1.0, 500)]
    (work / "production_scores.csv").write_text("score\n" + "\n".join(production) + "\n")
    shutil.copytree(DEFAULT_FACE, work / "new_bundle")  # another model to re-embed with


@pytest.fixture(scope="module")
def postgres_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of its own (the README's roles are cluster-wide) with an empty database
    ``bio`` owned by ``owner``; yields its socket folder."""
    from pg_server import start_postgres

    server = start_postgres(tmp_path_factory.mktemp("pg"))
    server.psql("CREATE ROLE owner LOGIN;")
    server.psql("CREATE DATABASE bio OWNER owner;")
    host = server.get_uri().split("host=")[1]
    _sql(host, "bio", "CREATE EXTENSION vector;")
    yield host
    server.cleanup()


def _sql(host: str, database: str, statements: str) -> None:
    import psycopg

    with psycopg.connect(f"postgresql://postgres@/{database}?host={host}", autocommit=True) as c:
        c.execute(statements)


def _grant_application_roles(host: str) -> None:
    """What docs/gallery.md has an administrator run once the owner made the gallery."""
    from bioverify.gallery.postgres_schema import roles_sql

    _sql(host, "bio", roles_sql("bioverify"))
    _sql(host, "bio", "CREATE ROLE enroller LOGIN IN ROLE bioverify_enroll;")
    _sql(host, "bio", "CREATE ROLE searcher LOGIN IN ROLE bioverify_search;")


def test_readme_steps_are_found_in_order() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    steps = readme_steps(readme)
    commands = [s.text for s in steps if s.kind == "bash"]
    walked = readme.split("\n## Quickstart", 1)[1].split("\n## Documentation", 1)[0]
    in_code = "".join(body for _, body in _BLOCK.findall(walked))
    assert len(commands) == in_code.count(".venv/bin/") >= 20, "one step per command line"
    assert commands[0].startswith(".venv/bin/bioverify verify examples/face_a1.jpg")
    assert sum(s.kind == "python" for s in steps) >= 3
    split, train = (next(c for c in commands if f" {w} " in c) for w in ("split", "train"))
    assert commands.index(split) < commands.index(train), "split comes before train"


def test_the_readme_runs_top_to_bottom(tmp_path: Path, postgres_host: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    _what_the_reader_brings(work)
    steps = readme_steps((ROOT / "README.md").read_text(encoding="utf-8"))
    for number, step in enumerate(steps, 1):
        if step.kind == "python":
            argv = [sys.executable, "-c", step.text]
        else:
            argv = command_line(step.text, postgres_host)
        proc = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=600)
        assert proc.returncode == 0, (
            f"README step {number} failed (exit {proc.returncode}):\n{step.text}\n{proc.stderr}"
        )
        if step.kind == "bash" and " gallery migrate " in step.text:
            _grant_application_roles(postgres_host)
