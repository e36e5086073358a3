"""Score → log-likelihood-ratio calibration.

A calibrated log-likelihood ratio (LLR, natural log) of a trial is
``log p(score | same) - log p(score | different)``; it turns into a posterior probability of
"same identity" for any stated prior: ``P(same) = sigmoid(llr + logit(prior))``.

- :class:`ScoreCalibrator` fits a monotone score → LLR map: prior-weighted logistic regression
  (Brümmer's linear calibration, as in the BOSARIS toolkit) or isotonic regression (PAV).

How well the LLRs are calibrated is measured by the costs in :mod:`bioverify.calibration.costs`
(Cllr, minCllr, DCF, minDCF, actual DCF).

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

from bioverify.calibration.costs import check_prior
from bioverify.calibration.roc import validate_scores
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
        self.prior = check_prior("prior", prior)
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
            Raw scores of the model the map was fitted for; scores outside the fitted range
            are extrapolated (logistic) or clipped to the end knots (isotonic).

        Returns
        -------
        numpy.ndarray
            ``float64`` LLRs, the shape of ``scores``: positive favours "same identity",
            0 is no evidence either way.

        Raises
        ------
        CalibrationError
            :meth:`fit` or :meth:`from_dict` has not set the map yet.
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
            ``float64`` probabilities in [0, 1], one per score in the shape of ``scores``.

        Raises
        ------
        CalibrationError
            The calibrator is not fitted.
        InvalidInput
            ``prior`` outside (0, 1), or a NaN score.
        """
        p = check_prior("prior", prior)
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


__all__ = [
    "ISOTONIC_EPSILON",
    "METHODS",
    "CalibrationMethod",
    "ScoreCalibrator",
]
