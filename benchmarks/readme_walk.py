"""The README walked as a newcomer walks it: every command and Python block from
"Quickstart" to "Documentation", in order, each in the folder the ones above left behind.

The files a reader brings (``a.jpg``, ``my_people/``, ``scores.csv``, LFW under
``../shared``, a PostgreSQL server, …) are small stand-ins made here: fifteen test-split LFW
people of ``tests/data/readme_people``. Two things are changed for small data and said
here: training runs 2 steps of 8 photos an epoch (22 training photos fill no batch of 32),
not 100 steps of 32, and ``postgresql://ROLE@db/bio`` points at a server started for the
walk, where the README's roles are made as ``docs/gallery.md`` makes them. Nothing else: a
command the README adds runs here too. ``tests/test_readme_walk.py`` asserts every step
exits 0; this script writes what every step printed.

Usage::

    python -m benchmarks.readme_walk

Writes ``benchmarks/results/readme_walk.md``: each step, its exit status, time and output
(the walk's folder shown as ``.``, the server's socket as ``db``).
"""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = ROOT / "tests" / "data" / "readme_people"
DEFAULT_FACE = ROOT / "src" / "bioverify" / "models" / "face"
RESULT = ROOT / "benchmarks" / "results" / "readme_walk.md"
BLOCK = re.compile(r"```(bash|python)\n(.*?)```", re.S)
#: the options changed for small data (and only these): option -> value used here
SMALL_DATA = {"--steps-per-epoch": "2", "--batch-size": "8"}
_POSTGRES = re.compile(r"postgresql://(\w+)@db/bio")


@dataclass(frozen=True)
class Step:
    """One thing the README tells the reader to run: a command line or a Python block."""

    kind: str  # "bash" or "python"
    text: str


@dataclass(frozen=True)
class Outcome:
    """What one step did."""

    number: int
    step: Step
    returncode: int
    stdout: str
    stderr: str
    seconds: float


def walked_part(readme: str) -> str:
    """The README from "## Quickstart" up to "## Documentation"."""
    return readme.split("\n## Quickstart", 1)[1].split("\n## Documentation", 1)[0]


def readme_steps(readme: str) -> list[Step]:
    """The commands and Python blocks of :func:`walked_part`, in order.

    In a bash block with ``$ `` sessions only the ``$ `` lines are commands (the rest is
    their output); otherwise every line is, continuations joined and comments dropped.
    """
    steps = []
    for kind, body in BLOCK.findall(walked_part(readme)):
        if kind == "python":
            steps.append(Step("python", body))
            continue
        lines = body.replace("\\\n", " ").splitlines()
        if any(line.startswith("$ ") for line in lines):
            lines = [line[2:] for line in lines if line.startswith("$ ")]
        steps += [Step("bash", line) for line in lines if shlex.split(line, comments=True)]
    return steps


def command_line(step: Step, postgres_host: str) -> list[str]:
    """The argv a step runs here (see the module docstring for what changes)."""
    if step.kind == "python":
        return [sys.executable, "-c", step.text]
    text = _POSTGRES.sub(lambda m: f"postgresql://{m[1]}@/bio?host={postgres_host}", step.text)
    words = shlex.split(text, comments=True)
    programs = {
        ".venv/bin/bioverify": [sys.executable, "-m", "bioverify"],
        ".venv/bin/python": [sys.executable],
    }
    if words[0] not in programs:
        raise ValueError(f"the README runs {words[0]!r}: only bioverify and python here")
    argv = [*programs[words[0]], *words[1:]]
    for i, word in enumerate(argv[:-1]):
        if word in SMALL_DATA:
            argv[i + 1] = SMALL_DATA[word]
    return argv


def _people() -> list[Path]:
    return sorted(p for p in PEOPLE.iterdir() if p.is_dir())


def _copy_people(target: Path) -> None:
    for person in _people():
        shutil.copytree(person, target / person.name)


def pairs_txt(people: list[str]) -> str:
    """LFW's pairs.txt for ``people`` (two photos each): (n - 1) / 2 folds, each with every
    person's genuine pair and a ring of impostor pairs shifted by the fold — together every
    impostor pair of an odd number of people once, whichever of them a split puts in its
    test part."""
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


def what_the_reader_brings(work: Path) -> None:
    """Make, in and beside the empty folder ``work``, the files the README's commands take
    but do not make."""
    lfw = work.parent / "shared" / "data" / "faces" / "lfw"
    _copy_people(lfw)
    (lfw / "pairs.txt").write_text(pairs_txt([p.name for p in _people()]))
    for folder in ("my_people", "people", "photos"):
        _copy_people(work / folder)
    for name in ("examples", "recipes"):
        (work / name).symlink_to(ROOT / name)
    first = _people()[0]
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


def sql(host: str, statements: str, database: str = "bio") -> None:
    """Run ``statements`` as the server's superuser."""
    import psycopg

    with psycopg.connect(f"postgresql://postgres@/{database}?host={host}", autocommit=True) as c:
        c.execute(statements)


def prepare_server(server: object) -> str:
    """On a fresh ``pgserver`` server: an empty database ``bio`` owned by the login role
    ``owner``, with pgvector; returns the socket folder."""
    server.psql("CREATE ROLE owner LOGIN;")  # type: ignore[attr-defined]
    server.psql("CREATE DATABASE bio OWNER owner;")  # type: ignore[attr-defined]
    host = server.get_uri().split("host=")[1]  # type: ignore[attr-defined]
    sql(host, "CREATE EXTENSION vector;")
    return host


def grant_application_roles(host: str) -> None:
    """What docs/gallery.md has an administrator run once the owner made the gallery."""
    from bioverify.gallery.postgres_schema import roles_sql

    sql(host, roles_sql("bioverify"))
    sql(host, "CREATE ROLE enroller LOGIN IN ROLE bioverify_enroll;")
    sql(host, "CREATE ROLE searcher LOGIN IN ROLE bioverify_search;")


def walk(work: Path, postgres_host: str) -> Iterator[Outcome]:
    """Run the README's steps in ``work`` (made by :func:`what_the_reader_brings`), in order,
    yielding each outcome; stops after the first step that fails."""
    steps = readme_steps((ROOT / "README.md").read_text(encoding="utf-8"))
    for number, step in enumerate(steps, 1):
        start = time.perf_counter()
        argv = command_line(step, postgres_host)
        proc = subprocess.run(argv, cwd=work, capture_output=True, text=True, timeout=600)
        seconds = time.perf_counter() - start
        yield Outcome(number, step, proc.returncode, proc.stdout, proc.stderr, seconds)
        if proc.returncode != 0:
            return
        if step.kind == "bash" and " gallery migrate " in step.text:
            grant_application_roles(postgres_host)


def _shown(text: str, work: Path, host: str) -> str:
    return text.replace(str(work.resolve()), ".").replace(str(work), ".").replace(host, "db")


def main() -> None:
    import pgserver

    lines = [
        "# The README walked, every step's output",
        "",
        "`python -m benchmarks.readme_walk` (what `tests/test_readme_walk.py` runs): the "
        "README's commands and Python blocks from Quickstart on, in order, on the small data "
        "of `tests/data/readme_people` (fifteen LFW test people, two photos each; see the "
        "script's docstring for the two options changed for small data). The walk's folder "
        "is shown as `.`, the PostgreSQL server's socket as `db`.",
        "",
    ]
    with tempfile.TemporaryDirectory(prefix="readme-walk-") as tmp:
        server = pgserver.get_server(Path(tmp) / "pg", cleanup_mode="delete")
        host = prepare_server(server)
        work = Path(tmp) / "work"
        work.mkdir()
        what_the_reader_brings(work)
        for outcome in walk(work, host):
            shown = _shown(outcome.stdout + outcome.stderr, work, host).rstrip()
            fence = "python" if outcome.step.kind == "python" else "bash"
            lines += [
                f"## Step {outcome.number} — exit {outcome.returncode}, {outcome.seconds:.1f} s",
                "",
                f"```{fence}",
                outcome.step.text.rstrip(),
                "```",
                "",
                "```text",
                shown or "(no output)",
                "```",
                "",
            ]
            print(f"step {outcome.number}: exit {outcome.returncode}", flush=True)
        server.cleanup()
    RESULT.write_text("\n".join(lines), encoding="utf-8")
    print(f"wrote {RESULT}")


if __name__ == "__main__":
    main()
