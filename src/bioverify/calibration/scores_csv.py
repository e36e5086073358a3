"""Reading trial score tables: ``score,label[,subject_a,subject_b][,condition]`` CSV files.

The header names the columns (any order, case and surrounding spaces ignored, extra columns
ignored); ``label`` is ``1`` for a genuine trial and ``0`` for an impostor trial; ``subject_a``
and ``subject_b`` (both or neither) name the two people of each trial and switch confidence
intervals to the identity bootstrap; ``condition`` names the condition each trial was
measured in (corpus, camera, degradation), for per-condition rates. Blank lines are
skipped. Row numbers in error messages count the header as row 1, so they are line numbers
when no field spans lines.

The file is parsed in chunks with the :mod:`csv` module and converted to numpy per chunk, so
millions of rows load in seconds without holding them as Python strings.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

import numpy as np

from bioverify.errors import InvalidInput

#: rows converted to numpy at a time
_CHUNK_ROWS = 65536
_REQUIRED = ("score", "label")
_SUBJECTS = ("subject_a", "subject_b")
_CONDITION = "condition"


@dataclass(frozen=True, eq=False)
class ScoreTable:
    """Trials read from a score file (what :func:`read_scores_csv` returns).

    Attributes
    ----------
    scores : numpy.ndarray
        ``float64 [N]``.
    labels : numpy.ndarray
        ``bool [N]``, True = genuine.
    subject_a, subject_b : numpy.ndarray or None
        Object arrays of str, or ``None`` without those columns.
    n_rows : int
        Trials read (blank lines are not counted).
    conditions : numpy.ndarray or None
        Object array of str, or ``None`` without a ``condition`` column.
    """

    scores: np.ndarray
    labels: np.ndarray
    subject_a: np.ndarray | None
    subject_b: np.ndarray | None
    n_rows: int
    conditions: np.ndarray | None = None


class _Problem(Exception):
    """A malformed row, raised inside the parser and turned into :class:`InvalidInput`."""


def read_scores_csv(path: str | os.PathLike[str]) -> ScoreTable:
    """Read a ``score,label[,subject_a,subject_b][,condition]`` CSV file of trials.

    Parameters
    ----------
    path : str or path-like
        A UTF-8 CSV file with a header (see the module docstring for the columns).

    Returns
    -------
    ScoreTable

    Raises
    ------
    InvalidInput
        One line naming the file and the problem: a missing file or column, a non-numeric,
        NaN or infinite score, a label other than 0/1, an empty subject id, a row with the
        wrong number of fields, only one class, or text that is not UTF-8.

    See Also
    --------
    bioverify.calibration.fit_calibration : calibrate the trials.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "scores.csv"
    >>> _ = path.write_text("score,label,subject_a,subject_b\\n"
    ...                     "0.91,1,ann,ann\\n0.12,0,ann,bob\\n0.35,0,bob,cy\\n")
    >>> table = read_scores_csv(path)
    >>> table.scores.tolist(), table.labels.tolist(), table.subject_b.tolist()
    ([0.91, 0.12, 0.35], [True, False, False], ['ann', 'bob', 'cy'])
    >>> _ = path.write_text("score,label\\n0.91,yes\\n")
    >>> read_scores_csv(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bioverify.errors.InvalidInput: scores file ...scores.csv: row 2: ...
    """
    source = Path(path)
    try:
        handle = source.open(newline="", encoding="utf-8-sig")
    except FileNotFoundError as exc:
        raise InvalidInput(f"scores file {source} does not exist") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot open scores file {source}: {exc.strerror or exc}") from exc
    reader = csv.reader(handle)
    try:
        with handle:
            return _parse(reader)
    except _Problem as exc:
        raise InvalidInput(f"scores file {source}: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(
            f"scores file {source} is not UTF-8 text (bad byte at offset {exc.start}); "
            "save it as UTF-8 CSV"
        ) from exc
    except csv.Error as exc:
        raise InvalidInput(f"scores file {source}: row {reader.line_num}: {exc}") from exc
    except OSError as exc:
        raise InvalidInput(f"cannot read scores file {source}: {exc.strerror or exc}") from exc


def _columns(header: list[str]) -> dict[str, int]:
    names = [name.strip().lower() for name in header]
    found = {}
    for wanted in (*_REQUIRED, *_SUBJECTS, _CONDITION):
        positions = [i for i, name in enumerate(names) if name == wanted]
        if len(positions) > 1:
            raise _Problem(f"the header names the column {wanted!r} {len(positions)} times")
        if positions:
            found[wanted] = positions[0]
    missing = [name for name in _REQUIRED if name not in found]
    if missing:
        shown = ",".join(header)[:80]
        raise _Problem(
            f"the header has no {' or '.join(repr(m) for m in missing)} column (first line: "
            f"{shown!r}); the first line must name the columns, e.g. score,label"
        )
    if ("subject_a" in found) != ("subject_b" in found):
        raise _Problem("give both subject_a and subject_b columns, or neither")
    return found


def _chunks(reader: Iterator[list[str]], width: int) -> Iterator[tuple[list[list[str]], list[int]]]:
    """Chunks of non-blank rows and their row numbers (header = row 1)."""
    row = 1
    while chunk := list(islice(reader, _CHUNK_ROWS)):
        numbers = range(row + 1, row + 1 + len(chunk))
        row += len(chunk)
        if set(map(len, chunk)) == {width}:
            yield chunk, list(numbers)
            continue
        kept, kept_numbers = [], []
        for fields, number in zip(chunk, numbers, strict=True):
            if len(fields) == width:
                kept.append(fields)
                kept_numbers.append(number)
            elif any(value.strip() for value in fields):
                raise _Problem(
                    f"row {number} has {len(fields)} field(s) but the header has {width}"
                )
        yield kept, kept_numbers


def _scores(values: list[str], numbers: list[int]) -> np.ndarray:
    try:
        return np.array(values, dtype=np.float64)
    except ValueError:
        for value, number in zip(values, numbers, strict=True):
            try:
                float(value)
            except ValueError:
                raise _Problem(f"row {number}: score {value!r} is not a number") from None
        raise


def _labels(values: list[str], numbers: list[int]) -> np.ndarray:
    distinct = set(values)
    if not distinct <= {"0", "1"}:
        clean = {value: value.strip() for value in distinct}
        if not set(clean.values()) <= {"0", "1"}:
            for value, number in zip(values, numbers, strict=True):
                if clean[value] not in ("0", "1"):
                    raise _Problem(
                        f"row {number}: label {value!r} is not 0 (impostor) or 1 (genuine)"
                    )
        values = [clean[value] for value in values]
    return np.array(values, dtype="U1") == "1"


def _names(
    values: list[str], numbers: list[int], name: str, canonical: dict[str, str]
) -> np.ndarray:
    """Subject ids or condition names as an object array; ``canonical`` maps each raw field
    to one shared, stripped string, so millions of rows hold only as many strings as there
    are distinct names."""
    for value in set(values) - canonical.keys():
        canonical[value] = value.strip()
    if "" in canonical.values():
        for value, number in zip(values, numbers, strict=True):
            if not canonical[value]:
                raise _Problem(f"row {number}: {name} is empty; every trial needs one")
    out = np.empty(len(values), dtype=object)
    out[:] = [canonical[value] for value in values]
    return out


def _parse(reader: Iterator[list[str]]) -> ScoreTable:
    header = next(reader, None)
    if header is None:
        raise _Problem("the file is empty; it needs a header line (score,label) and rows")
    columns = _columns(header)
    has_subjects = "subject_a" in columns
    score_parts: list[np.ndarray] = []
    label_parts: list[np.ndarray] = []
    subject_a_parts: list[np.ndarray] = []
    subject_b_parts: list[np.ndarray] = []
    condition_parts: list[np.ndarray] = []
    canonical: dict[str, str] = {}
    condition_names: dict[str, str] = {}
    n_bad, first_bad = 0, 0
    for rows, numbers in _chunks(reader, len(header)):
        if not rows:
            continue
        scores = _scores([fields[columns["score"]] for fields in rows], numbers)
        bad = ~np.isfinite(scores)
        if bad.any():
            if not n_bad:
                first_bad = numbers[int(np.argmax(bad))]
            n_bad += int(np.count_nonzero(bad))
        score_parts.append(scores)
        label_parts.append(_labels([fields[columns["label"]] for fields in rows], numbers))
        if has_subjects:
            for name, parts in (("subject_a", subject_a_parts), ("subject_b", subject_b_parts)):
                values = [fields[columns[name]] for fields in rows]
                parts.append(_names(values, numbers, name, canonical))
        if _CONDITION in columns:
            values = [fields[columns[_CONDITION]] for fields in rows]
            condition_parts.append(_names(values, numbers, _CONDITION, condition_names))
    if not score_parts:
        raise _Problem("the file has a header but no rows")
    if n_bad:
        raise _Problem(
            f"{n_bad} score(s) are NaN or infinite (first at row {first_bad}); "
            "remove or fix those trials"
        )
    scores = np.concatenate(score_parts)
    labels = np.concatenate(label_parts)
    n_genuine = int(np.count_nonzero(labels))
    if n_genuine == 0:
        raise _Problem(f"all {labels.size} trials are impostor (label 0); need genuine (1) too")
    if n_genuine == labels.size:
        raise _Problem(f"all {labels.size} trials are genuine (label 1); need impostor (0) too")
    return ScoreTable(
        scores,
        labels,
        np.concatenate(subject_a_parts) if has_subjects else None,
        np.concatenate(subject_b_parts) if has_subjects else None,
        int(scores.size),
        np.concatenate(condition_parts) if condition_parts else None,
    )


def read_score_column(path: str | os.PathLike[str]) -> np.ndarray:
    """The ``score`` column of a CSV (other columns, labels included, are ignored): the
    unlabelled production scores a drift check reads. Raises :class:`InvalidInput` with one
    line naming the file and the problem (missing file or column, a non-number, NaN).

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
    ...     _ = f.write("time,score\\n09:00,0.31\\n09:01,0.77\\n")
    >>> read_score_column(f.name).tolist()
    [0.31, 0.77]
    """
    source = Path(path)
    try:
        with source.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = [name.strip().lower() for name in next(reader, [])]
            if "score" not in header:
                raise InvalidInput(f"scores file {source}: the header has no 'score' column")
            column = header.index("score")
            values, numbers = [], []
            for number, fields in enumerate(reader, start=2):
                if not any(value.strip() for value in fields):
                    continue
                if len(fields) <= column:
                    raise InvalidInput(f"scores file {source}: row {number} has no score")
                values.append(fields[column])
                numbers.append(number)
    except FileNotFoundError as exc:
        raise InvalidInput(f"scores file {source} does not exist") from exc
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"scores file {source} is not UTF-8 text") from exc
    except (OSError, csv.Error) as exc:
        raise InvalidInput(f"cannot read scores file {source}: {exc}") from exc
    try:
        scores = _scores(values, numbers)
    except _Problem as exc:
        raise InvalidInput(f"scores file {source}: {exc}") from exc
    if not np.all(np.isfinite(scores)):
        raise InvalidInput(f"scores file {source}: NaN or infinite scores")
    return scores


__all__ = ["ScoreTable", "read_score_column", "read_scores_csv"]
