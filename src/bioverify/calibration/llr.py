"""Score → log-likelihood-ratio calibration, and the costs that say how well it is calibrated.

A calibrated log-likelihood ratio (LLR, natural log) of a trial is
``log p(score | same) - log p(score | different)``; it turns into a posterior probability of
"same identity" for any stated prior: ``P(same) = sigmoid(llr + logit(prior))``.

- :class:`ScoreCalibrator` fits a monotone score → LLR map: prior-weighted logistic regression
  (Brümmer's linear calibration, as in the BOSARIS toolkit) or isotonic regression (PAV).
- :func:`cllr` is the log-likelihood-ratio cost in bits (0 = perfect, 1 = an uninformative
  system that always says LLR 0); :func:`min_cllr` is the Cllr the same scores would get after
  the best monotone calibration, so ``cllr - min_cllr`` is the cost of miscalibration.
- :func:`detection_cost`, :func:`min_dcf` and :func:`actual_dcf` are the NIST detection cost
  function at a threshold, at the best threshold, and at the Bayes threshold on LLRs.

scikit-learn is imported only when fitting, so loading a calibration and turning scores into
LLRs or probabilities stays quick to import.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import expit, logit

from bioverify.calibration.roc import RocCurve, validate_scores
from bioverify.errors import CalibrationError, InvalidInput

CalibrationMethod = Literal["logistic", "isotonic"]
METHODS: tuple[str, ...] = ("logistic", "isotonic")

#: Isotonic posteriors are clipped into ``[eps, 1 - eps]`` before turning them into LLRs, so a
#: score range where training saw only one class gets a large but finite LLR (about ±13.8 nats
#: at 1e-6, plus the training log-odds) instead of ±inf.
ISOTONIC_EPSILON = 1e-6

#: Inverse L2 strength of the logistic fit on standardised scores with weights of mean 1:
#: negligible on overlapping classes, but keeps the slope finite when they are separated.
_LOGISTIC_C = 1e6

_LN2 = math.log(2.0)


def _check_prior(name: str, value: float) -> float:
    p = float(value)
    if not 0.0 < p < 1.0:
        raise InvalidInput(f"{name} must be a probability in (0, 1), e.g. 0.5; got {value!r}")
    return p


def _as_score_array(scores: ArrayLike) -> np.ndarray:
    try:
        s = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"scores must be numbers: {exc}") from exc
    if np.isnan(s).any():
        raise InvalidInput("scores contain NaN; remove or fix those trials before calibrating")
    return s


class ScoreCalibrator:
    """Monotone map from raw scores to natural-log likelihood ratios (scikit-learn style).

    ``method="logistic"`` fits ``llr = slope * score + offset`` by logistic regression in which
    the genuine trials together carry weight ``prior`` and the impostor trials ``1 - prior``
    (each genuine trial ``prior / n_genuine``, each impostor ``(1 - prior) / n_impostor``), so the
    fitted log-odds are posterior log-odds at that prior; subtracting ``logit(prior)`` leaves
    the LLR. This minimises Cllr at that prior (Brümmer & du Preez 2006, BOSARIS). If the
    scores are anti-correlated with the labels the slope is constrained to 0 (every LLR 0) and a
    :class:`UserWarning` says so.

    ``method="isotonic"`` fits a non-decreasing step function from score to posterior by pool
    adjacent violators (:class:`sklearn.isotonic.IsotonicRegression`, unweighted, so the
    posterior is under the training proportion ``n_genuine / n``), clips it into
    ``[epsilon, 1 - epsilon]`` and subtracts the training log-odds. Between training scores the
    posterior is interpolated linearly; outside their range it is clipped to the end values.
    ``prior`` plays no part in the isotonic fit.

    Either way the LLR is non-decreasing in the score.

    Parameters
    ----------
    method : {"logistic", "isotonic"}
        The map.
    prior : float
        The prior of genuine trials the logistic fit weights for, in (0, 1).
    epsilon : float
        Isotonic posteriors are clipped into ``[epsilon, 1 - epsilon]``, in (0, 0.5).

    Attributes
    ----------
    slope_, offset_ : float or None
        The fitted logistic map ``llr = slope_ * score + offset_``.
    x_knots_, p_knots_ : numpy.ndarray or None
        The fitted isotonic map's scores and posteriors.
    train_log_odds_ : float or None
        The isotonic fit's training log-odds.

    Raises
    ------
    InvalidInput
        An unknown ``method``, or ``prior`` / ``epsilon`` out of range.

    Examples
    --------
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
    >>> labels = [0] * 6 + [1] * 6
    >>> calibrator = ScoreCalibrator().fit(scores, labels)
    >>> calibrator.llr([0.2, 0.5, 0.9]).round(2)
    array([-3.92, -0.38,  4.34])
    >>> calibrator.probability([0.5], prior=0.1).round(3)  # P(same) when 1 in 10 is genuine
    array([0.071])
    >>> ScoreCalibrator.from_dict(calibrator.to_dict()).llr([0.9]).round(2)
    array([4.34])
    """

    def __init__(
        self,
        method: CalibrationMethod = "logistic",
        prior: float = 0.5,
        epsilon: float = ISOTONIC_EPSILON,
    ) -> None:
        if method not in METHODS:
            raise InvalidInput(f"unknown calibration method {method!r}; use one of {METHODS}")
        self.method: CalibrationMethod = method
        self.prior = _check_prior("prior", prior)
        eps = float(epsilon)
        if not 0.0 < eps < 0.5:
            raise InvalidInput(f"epsilon must be in (0, 0.5), e.g. 1e-6; got {epsilon!r}")
        self.epsilon = eps
        # fitted state (logistic: slope/offset; isotonic: knots + training log-odds)
        self.slope_: float | None = None
        self.offset_: float | None = None
        self.x_knots_: np.ndarray | None = None
        self.p_knots_: np.ndarray | None = None
        self.train_log_odds_: float | None = None

    def __repr__(self) -> str:
        return f"ScoreCalibrator(method={self.method!r}, prior={self.prior!r})"

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`from_dict`) has set the map."""
        if self.method == "logistic":
            return self.slope_ is not None
        return self.x_knots_ is not None

    def fit(self, scores: ArrayLike, labels: ArrayLike) -> ScoreCalibrator:
        """Fit the map on trial scores and labels.

        Parameters
        ----------
        scores : array-like of float
            One finite score per trial.
        labels : array-like of {0, 1} or bool
            1 / True = genuine; both classes are needed.

        Returns
        -------
        ScoreCalibrator
            ``self``, fitted.

        Raises
        ------
        InvalidInput
            Malformed scores or labels.

        Warns
        -----
        UserWarning
            Logistic: the scores fall as trials become genuine; the map is flat (LLR 0).
        """
        s, genuine = validate_scores(scores, labels)
        if self.method == "logistic":
            self._fit_logistic(s, genuine)
        else:
            self._fit_isotonic(s, genuine)
        return self

    def _fit_logistic(self, s: np.ndarray, genuine: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        n = s.size
        n_gen = int(np.count_nonzero(genuine))
        weights = np.where(genuine, self.prior * n / n_gen, (1.0 - self.prior) * n / (n - n_gen))
        center = float(s.mean())
        scale = float(s.std()) or 1.0
        model = LogisticRegression(C=_LOGISTIC_C, max_iter=1000)
        model.fit(((s - center) / scale)[:, None], genuine, sample_weight=weights)
        slope = float(model.coef_[0, 0]) / scale
        offset = float(model.intercept_[0]) - slope * center - float(logit(self.prior))
        if slope < 0.0:
            warnings.warn(
                "scores fall as trials become genuine (fitted LLR slope < 0); bioverify expects "
                "higher = more similar, so the calibration is flat (every LLR is 0)",
                UserWarning,
                stacklevel=3,
            )
            slope, offset = 0.0, 0.0
        self.slope_, self.offset_ = slope, offset

    def _fit_isotonic(self, s: np.ndarray, genuine: np.ndarray) -> None:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(increasing=True, out_of_bounds="clip")
        iso.fit(s, genuine.astype(np.float64))
        self.x_knots_ = np.asarray(iso.X_thresholds_, dtype=np.float64)
        self.p_knots_ = np.asarray(iso.y_thresholds_, dtype=np.float64)
        self.train_log_odds_ = float(logit(np.count_nonzero(genuine) / s.size))

    def llr(self, scores: ArrayLike) -> np.ndarray:
        """Natural-log likelihood ratios of ``scores``.

        Parameters
        ----------
        scores : array-like of float

        Returns
        -------
        numpy.ndarray
            ``float64``, the shape of ``scores``.

        Raises
        ------
        CalibrationError
            Not fitted.
        InvalidInput
            A score is NaN or not a number.
        """
        if not self.is_fitted:
            raise CalibrationError("the ScoreCalibrator is not fitted; call fit(scores, labels)")
        s = _as_score_array(scores)
        if self.method == "logistic":
            assert self.slope_ is not None and self.offset_ is not None
            return self.slope_ * s + self.offset_
        assert self.x_knots_ is not None and self.p_knots_ is not None
        assert self.train_log_odds_ is not None
        posterior = np.interp(s, self.x_knots_, self.p_knots_)
        posterior = np.clip(posterior, self.epsilon, 1.0 - self.epsilon)
        return np.asarray(logit(posterior) - self.train_log_odds_, dtype=np.float64)

    def probability(self, scores: ArrayLike, prior: float = 0.5) -> np.ndarray:
        """Posterior probability of "same identity": ``sigmoid(llr + logit(prior))``.

        Parameters
        ----------
        scores : array-like of float
        prior : float
            The prior of same-identity trials, in (0, 1).

        Returns
        -------
        numpy.ndarray
            ``float64``, the shape of ``scores``.

        Raises
        ------
        CalibrationError
            Not fitted.
        InvalidInput
            ``prior`` outside (0, 1), or a NaN score.
        """
        p = _check_prior("prior", prior)
        return np.asarray(expit(self.llr(scores) + logit(p)), dtype=np.float64)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able parameters; :meth:`from_dict` restores an identical map."""
        if not self.is_fitted:
            raise CalibrationError("the ScoreCalibrator is not fitted; nothing to save")
        out: dict[str, Any] = {"method": self.method, "prior": self.prior}
        if self.method == "logistic":
            out.update(slope=self.slope_, offset=self.offset_)
        else:
            assert self.x_knots_ is not None and self.p_knots_ is not None
            out.update(
                epsilon=self.epsilon,
                train_log_odds=self.train_log_odds_,
                scores=self.x_knots_.tolist(),
                posteriors=self.p_knots_.tolist(),
            )
        return out

    @classmethod
    def from_dict(cls, data: Any) -> ScoreCalibrator:
        """Rebuild a fitted calibrator from :meth:`to_dict` output.

        Raises :class:`CalibrationError` naming the offending key when anything is missing,
        mistyped, non-finite or (isotonic) not non-decreasing.
        """
        if not isinstance(data, dict):
            raise CalibrationError("calibrator must be a JSON object")
        method = data.get("method")
        if method not in METHODS:
            raise CalibrationError(f"calibrator.method must be one of {METHODS}, got {method!r}")
        expected = (
            {"method", "prior", "slope", "offset"}
            if method == "logistic"
            else {"method", "prior", "epsilon", "train_log_odds", "scores", "posteriors"}
        )
        missing = sorted(expected - data.keys())
        unknown = sorted(data.keys() - expected)
        if missing or unknown:
            raise CalibrationError(
                f"calibrator ({method}) has missing keys {missing} / unknown keys {unknown}"
            )
        prior = _finite(data, "prior")
        if not 0.0 < prior < 1.0:
            raise CalibrationError(f"calibrator.prior must be in (0, 1), got {prior!r}")
        if method == "logistic":
            out = cls("logistic", prior)
            out.slope_ = _finite(data, "slope")
            out.offset_ = _finite(data, "offset")
            if out.slope_ < 0.0:
                raise CalibrationError("calibrator.slope must be >= 0 (LLR rises with the score)")
            return out
        eps = _finite(data, "epsilon")
        if not 0.0 < eps < 0.5:
            raise CalibrationError(f"calibrator.epsilon must be in (0, 0.5), got {eps!r}")
        out = cls("isotonic", prior, eps)
        out.train_log_odds_ = _finite(data, "train_log_odds")
        x = _finite_list(data, "scores")
        p = _finite_list(data, "posteriors")
        if x.size == 0 or x.size != p.size:
            raise CalibrationError(
                "calibrator.scores and calibrator.posteriors must be non-empty and equally long"
            )
        if np.any(np.diff(x) < 0) or np.any(np.diff(p) < 0):
            raise CalibrationError("calibrator.scores and calibrator.posteriors must not decrease")
        if p[0] < 0.0 or p[-1] > 1.0:
            raise CalibrationError("calibrator.posteriors must lie in [0, 1]")
        out.x_knots_, out.p_knots_ = x, p
        return out


def _finite(data: dict[str, Any], key: str) -> float:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise CalibrationError(f"calibrator.{key} must be a finite number, got {value!r}")
    return float(value)


def _finite_list(data: dict[str, Any], key: str) -> np.ndarray:
    value = data[key]
    if not isinstance(value, list) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) for v in value
    ):
        raise CalibrationError(f"calibrator.{key} must be a list of finite numbers")
    return np.asarray(value, dtype=np.float64)


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
        Bits.

    Raises
    ------
    InvalidInput
        An empty array, a NaN or a value that is not a number.

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
        Bits.

    Raises
    ------
    InvalidInput
        Malformed scores or labels.

    Examples
    --------
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
    p = _check_prior("p_target", p_target)
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

    Raises
    ------
    InvalidInput
        An empty array or a NaN, ``p_target`` outside (0, 1) or non-positive costs.

    Examples
    --------
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
    "ISOTONIC_EPSILON",
    "METHODS",
    "CalibrationMethod",
    "ScoreCalibrator",
    "actual_dcf",
    "bayes_threshold",
    "cllr",
    "detection_cost",
    "min_cllr",
    "min_dcf",
]
