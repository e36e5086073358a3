"""ROC curves of verification scores: EER, thresholds at a target FAR/FRR.

The TAR@FAR summary of a score set is :func:`bioverify.calibration.summary.summarize`.

Conventions (``docs/architecture.md``): a higher score means more similar; a threshold ``t``
accepts ``score >= t``; label ``True``/``1`` is a genuine trial, ``False``/``0`` an impostor
trial; FAR = accepted impostors / impostors and FRR = rejected genuines / genuines.

The ROC is evaluated at every unique score (plus ``+inf``, where nothing is accepted), so every
rate reported here is a *measured* rate: at a threshold equal to a tied score, every trial with
that score is accepted.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.special import ndtri

from bioverify.errors import CalibrationError, InvalidInput


def validate_scores(scores: ArrayLike, labels: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Check a score/label pair and return ``(float64 scores, bool labels)`` (True = genuine).

    Raises :class:`InvalidInput` for non-1-D or empty arrays, different lengths, NaN/inf
    scores, labels other than 0/1, or when only one class is present.
    """
    try:
        s = np.asarray(scores, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"scores must be numbers: {exc}") from exc
    lab = np.asarray(labels)
    if s.ndim != 1 or lab.ndim != 1:
        raise InvalidInput(
            f"scores and labels must be 1-D arrays, got shapes {s.shape} and {lab.shape}"
        )
    if s.shape[0] != lab.shape[0]:
        raise InvalidInput(
            f"scores and labels differ in length ({s.shape[0]} vs {lab.shape[0]}); "
            "give one label per score"
        )
    if s.shape[0] == 0:
        raise InvalidInput("no scores given; need at least one genuine and one impostor trial")
    n_bad = s.size - int(np.count_nonzero(np.isfinite(s)))
    if n_bad:
        raise InvalidInput(
            f"{n_bad} of {s.size} scores are NaN or infinite; remove or fix those trials"
        )
    if lab.dtype == np.bool_:
        genuine = lab
    else:
        if lab.dtype.kind not in "iuf":
            raise InvalidInput(f"labels must be 0/1 or booleans, got dtype {lab.dtype}")
        genuine = lab == 1
        n_other = lab.size - int(np.count_nonzero(genuine)) - int(np.count_nonzero(lab == 0))
        if n_other:
            raise InvalidInput(
                f"{n_other} labels are neither 0 (impostor) nor 1 (genuine); labels must be 0 or 1"
            )
    n_genuine = int(np.count_nonzero(genuine))
    if n_genuine == 0:
        raise InvalidInput("no genuine trials (label 1); need both genuine and impostor trials")
    if n_genuine == genuine.size:
        raise InvalidInput("no impostor trials (label 0); need both genuine and impostor trials")
    return s, genuine


def rule_of_three_count(target: float) -> int:
    """Trials needed to support an error rate of ``target``: ``ceil(3 / target)``.

    With ``n`` trials and no errors, the 95 % upper bound on the rate is about ``3 / n``, so a
    target below ``3 / n`` cannot be demonstrated. (The tiny shrink guards against ``3 / 0.001``
    evaluating to ``3000.0000000000005``.)
    """
    return math.ceil(3.0 / target * (1.0 - 1e-12))


def _check_rate(name: str, value: float) -> float:
    v = float(value)
    if not 0.0 <= v <= 1.0:
        raise InvalidInput(f"{name} must be a rate in [0, 1], got {value!r}")
    return v


def _frozen(a: np.ndarray) -> np.ndarray:
    a.flags.writeable = False
    return a


@dataclass(frozen=True, eq=False)
class RocCurve:
    """Measured FAR and FRR at every unique score threshold.

    ``thresholds`` is strictly decreasing and starts with ``+inf`` (accept nothing: FAR 0,
    FRR 1), followed by every unique score; at the last (lowest score) threshold everything is
    accepted (FAR 1, FRR 0). This matches ``sklearn.metrics.roc_curve(labels, scores,
    drop_intermediate=False)``: ``far`` equals its ``fpr`` exactly, ``frr`` equals
    ``(P - tps) / P`` exactly (sklearn's ``det_curve`` formula) and agrees with ``1 - tpr`` to
    within one unit in the last place.

    Attributes
    ----------
    thresholds : numpy.ndarray
        ``float64 [K]``, strictly decreasing, ``thresholds[0] == inf``.
    far, frr : numpy.ndarray
        ``float64 [K]``: the measured rates when accepting ``score >= thresholds[k]``.
    n_genuine, n_impostor : int
        Trial counts.

    Examples
    --------
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
    >>> labels = [0] * 6 + [1] * 6
    >>> curve = RocCurve.from_scores(scores, labels)
    >>> curve.thresholds[:3].tolist(), curve.frr[:3].round(3).tolist()
    ([inf, 0.95, 0.9], [1.0, 0.833, 0.667])
    >>> curve.rates_at(0.5)  # (FAR, FRR) accepting score >= 0.5
    (0.3333333333333333, 0.16666666666666666)
    """

    thresholds: np.ndarray
    far: np.ndarray
    frr: np.ndarray
    n_genuine: int
    n_impostor: int

    @property
    def tar(self) -> np.ndarray:
        """True accept rate, ``1 - frr``."""
        return 1.0 - self.frr

    @classmethod
    def from_scores(cls, scores: ArrayLike, labels: ArrayLike) -> RocCurve:
        """Build the curve of trial scores and labels.

        One full sort plus one sort of the smaller class: the accepted count at each unique
        score ``u`` is ``N - (first index of u in the ascending sort)``; the smaller class's
        accepted count comes from a ``searchsorted`` of the unique scores into its own
        sorted scores, the other class's by subtraction.

        Parameters
        ----------
        scores : array-like of float
            One finite score per trial; ties share one ROC point.
        labels : array-like of {0, 1} or bool
            1 / True = genuine; both classes are needed.

        Returns
        -------
        RocCurve
            Read-only arrays, one point per unique score plus the ``+inf`` point.

        Raises
        ------
        InvalidInput
            Not 1-D, different lengths, empty, NaN or infinite scores, labels other than
            0/1, or a single class.
        """
        s, genuine = validate_scores(scores, labels)
        n = s.size
        n_genuine = int(np.count_nonzero(genuine))
        n_impostor = n - n_genuine

        ascending = np.sort(s)
        starts = np.empty(n, dtype=bool)
        starts[0] = True
        np.not_equal(ascending[1:], ascending[:-1], out=starts[1:])
        first = np.flatnonzero(starts)[::-1]  # descending unique scores
        unique_desc = ascending[first]
        accepted = n - first

        minority_is_genuine = n_genuine <= n_impostor
        minority = np.sort(s[genuine] if minority_is_genuine else s[~genuine])
        minority_accepted = minority.size - np.searchsorted(minority, unique_desc, side="left")
        if minority_is_genuine:
            gen_accepted, imp_accepted = minority_accepted, accepted - minority_accepted
        else:
            gen_accepted, imp_accepted = accepted - minority_accepted, minority_accepted

        k = unique_desc.size + 1
        thresholds = np.empty(k)
        thresholds[0] = np.inf
        thresholds[1:] = unique_desc
        far = np.empty(k)
        far[0] = 0.0
        np.divide(imp_accepted, n_impostor, out=far[1:])
        frr = np.empty(k)
        frr[0] = 1.0
        np.divide(n_genuine - gen_accepted, n_genuine, out=frr[1:])
        return cls(_frozen(thresholds), _frozen(far), _frozen(frr), n_genuine, n_impostor)

    def index_at(self, thresholds: ArrayLike) -> np.ndarray:
        """Index of the ROC point whose acceptances equal those of ``score >= t`` for each t.

        That is the lowest curve threshold that is ``>= t`` (``+inf`` when t exceeds every
        score; the lowest score when t is below every score).
        """
        t = np.asarray(thresholds, dtype=np.float64)
        if np.isnan(t).any():
            raise InvalidInput("threshold is NaN; give a number (or inf to accept nothing)")
        ascending = self.thresholds[::-1]
        below = np.searchsorted(ascending, t, side="left")
        return (self.thresholds.size - 1 - below).astype(np.intp)

    def rates_at(self, threshold: float) -> tuple[float, float]:
        """Measured ``(far, frr)`` when accepting ``score >= threshold``.

        Raises
        ------
        InvalidInput
            ``threshold`` is NaN.
        """
        i = int(self.index_at(threshold))
        return float(self.far[i]), float(self.frr[i])

    def det_points(self) -> tuple[np.ndarray, np.ndarray]:
        """``(probit(far), probit(frr))`` for a DET plot (normal-deviate axes, the standard
        normal quantile function, ``scipy.stats.norm.ppf``).

        Rates of exactly 0 or 1 have no finite probit; each rate is clipped into
        ``[0.5 / n, 1 - 0.5 / n]`` with ``n`` its trial count (half a trial), so those points
        sit just beyond the smallest measurable rate instead of at infinity.
        """
        far_eps = 0.5 / self.n_impostor
        frr_eps = 0.5 / self.n_genuine
        return (
            ndtri(np.clip(self.far, far_eps, 1.0 - far_eps)),
            ndtri(np.clip(self.frr, frr_eps, 1.0 - frr_eps)),
        )


@dataclass(frozen=True)
class EqualErrorRate:
    """The rate where FAR equals FRR, and the (interpolated) threshold where that happens."""

    eer: float
    threshold: float


def eer(curve: RocCurve) -> EqualErrorRate:
    """Equal error rate by linear interpolation between adjacent ROC points.

    ``FAR - FRR`` is strictly increasing along the curve (from -1 at ``+inf`` to +1 at the
    lowest score). With ``i`` the first point where it is ``>= 0``:

    - if it is ``> 0``, the EER is the crossing of the straight segment between points
      ``i - 1`` and ``i``: ``w = -d[i-1] / (d[i] - d[i-1])``, ``eer = far[i-1] + w *
      (far[i] - far[i-1])`` (equal to the FRR interpolated with the same ``w``), and the
      threshold is interpolated with the same ``w`` — except when point ``i - 1`` is the
      ``+inf`` threshold, where the finite threshold ``thresholds[i]`` is used;
    - if it is exactly 0 (FAR = FRR measured at a score), every threshold in
      ``(thresholds[i+1], thresholds[i]]`` gives those rates and the midpoint of that range is
      reported. For perfectly separated classes this is EER 0 at the midpoint between the
      lowest genuine and the highest impostor score.

    Parameters
    ----------
    curve : RocCurve

    Returns
    -------
    EqualErrorRate
        ``eer`` (a rate in [0, 1]) and ``threshold``.

    Examples
    --------
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
    >>> labels = [0] * 6 + [1] * 6
    >>> eer(RocCurve.from_scores(scores, labels))
    EqualErrorRate(eer=0.16666666666666666, threshold=0.525)
    >>> eer(RocCurve.from_scores([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]))  # separated
    EqualErrorRate(eer=0.0, threshold=0.5)
    """
    d = curve.far - curve.frr
    i = int(np.searchsorted(d, 0.0, side="left"))
    if d[i] == 0.0:
        return EqualErrorRate(
            float(curve.far[i]), float((curve.thresholds[i] + curve.thresholds[i + 1]) / 2)
        )
    w = -d[i - 1] / (d[i] - d[i - 1])
    rate = curve.far[i - 1] + w * (curve.far[i] - curve.far[i - 1])
    if np.isinf(curve.thresholds[i - 1]):
        threshold = curve.thresholds[i]
    else:
        threshold = curve.thresholds[i - 1] + w * (curve.thresholds[i] - curve.thresholds[i - 1])
    return EqualErrorRate(float(rate), float(threshold))


def index_at_far(curve: RocCurve, target: float) -> int:
    """Index of the ROC point of :func:`threshold_at_far`: the lowest threshold whose
    measured FAR does not exceed ``target``.

    Examples
    --------
    >>> curve = RocCurve.from_scores([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])
    >>> i = index_at_far(curve, 0.0)
    >>> float(curve.thresholds[i]), float(curve.far[i]), float(curve.frr[i])
    (0.8, 0.0, 0.5)
    """
    target = _check_rate("target FAR", target)
    return int(np.searchsorted(curve.far, target, side="right")) - 1


def _index_at_frr(curve: RocCurve, target: float) -> int:
    target = _check_rate("target FRR", target)
    return int(np.searchsorted(-curve.frr, -target, side="left"))


def threshold_at_far(curve: RocCurve, target: float) -> float:
    """The lowest threshold whose measured FAR is ``<= target`` (the best TAR meeting it).

    Ties are measured honestly: at a threshold equal to a tied score all trials with that
    score are accepted, so e.g. impostor scores ``[0.9, 0.9, 0.5]`` give FAR 2/3 at 0.9.
    Returns ``+inf`` (accept nothing) when even the highest score's FAR exceeds ``target``.

    Parameters
    ----------
    curve : RocCurve
    target : float
        The highest FAR to allow, in [0, 1].

    Returns
    -------
    float
        A score of the curve, or ``+inf`` when no score meets ``target``.

    Raises
    ------
    InvalidInput
        ``target`` is outside [0, 1] or NaN.

    See Also
    --------
    bioverify.calibration.operating_points : thresholds with their rates and intervals.

    Examples
    --------
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
    >>> labels = [0] * 6 + [1] * 6
    >>> curve = RocCurve.from_scores(scores, labels)
    >>> threshold_at_far(curve, 0.2), curve.rates_at(0.55)
    (0.55, (0.16666666666666666, 0.16666666666666666))
    """
    return float(curve.thresholds[index_at_far(curve, target)])


def threshold_at_frr(curve: RocCurve, target: float) -> float:
    """The highest threshold whose measured FRR is ``<= target`` (the most secure one).

    Parameters
    ----------
    curve, target
        As for :func:`threshold_at_far`, with ``target`` the highest FRR to allow.

    Returns
    -------
    float
        A score of the curve (the lowest score accepts every trial, FRR 0), or ``+inf``
        when ``target`` is 1.

    Raises
    ------
    InvalidInput
        ``target`` is not a rate: below 0, above 1 or NaN.

    Examples
    --------
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
    >>> labels = [0] * 6 + [1] * 6
    >>> threshold_at_frr(RocCurve.from_scores(scores, labels), 0.5)
    0.8
    """
    return float(curve.thresholds[_index_at_frr(curve, target)])


#: an EER at or above this is too close to chance (0.5) to calibrate on
NEAR_CHANCE_EER = 0.4
#: scores spanning less than this are one value: the model's embeddings collapsed
COLLAPSED_SCORE_RANGE = 1e-3


def check_discriminates(scores: np.ndarray, eer_value: float) -> None:
    """Raise :class:`CalibrationError` when trial scores cannot separate genuine from
    impostor trials: a score range under :data:`COLLAPSED_SCORE_RANGE` or an EER of at
    least :data:`NEAR_CHANCE_EER`.

    Examples
    --------
    >>> check_discriminates(np.array([0.1, 0.9, 0.2, 0.8]), 0.0)
    >>> check_discriminates(np.ones(4), 0.5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bioverify.errors.CalibrationError: every trial scored 1 (range 0 < 0.001): the model's ...
    """
    spread = float(np.ptp(scores))
    if spread < COLLAPSED_SCORE_RANGE:
        raise CalibrationError(
            f"every trial scored {float(np.median(scores)):.4g} (range {spread:.3g} < "
            f"{COLLAPSED_SCORE_RANGE:g}): the model's embeddings have collapsed; retrain it, "
            "or pass --force (force=True) to calibrate anyway"
        )
    if eer_value >= NEAR_CHANCE_EER:
        raise CalibrationError(
            f"EER {100 * eer_value:.1f} % on these trials is near chance (>= "
            f"{100 * NEAR_CHANCE_EER:.0f} %): the model cannot tell these identities apart; "
            "check the data and the model, or pass --force (force=True) to calibrate anyway"
        )
