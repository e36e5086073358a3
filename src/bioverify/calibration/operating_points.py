"""Operating points: a threshold chosen for a target FAR or FRR, its measured rates and CIs."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from bioverify.calibration.intervals import (
    DEFAULT_INTERVALS,
    IntervalSettings,
    bootstrap_rates,
    clopper_pearson,
)
from bioverify.calibration.roc import (
    RocCurve,
    rule_of_three_count,
    threshold_at_far,
    threshold_at_frr,
    validate_scores,
)
from bioverify.errors import CalibrationError, InvalidInput

CI_METHODS = ("identity-bootstrap", "clopper-pearson")


@dataclass(frozen=True)
class OperatingPoint:
    """A threshold picked for one target (FAR or FRR) and what was measured there.

    ``threshold`` may be ``+inf`` (accept nothing) when no score meets a FAR target;
    :meth:`to_dict` writes it as the string ``"inf"`` because JSON has no infinity.
    ``supported`` is the rule of three for the targeted rate (``n >= ceil(3 / target)`` trials
    of the class that rate counts).

    Attributes
    ----------
    target_far, target_frr : float or None
        The target: exactly one of them is set.
    threshold : float
        Accept ``score >= threshold``.
    far, frr : float
        The rates measured at the threshold.
    far_ci, frr_ci : tuple of float
        Their confidence intervals ``(low, high)``.
    supported : bool
        Enough trials to demonstrate the target (rule of three).
    ci_method : {"identity-bootstrap", "clopper-pearson"}
        How the intervals were computed.

    Examples
    --------
    >>> point = OperatingPoint(0.01, None, 0.93, 0.004, 0.1, (0.003, 0.005), (0.08, 0.11),
    ...                        True, "identity-bootstrap")
    >>> point.label, OperatingPoint.from_dict(point.to_dict()) == point
    ('FAR=0.01', True)
    """

    target_far: float | None
    target_frr: float | None
    threshold: float
    far: float
    frr: float
    far_ci: tuple[float, float]
    frr_ci: tuple[float, float]
    supported: bool
    ci_method: str

    @property
    def label(self) -> str:
        """``"FAR=0.001"`` or ``"FRR=0.01"``."""
        if self.target_far is not None:
            return f"FAR={self.target_far:g}"
        return f"FRR={self.target_frr:g}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-able dict (strict JSON: an infinite threshold is the string ``"inf"``)."""
        return {
            "target_far": self.target_far,
            "target_frr": self.target_frr,
            "threshold": "inf" if math.isinf(self.threshold) else self.threshold,
            "far": self.far,
            "frr": self.frr,
            "far_ci": list(self.far_ci),
            "frr_ci": list(self.frr_ci),
            "supported": self.supported,
            "ci_method": self.ci_method,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> OperatingPoint:
        """Inverse of :meth:`to_dict`; raises :class:`CalibrationError` on a malformed dict."""
        try:
            return cls(
                target_far=_optional_rate(data["target_far"], "target_far"),
                target_frr=_optional_rate(data["target_frr"], "target_frr"),
                threshold=_threshold(data["threshold"]),
                far=_rate(data["far"], "far"),
                frr=_rate(data["frr"], "frr"),
                far_ci=_interval(data["far_ci"], "far_ci"),
                frr_ci=_interval(data["frr_ci"], "frr_ci"),
                supported=_bool(data["supported"]),
                ci_method=_ci_method(data["ci_method"]),
            )
        except KeyError as exc:
            raise CalibrationError(f"operating point lacks the field {exc}") from exc

    def __post_init__(self) -> None:
        if (self.target_far is None) == (self.target_frr is None):
            raise InvalidInput("an operating point has exactly one of target_far / target_frr")


def _rate(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise CalibrationError(f"operating point field {name} must be a rate in [0, 1]")
    return float(value)


def _optional_rate(value: Any, name: str) -> float | None:
    return None if value is None else _rate(value, name)


def _threshold(value: Any) -> float:
    if value == "inf":
        return math.inf
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CalibrationError('operating point threshold must be a finite number or "inf"')
    return float(value)


def _interval(value: Any, name: str) -> tuple[float, float]:
    if not isinstance(value, list | tuple) or len(value) != 2:
        raise CalibrationError(f"operating point field {name} must be a [low, high] pair")
    lo, hi = (_rate(v, name) for v in value)
    return lo, hi


def _bool(value: Any) -> bool:
    if not isinstance(value, bool):
        raise CalibrationError("operating point field supported must be true or false")
    return value


def _ci_method(value: Any) -> str:
    if value not in CI_METHODS:
        raise CalibrationError(f"operating point ci_method must be one of {CI_METHODS}")
    return str(value)


def _check_targets(name: str, targets: Sequence[float]) -> list[float]:
    out = []
    for target in targets:
        v = float(target)
        if not 0.0 < v < 1.0:
            raise InvalidInput(f"target {name} must be in (0, 1), e.g. 0.001; got {target!r}")
        out.append(v)
    return out


def _warn_unsupported(rate: str, target: float, have: int, kind: str) -> None:
    warnings.warn(
        f"target {rate}={target:g} needs at least {rule_of_three_count(target)} {kind} trials "
        f"(rule of three) but there are {have}; the operating point is flagged unsupported",
        UserWarning,
        stacklevel=3,
    )


def rates_with_intervals(
    scores: np.ndarray,
    genuine: np.ndarray,
    thresholds: Sequence[float],
    subject_a: ArrayLike | None = None,
    subject_b: ArrayLike | None = None,
    *,
    settings: IntervalSettings = DEFAULT_INTERVALS,
    curve: RocCurve | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, str]:
    """FAR and FRR measured at each threshold (accept ``score >= t``) with their intervals.

    Identity-bootstrap intervals when ``subject_a`` and ``subject_b`` are given (never
    narrower than Clopper–Pearson's), else Clopper–Pearson on the trial counts, both at
    ``settings.confidence``. Returns
    ``(far, frr, far_ci, frr_ci, method)``; the intervals are ``[T, 2]``.

    Examples
    --------
    >>> s = np.array([0.9, 0.8, 0.3, 0.2, 0.1])
    >>> far, frr, far_ci, frr_ci, method = rates_with_intervals(
    ...     s, np.array([True, True, False, False, False]), [0.25])
    >>> far.tolist(), frr.tolist(), method
    ([0.3333333333333333], [0.0], 'clopper-pearson')
    """
    roc = RocCurve.from_scores(scores, genuine) if curve is None else curve
    idx = roc.index_at(list(thresholds))
    far = roc.far[idx]
    frr = roc.frr[idx]
    k_far = np.rint(far * roc.n_impostor).astype(np.int64)
    k_frr = np.rint(frr * roc.n_genuine).astype(np.int64)
    far_ci = np.column_stack(clopper_pearson(k_far, roc.n_impostor, settings.confidence))
    frr_ci = np.column_stack(clopper_pearson(k_frr, roc.n_genuine, settings.confidence))
    if subject_a is None or subject_b is None:
        return far, frr, far_ci, frr_ci, "clopper-pearson"
    boot_far, boot_frr = bootstrap_rates(
        scores, genuine, thresholds, subject_a, subject_b, settings
    )
    return far, frr, _union(boot_far, far_ci), _union(boot_frr, frr_ci), "identity-bootstrap"


def _union(bootstrap: np.ndarray, exact: np.ndarray) -> np.ndarray:
    """The bootstrap interval widened to the exact binomial one where that is wider.

    Trials that share people are no more informative than independent ones, so an interval
    narrower than Clopper–Pearson's on the trial counts claims too much — above all where
    no trial erred: every resample then has no error either and the percentiles collapse
    to ``[0, 0]`` (0 of 594 impostor trials accepted still allows a FAR of 0.62 %).
    """
    return np.column_stack(
        [np.minimum(bootstrap[:, 0], exact[:, 0]), np.maximum(bootstrap[:, 1], exact[:, 1])]
    )


def hold_in_every_condition(
    scores: np.ndarray,
    genuine: np.ndarray,
    conditions: ArrayLike,
    target_fars: Sequence[float],
    target_frrs: Sequence[float],
    thresholds: Sequence[float],
) -> list[float]:
    """Raise each FAR threshold (lower each FRR threshold) until its target holds in every
    condition that has enough trials to measure it (rule of three).

    ``thresholds`` are the pooled trials' thresholds, FAR targets first; each becomes the
    strictest of itself and the conditions' own thresholds for that target, so the shipped
    operating point keeps its promise in the worst listed condition. A condition with too
    few trials for a target cannot move its threshold (its rate there is reported anyway).

    Examples
    --------
    >>> clean = [0.9, 0.5, 0.4, 0.1, 0.05, 0.02, 0.01]  # a genuine, then 6 impostor scores
    >>> blurred = [0.95, 0.8, 0.7, 0.6, 0.2, 0.15, 0.1]  # impostors score higher here
    >>> s = np.array(clean + blurred)
    >>> g = np.array(([True] + [False] * 6) * 2)
    >>> c = np.array(["clean"] * 7 + ["blurred"] * 7)
    >>> hold_in_every_condition(s, g, c, [0.5], [], [0.5])  # FAR 0.5 held where it is worst
    [0.6]
    """
    names = np.asarray(conditions)
    if names.shape != scores.shape:
        raise InvalidInput(
            f"conditions must name one condition per trial ({scores.size}), got {names.size}"
        )
    out = [float(t) for t in thresholds]
    for name in np.unique(names):
        mine = names == name
        g = genuine[mine]
        n_genuine = int(np.count_nonzero(g))
        n_impostor = int(g.size - n_genuine)
        if n_genuine == 0 or n_impostor == 0:
            continue
        roc = RocCurve.from_scores(scores[mine], g)
        for k, target in enumerate(target_fars):
            if n_impostor >= rule_of_three_count(target):
                out[k] = max(out[k], threshold_at_far(roc, target))
        for k, target in enumerate(target_frrs, start=len(target_fars)):
            if n_genuine >= rule_of_three_count(target):
                out[k] = min(out[k], threshold_at_frr(roc, target))
    return _monotone(out, target_fars, target_frrs)


def _monotone(
    thresholds: list[float], target_fars: Sequence[float], target_frrs: Sequence[float]
) -> list[float]:
    """A stricter FAR target keeps a threshold at least as high as a looser one (and a
    stricter FRR target one at most as high): a condition with enough trials for the looser
    target only can raise its threshold above the stricter target's, which must follow."""
    out = list(thresholds)
    highest = -np.inf
    for k in sorted(range(len(target_fars)), key=lambda k: -target_fars[k]):
        highest = out[k] = max(out[k], highest)
    lowest = np.inf
    for k in sorted(range(len(target_frrs)), key=lambda k: -target_frrs[k]):
        j = len(target_fars) + k
        lowest = out[j] = min(out[j], lowest)
    return out


def operating_points(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    target_fars: Sequence[float] = (),
    target_frrs: Sequence[float] = (),
    subject_a: ArrayLike | None = None,
    subject_b: ArrayLike | None = None,
    confidence: float = 0.95,
    n_resamples: int = 1000,
    seed: int = 0,
    curve: RocCurve | None = None,
    conditions: ArrayLike | None = None,
) -> list[OperatingPoint]:
    """One operating point per target FAR, then per target FRR, in the order given.

    ``conditions`` (one name per trial: the corpus, camera or degradation it came from)
    makes each threshold hold its target in every condition with enough trials for it
    (:func:`hold_in_every_condition`), not only on the pooled trials.

    Thresholds follow :func:`threshold_at_far` / :func:`threshold_at_frr`. Confidence
    intervals are the identity bootstrap (:func:`bootstrap_rates`, one run for all points)
    when ``subject_a`` and ``subject_b`` are given, else Clopper–Pearson on the trial counts.
    A target the trial count cannot support (fewer than ``ceil(3 / target)`` impostor trials
    for a FAR target, genuine trials for an FRR target) still gets a point, flagged
    ``supported=False``, and a ``UserWarning``. ``curve`` may pass an already built ROC of the
    same scores.

    Note: a bootstrap interval of a rate measured at 0 is ``(0, 0)`` (no resample can contain
    an error that never happened); Clopper–Pearson gives a non-zero upper bound instead.

    Parameters
    ----------
    scores : array-like of float
        One finite score per trial; the thresholds are chosen among them.
    labels : array-like of {0, 1} or bool
        1 / True = genuine; FAR targets are measured on the impostor trials, FRR targets
        on the genuine ones.
    target_fars, target_frrs : sequence of float
        The targets, each in (0, 1).
    subject_a, subject_b : array-like, optional
        Each trial's two identities (both or neither): identity-bootstrap intervals.
    confidence : float
        Confidence level of the intervals.
    n_resamples : int
        Bootstrap resamples.
    seed : int
        Bootstrap seed.
    curve : RocCurve, optional
        An already built ROC of the same scores.
    conditions : array-like of str, optional
        Each trial's condition.

    Returns
    -------
    list of OperatingPoint
        FAR targets first, then FRR targets (empty when there is no target).

    Raises
    ------
    InvalidInput
        Malformed scores or labels, a target outside (0, 1), only one of ``subject_a`` /
        ``subject_b``, a ``curve`` of other scores, or ``conditions`` of another length.

    Warns
    -----
    UserWarning
        A target the trial count cannot support.

    Examples
    --------
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
    >>> points = operating_points(scores, [0] * 6 + [1] * 6, target_fars=[0.5],
    ...                           target_frrs=[0.5])
    >>> [(p.label, p.threshold, p.far, p.frr, p.supported) for p in points]
    [('FAR=0.5', 0.4, 0.5, 0.0, True), ('FRR=0.5', 0.8, 0.0, 0.5, True)]
    >>> [round(x, 3) for x in points[0].far_ci], points[0].ci_method
    ([0.118, 0.882], 'clopper-pearson')
    """
    fars = _check_targets("FAR", target_fars)
    frrs = _check_targets("FRR", target_frrs)
    if (subject_a is None) != (subject_b is None):
        raise InvalidInput("give both subject_a and subject_b (or neither)")
    s, genuine = validate_scores(scores, labels)
    roc = RocCurve.from_scores(s, genuine) if curve is None else curve
    n_genuine = int(np.count_nonzero(genuine))
    if (roc.n_genuine, roc.n_impostor) != (n_genuine, s.size - n_genuine):
        raise InvalidInput("curve was built from other scores; pass the matching curve or none")

    if not fars and not frrs:
        return []
    thresholds = [threshold_at_far(roc, t) for t in fars] + [threshold_at_frr(roc, t) for t in frrs]
    if conditions is not None:
        thresholds = hold_in_every_condition(s, genuine, conditions, fars, frrs, thresholds)
    far, frr, far_ci, frr_ci, method = rates_with_intervals(
        s,
        genuine,
        thresholds,
        subject_a,
        subject_b,
        settings=IntervalSettings(confidence, n_resamples, seed),
        curve=roc,
    )

    points = []
    for p, threshold in enumerate(thresholds):
        is_far = p < len(fars)
        target = fars[p] if is_far else frrs[p - len(fars)]
        have = roc.n_impostor if is_far else roc.n_genuine
        supported = have >= rule_of_three_count(target)
        if not supported:
            _warn_unsupported(
                "FAR" if is_far else "FRR", target, have, "impostor" if is_far else "genuine"
            )
        points.append(
            OperatingPoint(
                target_far=target if is_far else None,
                target_frr=None if is_far else target,
                threshold=float(threshold),
                far=float(far[p]),
                frr=float(frr[p]),
                far_ci=(float(far_ci[p, 0]), float(far_ci[p, 1])),
                frr_ci=(float(frr_ci[p, 0]), float(frr_ci[p, 1])),
                supported=supported,
                ci_method=method,
            )
        )
    return points
