"""Thresholds that depend on sample quality (a quality-measure function, as in QMF).

One threshold cannot keep a FAR promise across conditions: blurred photos and noisy
recordings make impostors score higher, so the threshold that holds FAR = 1 % on them is
stricter than sharp photos or clean speech need — and the threshold of clean samples lets
too many noisy impostors through. Here every trial gets the quality of the *worse* of its two
samples on one measure (face ``sharpness``, voice ``snr_db``…); the trials are cut into bins
of that quality with equal numbers of impostor trials, and each FAR threshold is measured
again within each bin (held in the worst condition there, as the pooled one is). A worse bin
never gets a lower threshold than a better one. A bin with too few impostor trials for a
target (rule of three), an FRR target, and a trial whose quality is unknown all keep the
pooled threshold.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from bioverify.calibration.conditions import (
    ConditionReport,
    RatesAt,
    rates_at_points,
    rates_in_condition,
)
from bioverify.calibration.intervals import DEFAULT_INTERVALS, IntervalSettings
from bioverify.calibration.operating_points import OperatingPoint, hold_in_every_condition
from bioverify.calibration.roc import RocCurve, eer, rule_of_three_count, threshold_at_far
from bioverify.errors import CalibrationError, InvalidInput

#: the quality measure each modality's thresholds follow by default
DEFAULT_MEASURES = {"face": "sharpness", "voice": "snr_db"}


@dataclass(frozen=True)
class QualityBins:
    """FAR thresholds per bin of the worse sample's quality.

    Attributes
    ----------
    measure : str
        The quality value the bins cut (a key of ``Acquired.quality``).
    edges : tuple of float
        The inner bin edges, increasing: bin ``k`` holds qualities in
        ``[edges[k-1], edges[k])`` (the first and last bins are open-ended).
    bins : list of ConditionReport
        One per bin, the worst quality first: its trial counts and EER, and at each
        operating point the bin's own threshold with the FAR and FRR measured there.

    Examples
    --------
    >>> rates = [RatesAt("FAR=0.01", t, 0.01, (0.005, 0.02), 0.1, (0.05, 0.2)) for t in (0.8, 0.6)]
    >>> bins = QualityBins("snr_db", (15.0,), [
    ...     ConditionReport("snr_db < 15", 50, 5000, 0.1, [rates[0]]),
    ...     ConditionReport("snr_db >= 15", 50, 5000, 0.05, [rates[1]])])
    >>> bins.rates("FAR=0.01", 8.0).threshold, bins.rates("FAR=0.01", 30.0).threshold
    (0.8, 0.6)
    >>> bins.rates("FAR=0.01", None) is None
    True
    """

    measure: str
    edges: tuple[float, ...]
    bins: list[ConditionReport]

    def bin_for(self, quality: float | None) -> ConditionReport | None:
        """The bin of a pair whose worse sample has ``quality`` (``None``: unknown)."""
        if quality is None or not math.isfinite(quality):
            return None
        return self.bins[bisect.bisect_right(self.edges, quality)]

    def rates(self, label: str, quality: float | None) -> RatesAt | None:
        """The threshold and rates of the operating point ``label`` for a pair whose worse
        sample has ``quality`` (``None``: unknown quality, or no such point)."""
        found = self.bin_for(quality)
        return None if found is None else found.rates_for(label)

    def indices(self, quality: ArrayLike) -> np.ndarray:
        """Each trial's bin number for worse-sample ``quality`` (``-1``: unknown, NaN)."""
        return bin_indices(self.edges, quality)

    def thresholds(self, label: str, quality: ArrayLike, default: float) -> np.ndarray:
        """Each trial's threshold at ``label``: its bin's, or ``default`` where the quality
        is unknown (NaN) or the bins do not hold ``label``."""
        index = self.indices(quality)
        per_bin = [r.threshold if (r := b.rates_for(label)) else default for b in self.bins]
        return np.append(np.asarray(per_bin, dtype=np.float64), float(default))[index]

    def to_dict(self) -> dict[str, Any]:
        return {
            "measure": self.measure,
            "edges": list(self.edges),
            "bins": [b.to_dict() for b in self.bins],
        }

    @classmethod
    def from_dict(cls, data: Any) -> QualityBins:
        if not isinstance(data, Mapping) or set(data) != {"measure", "edges", "bins"}:
            raise CalibrationError("quality_bins must be an object of measure, edges and bins")
        measure, edges, bins = data["measure"], data["edges"], data["bins"]
        if not isinstance(measure, str) or not measure:
            raise CalibrationError("quality_bins.measure must be a non-empty string")
        numbers = isinstance(edges, list) and all(
            isinstance(e, int | float) and not isinstance(e, bool) and math.isfinite(e)
            for e in edges
        )
        if not numbers or any(a >= b for a, b in itertools.pairwise(edges)):
            raise CalibrationError("quality_bins.edges must be increasing finite numbers")
        if not isinstance(bins, list) or len(bins) != len(edges) + 1:
            raise CalibrationError("quality_bins needs one bin more than it has edges")
        return cls(
            measure, tuple(float(e) for e in edges), [ConditionReport.from_dict(b) for b in bins]
        )


def bin_indices(edges: Sequence[float], quality: ArrayLike) -> np.ndarray:
    """The bin of each quality between ``edges`` (bin ``k``: ``[edges[k-1], edges[k])``);
    ``-1`` for an unknown (NaN) quality.

    Examples
    --------
    >>> bin_indices([10.0, 20.0], [5.0, 10.0, 25.0, float("nan")]).tolist()
    [0, 1, 2, -1]
    """
    q = np.asarray(quality, dtype=np.float64)
    index = np.searchsorted(np.asarray(edges, dtype=np.float64), q, side="right")
    return np.where(np.isfinite(q), index, -1)


def pair_quality(a: Mapping[str, Any], b: Mapping[str, Any], measure: str) -> float | None:
    """The worse (lower) of two samples' ``measure``, or ``None`` when either lacks it.

    Examples
    --------
    >>> pair_quality({"snr_db": 30.0}, {"snr_db": 12.5}, "snr_db")
    12.5
    >>> pair_quality({"snr_db": 30.0}, {}, "snr_db") is None
    True
    """
    values = [q.get(measure) for q in (a, b)]
    numbers = [float(v) for v in values if isinstance(v, int | float) and not isinstance(v, bool)]
    if len(numbers) < 2:
        return None
    worse = min(numbers)
    return worse if math.isfinite(worse) else None


def trial_thresholds(
    points: Sequence[OperatingPoint], bins: QualityBins | None, quality: ArrayLike | None
) -> list[np.ndarray] | None:
    """Each point's threshold for every trial of worse-sample ``quality`` (``None`` when
    the thresholds do not depend on quality)."""
    if bins is None or quality is None:
        return None
    return [bins.thresholds(op.label, quality, op.threshold) for op in points]


def _bin_name(measure: str, edges: Sequence[float], k: int) -> str:
    if k == 0:
        return f"{measure} < {edges[0]:.3g}"
    if k == len(edges):
        return f"{measure} >= {edges[-1]:.3g}"
    return f"{edges[k - 1]:.3g} <= {measure} < {edges[k]:.3g}"


def fit_quality_bins(
    scores: np.ndarray,
    genuine: np.ndarray,
    quality: ArrayLike,
    measure: str,
    points: Sequence[OperatingPoint],
    *,
    n_bins: int = 4,
    conditions: ArrayLike | None = None,
    subject_a: ArrayLike | None = None,
    subject_b: ArrayLike | None = None,
    settings: IntervalSettings = DEFAULT_INTERVALS,
) -> QualityBins | None:
    """Measure :class:`QualityBins` for the operating points ``points`` (the pooled ones).

    ``quality`` is each trial's worse-sample quality (NaN: unknown; those trials only
    count in the pooled points). Edges are the impostor qualities' ``k / n_bins``
    quantiles. Returns ``None`` when the known qualities do not make two bins.

    Examples
    --------
    >>> from bioverify.calibration import operating_points
    >>> rng = np.random.default_rng(0)
    >>> q = np.repeat([5.0, 30.0], 6000)             # noisy pairs, then clean ones
    >>> g = np.tile(np.arange(6000) < 1000, 2)
    >>> shift = np.where(q < 10, 1.0, 0.0)            # noisy impostors score higher
    >>> s = np.where(g, rng.normal(3, 1, 12000), rng.normal(0, 1, 12000) + shift)
    >>> points = operating_points(s, g, target_fars=[0.01])
    >>> bins = fit_quality_bins(s, g, q, "snr_db", points, n_bins=2)
    >>> [b.name for b in bins.bins]
    ['snr_db < 17.5', 'snr_db >= 17.5']
    >>> [round(b.rates[0].far, 3) for b in bins.bins]  # each near 1 %, not 2 % and 0.2 %
    [0.01, 0.01]
    """
    s = np.asarray(scores, dtype=np.float64)
    g = np.asarray(genuine, dtype=bool)
    q = np.asarray(quality, dtype=np.float64)
    if not (s.shape == g.shape == q.shape) or s.ndim != 1:
        raise InvalidInput("scores, labels and qualities must be 1-D and of equal length")
    known = np.isfinite(q)
    impostor_q = q[known & ~g]
    if impostor_q.size == 0 or n_bins < 2:
        return None
    edges = _edges(impostor_q, n_bins)
    if not edges:
        return None
    index = bin_indices(edges, q)
    names = None if conditions is None else np.asarray(conditions)
    a = None if subject_a is None else np.asarray(subject_a)
    b = None if subject_b is None else np.asarray(subject_b)
    fars = [op.target_far for op in points if op.target_far is not None]
    pooled = [op.threshold for op in points if op.target_far is not None]
    per_bin = []
    for k in range(len(edges) + 1):
        mine = index == k
        per_bin.append(_bin_thresholds(s[mine], g[mine], names, mine, fars, pooled))
    for k in range(len(per_bin) - 2, -1, -1):  # a worse bin is never more lenient
        per_bin[k] = [max(t, better) for t, better in zip(per_bin[k], per_bin[k + 1], strict=True)]
    bins = []
    for k, far_thresholds in enumerate(per_bin):
        mine = index == k
        own = iter(far_thresholds)
        thresholds = [next(own) if op.target_far is not None else op.threshold for op in points]
        subjects = (a[mine], b[mine]) if a is not None and b is not None else (None, None)
        if subjects[0] is not None and np.unique(subjects[0]).size < 2:
            subjects = (None, None)
        name = _bin_name(measure, edges, k)
        sa, sb = subjects
        bins.append(_measured(name, s[mine], g[mine], points, thresholds, sa, sb, settings))
    return QualityBins(measure, edges, bins)


def _edges(impostor_q: np.ndarray, n_bins: int) -> tuple[float, ...]:
    """The impostor qualities' ``k / n_bins`` quantiles, each kept only if it leaves
    impostor trials in the bin below it and above it (no empty bin)."""
    edges: list[float] = []
    for e in np.unique(np.quantile(impostor_q, np.arange(1, n_bins) / n_bins)).tolist():
        below = impostor_q >= (edges[-1] if edges else -np.inf)
        if (below & (impostor_q < e)).any() and (impostor_q >= e).any():
            edges.append(float(e))
    return tuple(edges)


def _bin_thresholds(
    s: np.ndarray,
    g: np.ndarray,
    names: np.ndarray | None,
    mine: np.ndarray,
    fars: list[float],
    pooled: list[float],
) -> list[float]:
    """Each FAR target's threshold within one bin (held in its worst condition); the pooled
    one where the bin has too few impostor trials for the target."""
    n_impostor = int(np.count_nonzero(~g))
    if n_impostor == 0 or g.all() or not g.any():
        return list(pooled)
    curve = RocCurve.from_scores(s, g)
    own = [threshold_at_far(curve, target) for target in fars]
    if names is not None:
        own = hold_in_every_condition(s, g, names[mine], fars, [], own)
    return [
        t if n_impostor >= rule_of_three_count(target) else fallback
        for t, target, fallback in zip(own, fars, pooled, strict=True)
    ]


def _measured(
    name: str,
    s: np.ndarray,
    g: np.ndarray,
    points: Sequence[OperatingPoint],
    thresholds: list[float],
    a: np.ndarray | None,
    b: np.ndarray | None,
    settings: IntervalSettings,
) -> ConditionReport:
    """One bin's counts, EER and the rates at its own thresholds."""
    n_genuine = int(np.count_nonzero(g))
    far, frr, far_ci, frr_ci = rates_in_condition(s, g, thresholds, a, b, settings)
    own = [replace(op, threshold=t) for op, t in zip(points, thresholds, strict=True)]
    both = 0 < n_genuine < g.size
    return ConditionReport(
        name=name,
        n_genuine=n_genuine,
        n_impostor=int(g.size - n_genuine),
        eer=eer(RocCurve.from_scores(s, g)).eer if both else None,
        rates=rates_at_points(own, far, frr, far_ci, frr_ci),
    )


__all__ = [
    "DEFAULT_MEASURES",
    "QualityBins",
    "bin_indices",
    "fit_quality_bins",
    "pair_quality",
    "trial_thresholds",
]
