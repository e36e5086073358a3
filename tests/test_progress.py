"""Progress: a bar on a terminal, plain periodic lines in logs, silence for quick work."""

from __future__ import annotations

import io

import pytest

from bioverify import progress
from bioverify.progress import Progress, progress_iter


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _Clock:
    fake = _Clock()
    monkeypatch.setattr(progress.time, "monotonic", fake)
    return fake


def test_plain_lines_every_interval_with_rate_and_eta(clock: _Clock) -> None:
    out = io.StringIO()
    with Progress(total=100, desc="epoch 1/3", unit="step", interval=30, stream=out) as bar:
        for _ in range(10):
            clock.now += 2.0
            bar.update()
        bar.set_postfix(loss="0.420")
        for _ in range(10):
            clock.now += 2.0
            bar.update()
    lines = out.getvalue().splitlines()
    # 40 s of work with a 30 s interval: one line, at the 15th step (30 s)
    assert lines == [
        "epoch 1/3: 15/100 step (15 %), 0.5 step/s, elapsed 0:30, ETA 2:50, loss 0.420"
    ]


def test_quick_work_prints_nothing_off_a_terminal(clock: _Clock) -> None:
    out = io.StringIO()
    assert list(progress_iter(range(5), "hashing files", "file", enabled=True)) == list(range(5))
    with Progress(total=5, desc="checking", stream=out) as bar:
        bar.update(5)
    assert out.getvalue() == ""


def test_resumed_work_counts_its_rate_from_this_session(clock: _Clock) -> None:
    bar = Progress(total=10, desc="epoch 2/2", unit="step", initial=6, stream=io.StringIO())
    clock.now += 4.0
    bar.update(2)
    assert bar.line() == "epoch 2/2: 8/10 step (80 %), 0.5 step/s, elapsed 0:04, ETA 0:04"


def test_a_terminal_gets_a_bar_and_disabled_shows_nothing(clock: _Clock) -> None:
    terminal = _Terminal()
    with Progress(total=3, desc="embedding", unit="input", stream=terminal) as bar:
        bar.update(3)
    assert "embedding" in terminal.getvalue() and "3/3" in terminal.getvalue()
    silent = _Terminal()
    with Progress(total=3, desc="embedding", enabled=False, stream=silent, interval=0) as bar:
        bar.update(3)
    assert silent.getvalue() == ""
