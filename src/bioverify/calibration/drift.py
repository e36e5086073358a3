"""Drift: do production scores still look like the calibration's?

A calibration stores the quantiles of its genuine and impostor scores
(:class:`ScoreQuantiles`). Production scores come without labels, so :func:`check_drift`
fits the share of genuine trials that makes the calibration's mixture closest to them
(Kolmogorov–Smirnov distance), then reports that distance against its critical value and the
population stability index (PSI) over ten equally likely bins of the fitted mixture. Scores
that no mixture of the calibration's two distributions explains mean the model meets
people, cameras or recordings unlike those it was calibrated on: its thresholds' error rates
no longer hold, and it should be calibrated again on the new data.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from bioverify.errors import CalibrationError, InvalidInput

#: quantile levels stored per class: 0, 0.01, …, 1
N_QUANTILES = 101
#: fewer production scores than this cannot support a drift verdict
MIN_SCORES = 100
#: KS critical value coefficient for alpha = 0.01 (one-sample, asymptotic)
KS_ALPHA_001 = 1.628
#: PSI above this: a significant shift (the usual rule of thumb; 0.1-0.25 is moderate)
PSI_SIGNIFICANT = 0.25
PSI_MODERATE = 0.1
_BINS = 10


@dataclass(frozen=True)
class ScoreQuantiles:
    """Quantiles (levels 0, 0.01, …, 1) of the calibration's genuine and impostor scores."""

    genuine: tuple[float, ...]
    impostor: tuple[float, ...]

    @classmethod
    def of(cls, scores: ArrayLike, genuine: ArrayLike) -> ScoreQuantiles:
        """Measure them from labelled scores (1 = genuine).

        Examples
        --------
        >>> q = ScoreQuantiles.of([0.9, 0.8, 0.1, 0.2, 0.3], [1, 1, 0, 0, 0])
        >>> q.genuine[0], q.genuine[-1], q.impostor[50]
        (0.8, 0.9, 0.2)
        """
        s = np.asarray(scores, dtype=np.float64)
        g = np.asarray(genuine).astype(bool)
        levels = np.linspace(0.0, 1.0, N_QUANTILES)
        return cls(
            tuple(float(x) for x in np.quantile(s[g], levels)),
            tuple(float(x) for x in np.quantile(s[~g], levels)),
        )

    def cdf(self, kind: str, x: np.ndarray) -> np.ndarray:
        """The class's distribution function at ``x``, linear between stored quantiles
        (``"genuine"`` or ``"impostor"``)."""
        q = np.asarray(self.genuine if kind == "genuine" else self.impostor)
        step = 1.0 / (N_QUANTILES - 1)
        above = np.searchsorted(q, x, side="right")  # stored quantiles <= x
        inside = (above > 0) & (above < N_QUANTILES)
        k = np.clip(above, 1, N_QUANTILES - 1)
        low, high = q[k - 1], q[k]
        within = np.where(high > low, (x - low) / np.where(high > low, high - low, 1.0), 0.0)
        return np.where(inside, (k - 1 + within) * step, np.where(above == 0, 0.0, 1.0))

    def to_dict(self) -> dict[str, Any]:
        return {"genuine": list(self.genuine), "impostor": list(self.impostor)}

    @classmethod
    def from_dict(cls, data: Any) -> ScoreQuantiles:
        if not isinstance(data, Mapping) or set(data) != {"genuine", "impostor"}:
            raise CalibrationError("must be an object with 'genuine' and 'impostor' lists")
        out = []
        for kind in ("genuine", "impostor"):
            values = data[kind]
            ok = (
                isinstance(values, list)
                and len(values) == N_QUANTILES
                and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values)
                and all(math.isfinite(v) for v in values)
                and all(a <= b for a, b in pairwise(values))
            )
            if not ok:
                raise CalibrationError(
                    f"{kind} must be {N_QUANTILES} finite, non-decreasing numbers"
                )
            out.append(tuple(float(v) for v in values))
        return cls(out[0], out[1])


@dataclass(frozen=True)
class DriftReport:
    """How production scores compare with the calibration's distributions."""

    n_scores: int
    genuine_share: float
    ks: float
    ks_critical: float
    psi: float
    accepted_share: float | None

    @property
    def drifted(self) -> bool:
        """The scores are unlike any mixture of the calibration's (KS test at alpha 0.01,
        or a PSI above :data:`PSI_SIGNIFICANT`)."""
        return self.ks > self.ks_critical or self.psi > PSI_SIGNIFICANT

    @property
    def verdict(self) -> str:
        if self.drifted:
            return "drift"
        return "moderate shift" if self.psi > PSI_MODERATE else "no drift"

    def to_dict(self) -> dict[str, Any]:
        """Every field, and the :attr:`verdict`."""
        return {**asdict(self), "verdict": self.verdict}


def check_drift(
    scores: ArrayLike, quantiles: ScoreQuantiles, threshold: float | None = None
) -> DriftReport:
    """Compare unlabelled production scores with the calibration's score distributions.

    Parameters
    ----------
    scores : array-like
        At least :data:`MIN_SCORES` finite production scores.
    quantiles : ScoreQuantiles
        The calibration's (``Calibration.score_quantiles``).
    threshold : float, optional
        The decision threshold in use, to report the share of scores it accepts.

    Returns
    -------
    DriftReport
        The best-fitting genuine share, the KS distance to that mixture and its critical
        value at alpha 0.01, the PSI, and the verdict.

    Raises
    ------
    InvalidInput
        Fewer than :data:`MIN_SCORES` scores, or a non-finite score.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> calib = np.concatenate([rng.normal(0.7, 0.1, 2000), rng.normal(0.1, 0.1, 2000)])
    >>> q = ScoreQuantiles.of(calib, np.arange(4000) < 2000)
    >>> check_drift(rng.normal(0.1, 0.1, 500), q).verdict
    'no drift'
    >>> check_drift(rng.normal(0.4, 0.1, 500), q).verdict
    'drift'
    """
    x = np.sort(np.asarray(scores, dtype=np.float64).ravel())
    if x.size < MIN_SCORES:
        raise InvalidInput(
            f"{x.size} production scores are not enough to judge drift; give at least {MIN_SCORES}"
        )
    if not np.all(np.isfinite(x)):
        raise InvalidInput("production scores hold NaN or infinite values")
    empirical_hi = np.arange(1, x.size + 1) / x.size
    empirical_lo = np.arange(0, x.size) / x.size
    f_genuine = quantiles.cdf("genuine", x)
    f_impostor = quantiles.cdf("impostor", x)
    best_share, best_ks = 0.0, math.inf
    for share in np.linspace(0.0, 1.0, 101):
        mixture = share * f_genuine + (1 - share) * f_impostor
        ks = float(max(np.max(empirical_hi - mixture), np.max(mixture - empirical_lo)))
        if ks < best_ks:
            best_share, best_ks = float(share), ks
    psi = _psi(x, quantiles, best_share)
    accepted = None if threshold is None else float(np.mean(x >= threshold))
    return DriftReport(
        n_scores=int(x.size),
        genuine_share=best_share,
        ks=best_ks,
        ks_critical=KS_ALPHA_001 / math.sqrt(x.size),
        psi=psi,
        accepted_share=accepted,
    )


def _psi(x: np.ndarray, quantiles: ScoreQuantiles, share: float) -> float:
    """PSI of ``x`` against the mixture, over its ten equally likely bins."""
    grid = np.linspace(min(quantiles.genuine[0], quantiles.impostor[0], x[0]) - 1e-9,
                       max(quantiles.genuine[-1], quantiles.impostor[-1], x[-1]) + 1e-9,
                       4001)  # fmt: skip
    mixture = share * quantiles.cdf("genuine", grid) + (1 - share) * quantiles.cdf("impostor", grid)
    edges = np.interp(np.linspace(0, 1, _BINS + 1)[1:-1], mixture, grid)
    expected = np.diff(np.concatenate([[0.0], np.interp(edges, grid, mixture), [1.0]]))
    observed = np.diff(np.concatenate([[0], np.searchsorted(x, edges), [x.size]])) / x.size
    eps = 1e-4
    e, o = np.maximum(expected, eps), np.maximum(observed, eps)
    return float(np.sum((o - e) * np.log(o / e)))


__all__ = [
    "MIN_SCORES",
    "PSI_MODERATE",
    "PSI_SIGNIFICANT",
    "DriftReport",
    "ScoreQuantiles",
    "check_drift",
]
