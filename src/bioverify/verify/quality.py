"""Is a probe like the samples its calibration was measured on?

A calibration records the range (1st to 99th percentile) of each numeric quality value of
its samples (``Calibration.quality_ranges``: face size, detector score, speech seconds…).
A probe outside that range is in conditions the error rates were never measured in: the
result says so, value by value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: units printed after each quality value
_UNITS = {"face_size": " px", "speech_seconds": " s", "snr_db": " dB", "sample_rate": " Hz"}


def outside_range(
    quality: Mapping[str, Any], ranges: Mapping[str, tuple[float, float]]
) -> list[str]:
    """One sentence per quality value of ``quality`` outside its calibrated range.

    Examples
    --------
    >>> outside_range({"face_size": 24, "mode": "detect"}, {"face_size": (48.0, 310.0)})
    ['face_size 24 px is below the 48-310 px the calibration was measured on']
    >>> outside_range({"face_size": 120}, {"face_size": (48.0, 310.0)})
    []
    """
    warnings = []
    for key, (low, high) in ranges.items():
        value = quality.get(key)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if low <= value <= high:
            continue
        unit = _UNITS.get(key, "")
        side = "below" if value < low else "above"
        warnings.append(
            f"{key} {value:.3g}{unit} is {side} the {low:.3g}-{high:.3g}{unit} the "
            "calibration was measured on"
        )
    return warnings


__all__ = ["outside_range"]
