"""Fitting a calibration: from genuine/impostor trial scores to a :class:`Calibration`.

:func:`fit_calibration` runs the measurements of this package in order (ROC, EER, operating
points with intervals, the score → LLR map, the costs, rates per condition) and returns the
:class:`~bioverify.calibration.calibration_file.Calibration` that is saved as
``calibration.json``.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike

from bioverify.calibration.calibration_file import Calibration
from bioverify.calibration.calibration_reader import SHA256
from bioverify.calibration.conditions import measure_conditions
from bioverify.calibration.costs import actual_dcf, cllr, min_cllr, min_dcf
from bioverify.calibration.drift import ScoreQuantiles
from bioverify.calibration.intervals import IntervalSettings
from bioverify.calibration.llr import CalibrationMethod, ScoreCalibrator
from bioverify.calibration.operating_points import operating_points
from bioverify.calibration.quality_bins import fit_quality_bins, trial_thresholds
from bioverify.calibration.roc import RocCurve, check_discriminates, eer, validate_scores
from bioverify.errors import InvalidInput


def fit_calibration(
    scores: ArrayLike,
    labels: ArrayLike,
    *,
    target_fars: Sequence[float] = (1e-3,),
    target_frrs: Sequence[float] = (),
    subject_a: ArrayLike | None = None,
    subject_b: ArrayLike | None = None,
    p_target: float = 0.01,
    method: CalibrationMethod = "logistic",
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    model_sha256: str | None = None,
    force: bool = False,
    conditions: ArrayLike | None = None,
    population: str | None = None,
    quality_ranges: dict[str, tuple[float, float]] | None = None,
    score_normalization: str | None = None,
    pair_quality: ArrayLike | None = None,
    quality_measure: str | None = None,
) -> Calibration:
    """Measure a :class:`Calibration` from trial scores and labels.

    ROC → EER (linear interpolation) → one operating point per target FAR, then per target
    FRR, with confidence intervals → score → LLR calibrator (``method``) → Cllr, minCllr,
    minDCF and actual DCF at ``p_target``. Every warning raised on the way (e.g. a target
    the impostor count cannot support, by the rule of three) is kept in
    ``Calibration.warnings`` (one line each) and also re-emitted.

    Parameters
    ----------
    scores : array-like of float
        One finite score per trial (higher = more similar), from the model the calibration
        is for.
    labels : array-like of {0, 1} or bool
        1 / True for a genuine (same-identity) trial, 0 / False for an impostor trial; both
        kinds are needed.
    target_fars : sequence of float
        The target false-accept rates, each in (0, 1): one operating point each, with the
        lowest threshold whose measured FAR does not exceed it.
    target_frrs : sequence of float
        The target false-reject rates: one operating point each, with the highest
        threshold whose measured FRR does not exceed it.
    subject_a, subject_b : array-like, optional
        The identities of each trial's two sides (both or neither): identity-bootstrap
        confidence intervals instead of Clopper–Pearson, which assumes independent trials.
    p_target : float
        The prior of genuine trials of the detection costs, in (0, 1).
    method : {"logistic", "isotonic"}
        The score → LLR map (:class:`~bioverify.calibration.ScoreCalibrator`).
    n_resamples : int
        Identity-bootstrap resamples.
    confidence : float
        Confidence level of the intervals.
    seed : int
        Seed of the bootstrap.
    model_sha256 : str, optional
        The model's sha256 (64 lowercase hex digits): the calibration is then refused for
        other models.
    force : bool
        Calibrate scores that cannot tell genuine from impostor trials anyway.
    conditions : array-like of str, optional
        Each trial's condition (corpus, camera, degradation): every threshold is then
        chosen to hold its target in the worst condition with enough trials for it, and
        each condition's rates at every threshold are recorded (``Calibration.conditions``).
    population : str, optional
        Whose trials these are, in words (shown with every result).
    quality_ranges : dict of str to (float, float), optional
        The calibration samples' quality ranges (see :class:`Calibration`).
    score_normalization : str, optional
        The normalisation the scores had (``None``: raw cosines).
    pair_quality : array-like of float, optional
        Each trial's worse-sample value of ``quality_measure`` (NaN: unknown): the FAR
        thresholds then also follow that quality (``Calibration.quality_bins``: four bins
        of equal impostor counts), and the per-condition rates are those of the
        quality-dependent decisions.
    quality_measure : str, optional
        The quality value ``pair_quality`` holds (``"sharpness"``, ``"snr_db"``…).

    Returns
    -------
    Calibration

    Raises
    ------
    InvalidInput
        Malformed scores or labels (not 1-D, different lengths, NaN or infinite scores,
        labels other than 0/1, a single class), no target at all, a target outside (0, 1),
        only one of ``subject_a`` / ``subject_b``, a malformed ``model_sha256``,
        ``p_target`` outside (0, 1) or an unknown ``method``.
    CalibrationError
        Without ``force``: scores that cannot tell genuine from impostor trials — all
        (nearly) equal, as from a collapsed model, or an EER of
        :data:`~bioverify.calibration.roc.NEAR_CHANCE_EER` or more (their thresholds would
        look precise and mean nothing).

    Warns
    -----
    UserWarning
        A target the trial count cannot support (fewer than ``ceil(3 / target)`` trials of
        the class the rate counts): its point is flagged ``supported=False``.

    See Also
    --------
    Calibration.save : write it (``calibration.json`` in a bundle installs it).
    bioverify.calibration.check_calibration : check it on new labelled trials.
    bioverify.calibration.read_scores_csv : read trials from a CSV file.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> scores = np.concatenate([rng.normal(0.6, 0.1, 500), rng.normal(0.3, 0.1, 5000)])
    >>> labels = np.r_[np.ones(500), np.zeros(5000)]
    >>> cal = fit_calibration(scores, labels, target_fars=[0.01, 0.001], population="synthetic")
    >>> cal.n_genuine, cal.n_impostor, round(cal.eer, 3)
    (500, 5000, 0.06)
    >>> [(op.label, round(op.threshold, 3), round(op.frr, 3)) for op in cal.operating_points]
    [('FAR=0.01', 0.532, 0.254), ('FAR=0.001', 0.589, 0.482)]
    >>> cal.ci_method, [round(x, 4) for x in cal.operating_points[0].far_ci]
    ('clopper-pearson', [0.0074, 0.0132])

    With the identities of each trial the intervals come from an identity bootstrap, and
    with conditions every threshold holds its target in each of them:

    >>> subject_a, subject_b = rng.integers(0, 50, 5500), rng.integers(50, 100, 5500)
    >>> where = np.where(np.arange(5500) % 2 == 0, "indoor", "outdoor")
    >>> cal = fit_calibration(scores, labels, subject_a=subject_a, subject_b=subject_b,
    ...                       conditions=where, target_fars=[0.01], n_resamples=200)
    >>> cal.ci_method, sorted(c.name for c in cal.conditions)
    ('identity-bootstrap', ['indoor', 'outdoor'])

    Scores that do not discriminate are refused:

    >>> fit_calibration([0.5] * 10, [1] * 5 + [0] * 5)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bioverify.errors.CalibrationError: every trial scored 0.5 (range 0 < 0.001): ...
    """
    if not target_fars and not target_frrs:
        raise InvalidInput("give at least one target FAR or FRR, e.g. target_fars=(1e-3,)")
    if model_sha256 is not None and SHA256.fullmatch(model_sha256) is None:
        raise InvalidInput("model_sha256 must be 64 lowercase hex digits")
    if not 0.0 < float(p_target) < 1.0:
        raise InvalidInput(f"p_target must be in (0, 1), e.g. 0.01; got {p_target!r}")
    calibrator = ScoreCalibrator(method)  # checks the method before the slow steps
    s, genuine = validate_scores(scores, labels)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        curve = RocCurve.from_scores(s, genuine)
        equal = eer(curve)
        if not force:
            check_discriminates(s, equal.eer)
        points = operating_points(
            s,
            genuine,
            target_fars=target_fars,
            target_frrs=target_frrs,
            subject_a=subject_a,
            subject_b=subject_b,
            confidence=confidence,
            n_resamples=n_resamples,
            seed=seed,
            curve=curve,
            conditions=conditions,
        )
        calibrator.fit(s, genuine)
        llr = calibrator.llr(s)
        dcf_value, dcf_threshold = min_dcf(s, genuine, p_target, curve=curve)
        actual = actual_dcf(llr[genuine], llr[~genuine], p_target)
        cllr_value = cllr(llr[genuine], llr[~genuine])
        min_cllr_value = min_cllr(s, genuine)
    for record in caught:
        warnings.warn_explicit(
            record.message, record.category, record.filename, record.lineno, source=record.source
        )
    ci_method = points[0].ci_method
    settings = IntervalSettings(confidence, n_resamples, seed)
    bins = None
    if pair_quality is not None:
        if not quality_measure:
            raise InvalidInput("pair_quality needs its quality_measure")
        bins = fit_quality_bins(
            s, genuine, pair_quality, quality_measure, points,
            conditions=conditions, subject_a=subject_a, subject_b=subject_b, settings=settings,
        )  # fmt: skip
    per_condition = (
        []
        if conditions is None
        else measure_conditions(
            s,
            genuine,
            conditions,
            points,
            subject_a,
            subject_b,
            confidence=confidence,
            n_resamples=n_resamples,
            seed=seed,
            per_trial=None if bins is None else trial_thresholds(points, bins, pair_quality),
        )
    )
    return Calibration(
        n_genuine=curve.n_genuine,
        n_impostor=curve.n_impostor,
        eer=equal.eer,
        eer_threshold=equal.threshold,
        cllr=cllr_value,
        min_cllr=min_cllr_value,
        min_dcf=dcf_value,
        min_dcf_threshold=dcf_threshold,
        actual_dcf=actual,
        p_target=float(p_target),
        operating_points=points,
        calibrator=calibrator,
        score_range=(float(np.min(s)), float(np.max(s))),
        ci_method=ci_method,
        n_resamples=int(n_resamples) if ci_method == "identity-bootstrap" else 0,
        confidence=float(confidence),
        seed=int(seed),
        model_sha256=model_sha256,
        warnings=[" ".join(str(record.message).split()) for record in caught],
        population=population,
        conditions=per_condition,
        score_quantiles=ScoreQuantiles.of(s, genuine),
        quality_ranges=dict(quality_ranges or {}),
        score_normalization=score_normalization,
        quality_bins=bins,
    )


__all__ = ["fit_calibration"]
