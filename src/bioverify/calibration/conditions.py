"""Error rates per condition: what a threshold does on each corpus, camera or degradation.

A threshold measured on one population does not transfer to another. A calibration fitted
on trials from several conditions (each shared corpus; photos as they come and blurred,
compressed, dark, small; audio at 8 kHz, through a codec, in noise…) records, for every
condition, the FAR and FRR that each shipped threshold gives there, with intervals — so the
spread is visible, and the operating points can be made to hold in the worst condition
(:func:`~bioverify.calibration.operating_points.hold_in_every_condition`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from bioverify.calibration.intervals import IntervalSettings, clopper_pearson
from bioverify.calibration.operating_points import OperatingPoint, rates_with_intervals
from bioverify.calibration.roc import RocCurve, eer
from bioverify.errors import CalibrationError, InvalidInput


@dataclass(frozen=True)
class RatesAt:
    """FAR and FRR measured at one operating point's threshold, with 95 % intervals."""

    label: str
    threshold: float
    far: float
    far_ci: tuple[float, float]
    frr: float
    frr_ci: tuple[float, float]

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "threshold": "inf" if math.isinf(self.threshold) else self.threshold,
            "far": self.far,
            "far_ci": list(self.far_ci),
            "frr": self.frr,
            "frr_ci": list(self.frr_ci),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RatesAt:
        try:
            threshold = data["threshold"]
            return cls(
                label=_text(data["label"], "label"),
                threshold=math.inf if threshold == "inf" else _finite(threshold, "threshold"),
                far=_rate(data["far"], "far"),
                far_ci=_interval(data["far_ci"], "far_ci"),
                frr=_rate(data["frr"], "frr"),
                frr_ci=_interval(data["frr_ci"], "frr_ci"),
            )
        except (KeyError, TypeError) as exc:
            raise CalibrationError(f"malformed rates entry ({exc!r})") from exc


@dataclass(frozen=True)
class ConditionReport:
    """One condition's trials: counts, EER, and the rates at each shipped threshold."""

    name: str
    n_genuine: int
    n_impostor: int
    eer: float | None
    rates: list[RatesAt]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
            "eer": self.eer,
            "rates": [r.to_dict() for r in self.rates],
        }

    @classmethod
    def from_dict(cls, data: Any) -> ConditionReport:
        if not isinstance(data, Mapping):
            raise CalibrationError("a condition must be a JSON object")
        try:
            eer_value = data["eer"]
            rates = data["rates"]
            if not isinstance(rates, list):
                raise CalibrationError("a condition's rates must be a list")
            return cls(
                name=_text(data["name"], "name"),
                n_genuine=_count(data["n_genuine"], "n_genuine"),
                n_impostor=_count(data["n_impostor"], "n_impostor"),
                eer=None if eer_value is None else _rate(eer_value, "eer"),
                rates=[RatesAt.from_dict(r) for r in rates],
            )
        except (KeyError, TypeError) as exc:
            raise CalibrationError(f"malformed condition entry ({exc!r})") from exc

    def rates_for(self, label: str) -> RatesAt | None:
        """The rates at the operating point ``label`` (``None`` if not measured)."""
        return next((r for r in self.rates if r.label == label), None)


def rates_at_points(
    points: Sequence[OperatingPoint],
    far: np.ndarray,
    frr: np.ndarray,
    far_ci: np.ndarray,
    frr_ci: np.ndarray,
) -> list[RatesAt]:
    """:class:`RatesAt` per operating point from the arrays of
    :func:`~bioverify.calibration.operating_points.rates_with_intervals`."""
    return [
        RatesAt(
            op.label,
            op.threshold,
            float(far[k]),
            (float(far_ci[k, 0]), float(far_ci[k, 1])),
            float(frr[k]),
            (float(frr_ci[k, 0]), float(frr_ci[k, 1])),
        )
        for k, op in enumerate(points)
    ]


def measure_conditions(
    scores: ArrayLike,
    genuine: ArrayLike,
    conditions: ArrayLike,
    points: Sequence[OperatingPoint],
    subject_a: ArrayLike | None = None,
    subject_b: ArrayLike | None = None,
    *,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    per_trial: Sequence[np.ndarray] | None = None,
) -> list[ConditionReport]:
    """The rates each operating point's threshold gives in each condition, worst FAR first.

    Parameters
    ----------
    scores : array-like of float
        One score per trial.
    genuine : array-like of bool
        True for a genuine trial.
    conditions : array-like of str
        The condition of every trial (corpus, camera, degradation…).
    points : sequence of OperatingPoint
        The thresholds to measure (``Calibration.operating_points``).
    subject_a, subject_b : array-like, optional
        Each trial's two identities: intervals are then bootstrapped by identity in every
        condition with at least two subjects, else Clopper–Pearson.
    confidence, n_resamples, seed
        Of the intervals and the bootstrap.
    per_trial : sequence of numpy.ndarray, optional
        Each point's threshold for every trial, where it depends on the trial
        (quality-dependent thresholds, :mod:`bioverify.calibration.quality_bins`); the
        rates are then those of the decisions each trial really gets.

    Returns
    -------
    list of ConditionReport
        One per condition, sorted by the FAR at the first point, worst first. A condition
        with no genuine (or no impostor) trial gets ``eer=None`` and rates of the class it
        has.

    Raises
    ------
    InvalidInput
        Scores, labels and conditions not 1-D or of different lengths.

    Examples
    --------
    >>> from bioverify.calibration import fit_calibration
    >>> rng = np.random.default_rng(0)
    >>> s = np.concatenate([rng.normal(2, 1, 200), rng.normal(0, 1, 2000)])
    >>> g = np.arange(s.size) < 200
    >>> c = np.where(np.arange(s.size) % 2 == 0, "clean", "noisy")
    >>> cal = fit_calibration(s, g, target_fars=[0.01], force=True)
    >>> reports = measure_conditions(s, g, c, cal.operating_points)
    >>> sorted((r.name, r.n_genuine, r.n_impostor) for r in reports)
    [('clean', 100, 1000), ('noisy', 100, 1000)]
    """
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(genuine, dtype=bool)
    names = np.asarray(conditions)
    if not (s.shape == g.shape == names.shape) or s.ndim != 1:
        raise InvalidInput("scores, labels and conditions must be 1-D and of equal length")
    a = None if subject_a is None else np.asarray(subject_a)
    b = None if subject_b is None else np.asarray(subject_b)
    thresholds = [op.threshold for op in points]
    reports = []
    for name in sorted(np.unique(names).tolist()):
        mine = names == name
        gm = g[mine]
        n_genuine = int(np.count_nonzero(gm))
        n_impostor = int(gm.size - n_genuine)
        # a resample needs both kinds of trial in enough subjects: otherwise Clopper–Pearson
        by_subject = a is not None and b is not None and len(np.unique(a[mine])) > 1
        subjects = (
            a[mine] if by_subject and a is not None else None,
            b[mine] if by_subject and b is not None else None,
        )
        settings = IntervalSettings(confidence, n_resamples, seed)
        if per_trial is None:
            far, frr, far_ci, frr_ci = rates_in_condition(
                s[mine], gm, thresholds, *subjects, settings
            )
        else:  # a trial's own threshold t_i: s_i >= t_i exactly when s_i - t_i + t >= t
            each = [
                rates_in_condition(s[mine] - own[mine] + t, gm, [t], *subjects, settings)
                for own, t in zip(per_trial, thresholds, strict=True)
            ]
            far, frr, far_ci, frr_ci = (np.concatenate([e[i] for e in each]) for i in range(4))
        both = n_genuine > 0 and n_impostor > 0
        reports.append(
            ConditionReport(
                name=str(name),
                n_genuine=n_genuine,
                n_impostor=n_impostor,
                eer=eer(RocCurve.from_scores(s[mine], gm)).eer if both else None,
                rates=rates_at_points(points, far, frr, far_ci, frr_ci),
            )
        )
    first = points[0].label if points else None
    return sorted(reports, key=lambda r: -_far_of(r, first))


def rates_in_condition(
    s: np.ndarray,
    g: np.ndarray,
    thresholds: list[float],
    a: np.ndarray | None,
    b: np.ndarray | None,
    settings: IntervalSettings,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """FAR and FRR with intervals at ``thresholds`` among one condition's trials
    (identity-bootstrap when subjects ``a`` and ``b`` are given and allow it, else
    Clopper–Pearson); the rate of a class with no trials reads 0 with the uninformative
    interval (0, 1)."""
    if g.all() or not g.any():
        accepted = np.array([np.count_nonzero(s >= t) for t in thresholds], dtype=np.int64)
        low, high = clopper_pearson(accepted, s.size)
        share = accepted / s.size
        unknown = np.tile([0.0, 1.0], (len(thresholds), 1))
        nothing = np.zeros(len(thresholds))
        if g.all():  # genuine trials only: FRR = rejected share
            return nothing, 1.0 - share, unknown, np.column_stack([1.0 - high, 1.0 - low])
        return share, nothing, np.column_stack([low, high]), unknown
    try:
        far, frr, far_ci, frr_ci, _ = rates_with_intervals(
            s, g, thresholds, a, b, settings=settings
        )
    except InvalidInput:  # too few subjects for a bootstrap: count-based intervals
        far, frr, far_ci, frr_ci, _ = rates_with_intervals(s, g, thresholds)
    return far, frr, far_ci, frr_ci


def _far_of(report: ConditionReport, label: str | None) -> float:
    rates = report.rates_for(label) if label is not None else None
    return rates.far if rates is not None else 0.0


def worst_far(reports: Sequence[ConditionReport], label: str) -> ConditionReport | None:
    """The condition with the highest measured FAR at ``label`` (impostor trials only)."""
    measured = [r for r in reports if r.n_impostor > 0 and r.rates_for(label) is not None]
    return max(measured, key=lambda r: _far_of(r, label), default=None)


def _text(value: Any, name: str) -> str:
    if not isinstance(value, str) or not value:
        raise CalibrationError(f"{name} must be a non-empty string, got {value!r}")
    return value


def _finite(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CalibrationError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def _rate(value: Any, name: str) -> float:
    number = _finite(value, name)
    if not 0.0 <= number <= 1.0:
        raise CalibrationError(f"{name} must be in [0, 1], got {value!r}")
    return number


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise CalibrationError(f"{name} must be a count (an integer >= 0), got {value!r}")
    return value


def _interval(value: Any, name: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise CalibrationError(f"{name} must be [low, high], got {value!r}")
    low, high = _rate(value[0], name), _rate(value[1], name)
    if low > high:
        raise CalibrationError(f"{name} has low {low} > high {high}")
    return low, high


__all__ = ["ConditionReport", "RatesAt", "measure_conditions", "rates_at_points", "worst_far"]
