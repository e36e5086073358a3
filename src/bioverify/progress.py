"""Progress of long work: a bar on a terminal, plain periodic lines everywhere else.

A progress bar redrawn in place is right for a person at a terminal and useless in a log
file or a CI job, which see nothing for as long as the work lasts. :class:`Progress` draws a
tqdm bar when its stream is a terminal; otherwise it writes one plain line every
``interval`` seconds (30 by default) with the count, the rate, the estimated time left and
any fields set with :meth:`Progress.set_postfix` — and nothing at all for work that ends
before the first interval, so quick commands stay quiet.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from types import TracebackType
from typing import IO, Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")

#: seconds between two plain progress lines
DEFAULT_INTERVAL = 30.0


def format_seconds(seconds: float) -> str:
    """``h:mm:ss`` or ``m:ss``.

    Examples
    --------
    >>> format_seconds(75), format_seconds(4000)
    ('1:15', '1:06:40')
    """
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Counts work done; shows it as a bar on a terminal, as plain lines elsewhere.

    Parameters
    ----------
    total : int, optional
        Units of work in all (``None`` when unknown: no percentage or time left).
    desc : str
        What is being done, e.g. ``"epoch 3/10"``.
    unit : str
        The unit counted, e.g. ``"step"``.
    initial : int
        Units already done (a resumed run).
    enabled : bool
        ``False`` shows nothing.
    interval : float
        Seconds between plain lines.
    stream : file, optional
        Where to write (default ``sys.stderr``).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with Progress(total=4, desc="hashing", unit="file", interval=0, stream=out) as bar:
    ...     bar.update(2)
    >>> out.getvalue().splitlines()[0].split(",")[0]
    'hashing: 2/4 file (50 %)'
    """

    def __init__(
        self,
        total: int | None = None,
        desc: str = "",
        unit: str = "it",
        initial: int = 0,
        enabled: bool = True,
        interval: float = DEFAULT_INTERVAL,
        stream: IO[str] | None = None,
    ) -> None:
        self.total = total
        self.desc = desc
        self.unit = unit
        self.count = initial
        self.enabled = enabled
        self.interval = interval
        self.stream = stream if stream is not None else sys.stderr
        self._initial = initial
        self._postfix: dict[str, Any] = {}
        self._started = time.monotonic()
        self._last_line = self._started
        self._bar: tqdm[Any] | None = None
        if enabled and _is_terminal(self.stream):
            self._bar = tqdm(
                total=total,
                initial=initial,
                desc=desc,
                unit=unit,
                dynamic_ncols=True,
                file=self.stream,
            )

    def update(self, n: int = 1) -> None:
        """``n`` more units done."""
        self.count += n
        if self._bar is not None:
            self._bar.update(n)
            return
        now = time.monotonic()
        if self.enabled and now - self._last_line >= self.interval:
            self._last_line = now
            self.stream.write(self.line(now) + "\n")
            self.stream.flush()

    def set_postfix(self, **fields: Any) -> None:
        """Fields shown after the count (``loss="0.42"``)."""
        self._postfix = fields
        if self._bar is not None:
            self._bar.set_postfix(**fields)

    def line(self, now: float | None = None) -> str:
        """The plain progress line: count, share, rate, time left, fields."""
        elapsed = (time.monotonic() if now is None else now) - self._started
        done = self.count - self._initial
        rate = done / elapsed if elapsed > 0 else 0.0
        text = f"{self.desc}: {self.count}"
        if self.total:
            text += f"/{self.total} {self.unit} ({100 * self.count / self.total:.0f} %)"
        else:
            text += f" {self.unit}"
        text += f", {rate:.3g} {self.unit}/s, elapsed {format_seconds(elapsed)}"
        if self.total and rate > 0:
            text += f", ETA {format_seconds((self.total - self.count) / rate)}"
        text += "".join(f", {key} {value}" for key, value in self._postfix.items())
        return text

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def __enter__(self) -> Progress:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def progress_iter(
    items: Iterable[T],
    desc: str,
    unit: str = "it",
    total: int | None = None,
    enabled: bool = True,
) -> Iterator[T]:
    """``items``, counted by a :class:`Progress` (``total`` defaults to ``len(items)``).

    Examples
    --------
    >>> list(progress_iter([1, 2, 3], "summing", enabled=False))
    [1, 2, 3]
    """
    if total is None and hasattr(items, "__len__"):
        total = len(items)  # type: ignore[arg-type]
    with Progress(total=total, desc=desc, unit=unit, enabled=enabled) as bar:
        for item in items:
            yield item
            bar.update(1)


def _is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


__all__ = ["DEFAULT_INTERVAL", "Progress", "format_seconds", "progress_iter"]
