"""The summary of one score set: EER, trial counts and TAR at target FARs.

What training's validation, ``bioverify evaluate``, the export's checks and the benchmarks
report about a model's scores; the ROC it is read from is :mod:`bioverify.calibration.roc`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from numpy.typing import ArrayLike

from bioverify.calibration.roc import RocCurve, eer, index_at_far, rule_of_three_count


@dataclass(frozen=True)
class VerificationSummary:
    """EER and TAR at target FARs of one score set.

    ``supported[target]`` is the rule of three: ``n_impostor >= ceil(3 / target)``. Unsupported
    targets are still computed (no warning here; :func:`bioverify.calibration.operating_points.
    operating_points` warns).
    """

    eer: float
    eer_threshold: float
    n_genuine: int
    n_impostor: int
    tar_at_far: dict[float, float]
    supported: dict[float, bool]

    def to_dict(self) -> dict[str, float | int | bool]:
        """Flat JSON-able dict: ``eer``, ``eer_threshold``, ``n_genuine``, ``n_impostor``,
        ``tar_at_far_<target>`` and ``supported_far_<target>`` (target as ``repr(float)``,
        e.g. ``tar_at_far_0.001``)."""
        out: dict[str, float | int | bool] = {
            "eer": self.eer,
            "eer_threshold": self.eer_threshold,
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
        }
        for target, tar in self.tar_at_far.items():
            out[f"tar_at_far_{float(target)!r}"] = tar
            out[f"supported_far_{float(target)!r}"] = self.supported[target]
        return out


def summarize(
    scores: ArrayLike,
    labels: ArrayLike,
    far_targets: Iterable[float] = (1e-2, 1e-3),
    *,
    curve: RocCurve | None = None,
) -> VerificationSummary:
    """EER, EER threshold, trial counts and TAR at each target FAR.

    Parameters
    ----------
    scores : array-like of float
        One finite score per trial.
    labels : array-like of {0, 1} or bool
        1 / True = genuine.
    far_targets : iterable of float
        The target FARs; the threshold of each is :func:`threshold_at_far`'s.
    curve : RocCurve, optional
        An already built ROC of these scores, to reuse.

    Returns
    -------
    VerificationSummary
        ``eer``, ``eer_threshold``, ``n_genuine``, ``n_impostor``, ``tar_at_far`` and
        ``supported`` (rule of three) per target.

    Raises
    ------
    InvalidInput
        Malformed scores or labels (see :meth:`RocCurve.from_scores`), or a target outside
        [0, 1].

    Examples
    --------
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
    >>> labels = [0] * 6 + [1] * 6
    >>> summary = summarize(scores, labels, far_targets=[0.2])
    >>> round(summary.eer, 3), round(summary.tar_at_far[0.2], 3), summary.supported[0.2]
    (0.167, 0.833, False)
    """
    roc = RocCurve.from_scores(scores, labels) if curve is None else curve
    equal = eer(roc)
    tar: dict[float, float] = {}
    supported: dict[float, bool] = {}
    for target in far_targets:
        t = float(target)
        tar[t] = float(1.0 - roc.frr[index_at_far(roc, t)])
        supported[t] = t > 0 and roc.n_impostor >= rule_of_three_count(t)
    return VerificationSummary(
        eer=equal.eer,
        eer_threshold=equal.threshold,
        n_genuine=roc.n_genuine,
        n_impostor=roc.n_impostor,
        tar_at_far=tar,
        supported=supported,
    )


__all__ = ["VerificationSummary", "summarize"]
