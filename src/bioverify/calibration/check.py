"""Does a calibration's promise hold on the user's own labelled data?

:func:`check_calibration` measures, at each operating point's threshold, the FAR and FRR on
new trials (with their intervals) and compares them with what the calibration claims. A
rate whose measured value lies outside the claimed interval is reported plainly, with the
direction: a higher FAR than claimed means more false accepts than the user was told.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from bioverify.calibration.calibration_file import Calibration
from bioverify.calibration.conditions import RatesAt, rates_at_points, rates_in_condition
from bioverify.calibration.intervals import IntervalSettings
from bioverify.calibration.operating_points import OperatingPoint, rates_with_intervals
from bioverify.calibration.roc import rule_of_three_count, validate_scores


@dataclass(frozen=True)
class PointCheck:
    """One operating point: what the calibration claims, what the new trials show."""

    claimed: OperatingPoint
    measured: RatesAt
    n_genuine: int
    n_impostor: int
    #: the quality bin whose threshold and claims these are (``None``: the pooled ones)
    quality_bin: str | None = None

    @property
    def far_verdict(self) -> str:
        """``"holds"``, ``"higher than claimed"``, ``"lower than claimed"`` or
        ``"too few impostor trials"`` (fewer than the rule of three asks for)."""
        target = self.claimed.target_far or self.claimed.far
        if target > 0 and self.n_impostor < rule_of_three_count(target):
            return "too few impostor trials"
        return _verdict(self.measured.far, self.measured.far_ci, self.claimed.far_ci)

    @property
    def frr_verdict(self) -> str:
        """Like :attr:`far_verdict`, for the FRR (needs genuine trials)."""
        if self.n_genuine == 0:
            return "no genuine trials"
        return _verdict(self.measured.frr, self.measured.frr_ci, self.claimed.frr_ci)

    @property
    def holds(self) -> bool:
        """The measured FAR is not above the claimed interval."""
        return self.far_verdict != "higher than claimed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.claimed.label,
            "threshold": self.measured.to_dict()["threshold"],
            "claimed": {
                "far": self.claimed.far,
                "far_ci": list(self.claimed.far_ci),
                "frr": self.claimed.frr,
                "frr_ci": list(self.claimed.frr_ci),
            },
            "measured": {
                k: v for k, v in self.measured.to_dict().items() if k not in ("label", "threshold")
            },
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
            "far_verdict": self.far_verdict,
            "frr_verdict": self.frr_verdict,
            "quality_bin": self.quality_bin,
        }


def _verdict(rate: float, measured: tuple[float, float], claimed: tuple[float, float]) -> str:
    """Warn early, praise on evidence: "higher" as soon as the measured rate is above the
    claimed interval; "lower" only when the whole measured interval is below it (0 errors
    in a few hundred trials is no evidence of a lower rate)."""
    if rate > claimed[1]:
        return "higher than claimed"
    if measured[1] < claimed[0]:
        return "lower than claimed"
    return "holds"


def check_calibration(
    calibration: Calibration,
    scores: ArrayLike,
    labels: ArrayLike,
    subject_a: ArrayLike | None = None,
    subject_b: ArrayLike | None = None,
    *,
    seed: int = 0,
    pair_quality: ArrayLike | None = None,
) -> list[PointCheck]:
    """Measure every operating point of ``calibration`` on new labelled trials.

    When the calibration's FAR thresholds follow quality (``quality_bins``) and
    ``pair_quality`` gives each trial's worse-sample value of that measure, each bin's
    threshold and claims are checked too, on the new trials of that bin.

    Parameters
    ----------
    calibration : Calibration
        The calibration whose thresholds and claimed rates are checked.
    scores, labels : array-like
        The new trials (label 1 = genuine), scored by the same model.
    subject_a, subject_b : array-like, optional
        Subject ids: identity-bootstrap intervals instead of Clopper–Pearson.
    seed : int
        Seed of the bootstrap.

    Returns
    -------
    list of PointCheck
        One per operating point, in the calibration's order: the claimed and measured
        rates, and ``far_verdict`` / ``frr_verdict`` (``"holds"``, ``"higher than
        claimed"``, ``"lower than claimed"``, or too few trials to tell).

    Raises
    ------
    InvalidInput
        Malformed scores or labels (they need both genuine and impostor trials).

    See Also
    --------
    bioverify.calibration.check_drift : the same question for unlabelled production scores.

    Examples
    --------
    >>> from bioverify.calibration import fit_calibration
    >>> rng = np.random.default_rng(0)
    >>> s = np.concatenate([rng.normal(2, 1, 300), rng.normal(0, 1, 3000)])
    >>> g = np.arange(3300) < 300
    >>> cal = fit_calibration(s, g, target_fars=[0.01])
    >>> harder = np.concatenate([rng.normal(2, 1, 300), rng.normal(0.8, 1, 3000)])
    >>> check_calibration(cal, harder, g)[0].far_verdict
    'higher than claimed'
    """
    s, genuine = validate_scores(scores, labels)
    thresholds = [op.threshold for op in calibration.operating_points]
    far, frr, far_ci, frr_ci, _ = rates_with_intervals(
        s, genuine, thresholds, subject_a, subject_b, settings=IntervalSettings(seed=seed)
    )
    n_genuine = int(np.count_nonzero(genuine))
    measured = rates_at_points(calibration.operating_points, far, frr, far_ci, frr_ci)
    checks = [
        PointCheck(op, rates, n_genuine, int(s.size - n_genuine))
        for op, rates in zip(calibration.operating_points, measured, strict=True)
    ]
    bins = calibration.quality_bins
    if bins is None or pair_quality is None:
        return checks
    index = bins.indices(pair_quality)
    a = None if subject_a is None else np.asarray(subject_a)
    b = None if subject_b is None else np.asarray(subject_b)
    for k, report in enumerate(bins.bins):
        mine = index == k
        if not mine.any():
            continue
        points = [op for op in calibration.operating_points if op.target_far is not None]
        own = [report.rates_for(op.label) for op in points]
        claimed = [
            replace(op, threshold=r.threshold, far=r.far, far_ci=r.far_ci, frr=r.frr,
                    frr_ci=r.frr_ci)
            for op, r in zip(points, own, strict=True) if r is not None
        ]  # fmt: skip
        sa, sb = (a[mine], b[mine]) if a is not None and b is not None else (None, None)
        thresholds = [op.threshold for op in claimed]
        rates = rates_in_condition(
            s[mine], genuine[mine], thresholds, sa, sb, IntervalSettings(seed=seed)
        )
        n_gen = int(np.count_nonzero(genuine[mine]))
        checks += [
            PointCheck(op, r, n_gen, int(mine.sum()) - n_gen, report.name)
            for op, r in zip(claimed, rates_at_points(claimed, *rates), strict=True)
        ]
    return checks


__all__ = ["PointCheck", "check_calibration"]
