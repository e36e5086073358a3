"""The JSON form shared by bioverify's plain records: every field, as it is."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any


class FieldsToDict:
    """Mixin of a dataclass whose JSON form is its fields (nested dataclasses become dicts).

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True)
    ... class Point(FieldsToDict):
    ...     x: int
    ...     y: int
    >>> Point(1, 2).to_dict()
    {'x': 1, 'y': 2}
    """

    def to_dict(self) -> dict[str, Any]:
        """Every field, as :func:`dataclasses.asdict` gives them: JSON-ready."""
        record: Any = self
        return asdict(record)
