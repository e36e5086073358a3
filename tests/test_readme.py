"""The README cannot rot: its shown sessions are run and compared, and every command it
mentions is checked against the CLI's own options.

* A ```bash block line starting with ``$ `` is a session: the command is run (with this
  Python, from the repository root) and its output must equal the lines shown under it.
* Every other ``bioverify SUBCOMMAND --option …`` line names options that must exist:
  each ``--option`` is looked up in ``bioverify SUBCOMMAND --help``.
"""

from __future__ import annotations

import re
import shlex

import pytest

from helpers import ROOT, run_bioverify, run_cli

README = ROOT / "README.md"
_BLOCK = re.compile(r"```bash\n(.*?)```", re.S)


def _blocks() -> list[str]:
    return _BLOCK.findall(README.read_text(encoding="utf-8"))


def _sessions() -> list[tuple[str, list[str]]]:
    """``(command, expected output lines)`` for every ``$ `` line of the README."""
    sessions: list[tuple[str, list[str]]] = []
    for block in _blocks():
        current: list[str] | None = None
        for line in block.splitlines():
            if line.startswith("$ "):
                current = []
                sessions.append((line[2:], current))
            elif current is not None:
                current.append(line)
    return sessions


def _commands() -> list[str]:
    """Every ``bioverify …`` command of the README's bash blocks (continuations joined)."""
    commands = []
    for block in _blocks():
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.removeprefix("$ ").strip()
            if line.startswith(".venv/bin/bioverify "):
                commands.append(line.split("#")[0].strip())
    return commands


@pytest.mark.parametrize(("command", "expected"), _sessions(), ids=lambda v: str(v)[:60])
def test_shown_sessions_print_what_the_readme_shows(command: str, expected: list[str]) -> None:
    args = shlex.split(command)
    assert args[0] == ".venv/bin/bioverify", "README sessions run the bioverify command"
    proc = run_bioverify(*args[1:], cwd=ROOT, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == expected


def test_every_command_uses_options_that_exist() -> None:
    commands = _commands()
    assert len(commands) >= 15, "the README should show the CLI"
    helps: dict[tuple[str, ...], str] = {}
    for command in commands:
        words = shlex.split(command)[1:]
        path = tuple(w for w in words[:2] if not w.startswith("-") and w in _SUBCOMMANDS)
        if not path:
            continue
        if path[0] != "gallery":
            path = path[:1]
        if path not in helps:
            code, out, err = run_cli(*path, "--help")  # in this process: the same help
            assert code == 0, f"bioverify {' '.join(path)} --help: {err}"
            helps[path] = out
        for option in (w.split("=")[0] for w in words if w.startswith("--")):
            assert option in helps[path], f"README: `{command}` uses {option}, unknown to the CLI"


def _subcommand_names() -> set[str]:
    """The names of the CLI's commands and of the gallery's sub-commands."""
    from bioverify.cli import cli
    from bioverify.cli.gallery import gallery

    return set(cli.commands) | set(gallery.commands)


_SUBCOMMANDS = _subcommand_names()
