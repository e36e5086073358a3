"""The costs that say how well scores or LLRs decide, and how well LLRs are calibrated.

- :func:`cllr` is the log-likelihood-ratio cost in bits (0 = perfect, 1 = an uninformative
  system that always says LLR 0); :func:`min_cllr` is the Cllr the same scores would get after
  the best monotone calibration, so ``cllr - min_cllr`` is the cost of miscalibration.
- :func:`detection_cost`, :func:`min_dcf` and :func:`actual_dcf` are the NIST detection cost
  function at a threshold, at the best threshold, and at the Bayes threshold on LLRs.

The LLRs come from a :class:`~bioverify.calibration.llr.ScoreCalibrator`. scikit-learn is
imported only by :func:`min_cllr`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import logit

from bioverify.calibration.roc import RocCurve, validate_scores
from bioverify.errors import InvalidInput

_LN2 = math.log(2.0)


def check_prior(name: str, value: float) -> float:
    """``value`` as a float, or :class:`InvalidInput` when it is not a probability in (0, 1).

    Examples
    --------
    >>> check_prior("p_target", 0.01)
    0.01
    >>> check_prior("prior", 1)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bioverify.errors.InvalidInput: prior must be a probability in (0, 1), e.g. 0.5; got 1
    """
    p = float(value)
    if not 0.0 < p < 1.0:
        raise InvalidInput(f"{name} must be a probability in (0, 1), e.g. 0.5; got {value!r}")
    return p


def _llr_array(name: str, values: ArrayLike) -> np.ndarray:
    try:
        a = np.asarray(values, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"{name} must be numbers: {exc}") from exc
    if a.size == 0:
        raise InvalidInput(f"{name} is empty; need at least one trial of each class")
    if np.isnan(a).any():
        raise InvalidInput(f"{name} contains NaN")
    return a


def cllr(llr_genuine: ArrayLike, llr_impostor: ArrayLike) -> float:
    """Log-likelihood-ratio cost in bits (BOSARIS / Brümmer & du Preez 2006):

    ``Cllr = ½·mean(log2(1 + e^(-llr_genuine))) + ½·mean(log2(1 + e^(llr_impostor)))``.

    All-zero LLRs cost exactly 1 bit; perfect, confident LLRs approach 0. ±inf LLRs are allowed
    (they cost 0 when on the right side, inf when on the wrong one).

    Parameters
    ----------
    llr_genuine, llr_impostor : array-like of float
        The LLRs of the genuine and of the impostor trials (natural log).

    Returns
    -------
    float
        The cost in bits: near 0 for confident LLRs on the right side, exactly 1 when every
        LLR is 0, above 1 when LLRs lean the wrong way, ``inf`` when an infinite LLR is on
        the wrong side.

    Raises
    ------
    InvalidInput
        ``llr_genuine`` or ``llr_impostor`` is empty, holds a NaN or holds a value that is
        not a number.

    See Also
    --------
    min_cllr : the Cllr after the best monotone calibration.

    Examples
    --------
    >>> cllr([0.0, 0.0], [0.0, 0.0])
    1.0
    >>> round(cllr([5.0, 6.0], [-5.0, -7.0]), 4)
    0.0061
    """
    gen = _llr_array("llr_genuine", llr_genuine)
    imp = _llr_array("llr_impostor", llr_impostor)
    c_gen = float(np.mean(np.logaddexp(0.0, -gen)))
    c_imp = float(np.mean(np.logaddexp(0.0, imp)))
    return (c_gen + c_imp) / (2.0 * _LN2)


def _pav_llr(s: np.ndarray, genuine: np.ndarray) -> np.ndarray:
    """The optimal monotone ("oracle") LLR of each trial: PAV posteriors fitted on these very
    scores, minus the training log-odds. Posteriors of exactly 0 or 1 give -inf / +inf."""
    from sklearn.isotonic import IsotonicRegression

    posterior = IsotonicRegression(increasing=True).fit_transform(s, genuine.astype(np.float64))
    with np.errstate(divide="ignore"):
        return np.asarray(
            logit(posterior) - logit(np.count_nonzero(genuine) / s.size), dtype=np.float64
        )


def min_cllr(scores: ArrayLike, labels: ArrayLike) -> float:
    """Cllr (bits) after the best monotone calibration of these scores (PAV on themselves).

    This is the discrimination part of Cllr: no monotone score → LLR map scores less on this
    data, so ``min_cllr <= cllr(calibrated)`` for every calibration.

    Parameters
    ----------
    scores : array-like of float
    labels : array-like of {0, 1} or bool
        1 / True = genuine.

    Returns
    -------
    float
        The Cllr in bits of the PAV-calibrated scores, in [0, 1]: 1 when the scores carry
        no information about the labels (the flat LLR 0 is then the best monotone map).

    Raises
    ------
    InvalidInput
        Scores or labels that :func:`~bioverify.calibration.roc.validate_scores` rejects:
        not 1-D, of different lengths, empty, NaN or infinite scores, labels other than
        0/1, or a single class.

    Examples
    --------
    >>> from bioverify.calibration import ScoreCalibrator
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
    >>> labels = [0] * 6 + [1] * 6
    >>> calibrator = ScoreCalibrator().fit(scores, labels)
    >>> llr = calibrator.llr(scores)
    >>> round(cllr(llr[6:], llr[:6]), 3), round(min_cllr(scores, labels), 3)
    (0.487, 0.333)
    """
    s, genuine = validate_scores(scores, labels)
    llr = _pav_llr(s, genuine)
    return cllr(llr[genuine], llr[~genuine])


def _check_costs(p_target: float, c_miss: float, c_fa: float) -> tuple[float, float, float]:
    p = check_prior("p_target", p_target)
    cm, cf = float(c_miss), float(c_fa)
    if not (cm > 0 and cf > 0 and math.isfinite(cm) and math.isfinite(cf)):
        raise InvalidInput(f"c_miss and c_fa must be positive numbers, got {c_miss!r}, {c_fa!r}")
    return p, cm, cf


def _cost(p_miss: Any, p_fa: Any, p: float, cm: float, cf: float, normalized: bool) -> Any:
    cost = cm * p * p_miss + cf * (1.0 - p) * p_fa
    return cost / min(cm * p, cf * (1.0 - p)) if normalized else cost


def detection_cost(
    scores: ArrayLike,
    labels: ArrayLike,
    threshold: float,
    p_target: float = 0.01,
    c_miss: float = 1.0,
    c_fa: float = 1.0,
    normalized: bool = True,
) -> float:
    """NIST detection cost ``c_miss·p·P_miss + c_fa·(1-p)·P_fa`` when accepting
    ``score >= threshold``.

    Parameters
    ----------
    scores : array-like of float
    labels : array-like of {0, 1} or bool
        1 / True = genuine.
    threshold : float
    p_target : float
        The prior ``p`` of genuine trials, in (0, 1).
    c_miss, c_fa : float
        The costs of a miss (false reject) and of a false accept, positive.
    normalized : bool
        Divide by ``min(c_miss·p, c_fa·(1-p))``, the cost of the better of "accept all"
        and "reject all".

    Returns
    -------
    float
        The cost at ``threshold``; normalized, 1 is the cost of the better of "accept all"
        and "reject all", and 0 that of a threshold that makes no error.

    Raises
    ------
    InvalidInput
        Malformed scores or labels, ``p_target`` outside (0, 1), non-positive costs, or a
        NaN threshold.

    Examples
    --------
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
    >>> labels = [0] * 6 + [1] * 6
    >>> detection_cost(scores, labels, 0.5, p_target=0.5)  # FAR 1/3, FRR 1/6
    0.5
    """
    p, cm, cf = _check_costs(p_target, c_miss, c_fa)
    far, frr = RocCurve.from_scores(scores, labels).rates_at(threshold)
    return float(_cost(frr, far, p, cm, cf, normalized))


def min_dcf(
    scores: ArrayLike,
    labels: ArrayLike,
    p_target: float = 0.01,
    c_miss: float = 1.0,
    c_fa: float = 1.0,
    normalized: bool = True,
    *,
    curve: RocCurve | None = None,
) -> tuple[float, float]:
    """Lowest detection cost over every ROC threshold, and that threshold.

    Parameters
    ----------
    scores, labels, p_target, c_miss, c_fa, normalized
        As for :func:`detection_cost`.
    curve : RocCurve, optional
        An already built ROC of these scores, to reuse.

    Returns
    -------
    (float, float)
        ``(cost, threshold)``. The threshold is ``+inf`` when rejecting everything is
        cheapest; among equal costs the highest threshold wins.

    Raises
    ------
    InvalidInput
        Malformed scores or labels, ``p_target`` outside (0, 1) or non-positive costs.

    Examples
    --------
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
    >>> labels = [0] * 6 + [1] * 6
    >>> min_dcf(scores, labels, p_target=0.5)
    (0.3333333333333333, 0.7)
    """
    p, cm, cf = _check_costs(p_target, c_miss, c_fa)
    roc = RocCurve.from_scores(scores, labels) if curve is None else curve
    costs = _cost(roc.frr, roc.far, p, cm, cf, normalized)
    i = int(np.argmin(costs))
    return float(costs[i]), float(roc.thresholds[i])


def bayes_threshold(p_target: float = 0.01, c_miss: float = 1.0, c_fa: float = 1.0) -> float:
    """LLR threshold of the Bayes decision: ``log(c_fa·(1-p) / (c_miss·p))``."""
    p, cm, cf = _check_costs(p_target, c_miss, c_fa)
    return math.log(cf * (1.0 - p) / (cm * p))


def actual_dcf(
    llr_genuine: ArrayLike,
    llr_impostor: ArrayLike,
    p_target: float = 0.01,
    c_miss: float = 1.0,
    c_fa: float = 1.0,
    normalized: bool = True,
) -> float:
    """Detection cost of deciding "same" when ``llr >= bayes_threshold(...)``.

    It equals :func:`min_dcf` of the same trials only when the LLRs are well calibrated.

    Parameters
    ----------
    llr_genuine, llr_impostor : array-like of float
        The LLRs of the genuine and of the impostor trials.
    p_target, c_miss, c_fa, normalized
        As for :func:`detection_cost`.

    Returns
    -------
    float
        The cost of the Bayes decisions these LLRs make; above :func:`min_dcf` by what
        their miscalibration costs.

    Raises
    ------
    InvalidInput
        An empty array or a NaN, ``p_target`` outside (0, 1) or non-positive costs.

    Examples
    --------
    >>> from bioverify.calibration import ScoreCalibrator
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
    >>> labels = [0] * 6 + [1] * 6
    >>> llr = ScoreCalibrator().fit(scores, labels).llr(scores)
    >>> round(actual_dcf(llr[6:], llr[:6], p_target=0.5), 3)
    0.333
    """
    gen = _llr_array("llr_genuine", llr_genuine)
    imp = _llr_array("llr_impostor", llr_impostor)
    p, cm, cf = _check_costs(p_target, c_miss, c_fa)
    theta = bayes_threshold(p, cm, cf)
    p_miss = float(np.mean(gen < theta))
    p_fa = float(np.mean(imp >= theta))
    return float(_cost(p_miss, p_fa, p, cm, cf, normalized))


__all__ = [
    "actual_dcf",
    "bayes_threshold",
    "check_prior",
    "cllr",
    "detection_cost",
    "min_cllr",
    "min_dcf",
]
