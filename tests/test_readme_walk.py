"""The README walked as a newcomer walks it: every command and Python block from
"Quickstart" to "Documentation", in order, on small data, each step exiting 0 in the folder
the ones above left behind (``benchmarks/readme_walk.py`` says what stands in for the
reader's files and the two options changed for small data)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmarks.readme_walk import (
    BLOCK,
    SMALL_DATA,
    Step,
    command_line,
    prepare_server,
    readme_steps,
    walk,
    walked_part,
    what_the_reader_brings,
)

from helpers import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def postgres_host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of its own (the README's roles are cluster-wide), prepared for the walk."""
    from pg_server import start_postgres

    server = start_postgres(tmp_path_factory.mktemp("pg"))
    yield prepare_server(server)
    server.cleanup()


def test_every_command_line_of_the_walked_part_is_a_step_in_order() -> None:
    steps = readme_steps(README)
    commands = [s.text for s in steps if s.kind == "bash"]
    code = "".join(body for _, body in BLOCK.findall(walked_part(README)))
    assert len(commands) == code.count(".venv/bin/") >= 20
    assert commands[0].startswith(".venv/bin/bioverify verify examples/face_a1.jpg")
    assert sum(s.kind == "python" for s in steps) >= 3
    split, train = (next(c for c in commands if f" {w} " in c) for w in ("split", "train"))
    assert commands.index(split) < commands.index(train)


def test_only_the_small_data_options_and_the_server_change() -> None:
    step = Step("bash", ".venv/bin/bioverify train --batch-size 32 --steps-per-epoch 100 --x 1")
    argv = command_line(step, "/sock")
    assert argv[-7:] == ["train", "--batch-size", "8", "--steps-per-epoch", "2", "--x", "1"]
    assert SMALL_DATA == {"--steps-per-epoch": "2", "--batch-size": "8"}
    url = command_line(Step("bash", ".venv/bin/bioverify list 'postgresql://app@db/bio'"), "/s")
    assert url[-1] == "postgresql://app@/bio?host=/s"
    with pytest.raises(ValueError, match="only bioverify and python"):
        command_line(Step("bash", "rm -rf build"), "/s")


@pytest.mark.slow
def test_the_readme_runs_top_to_bottom(tmp_path: Path, postgres_host: str) -> None:
    work = tmp_path / "work"
    work.mkdir()
    what_the_reader_brings(work)
    outcomes = list(walk(work, postgres_host))
    last = outcomes[-1]
    assert last.returncode == 0, (
        f"README step {last.number} failed (exit {last.returncode}):\n{last.step.text}\n"
        f"{last.stderr}"
    )
    assert len(outcomes) == len(readme_steps(README))
