"""The calibration file: thresholds with known error rates plus a score → LLR map, as JSON.

:func:`fit_calibration` measures everything from genuine/impostor scores; :class:`Calibration`
holds the result and saves / loads it as versioned, strict JSON (no NaN; an infinite threshold
is the string ``"inf"``). Loading validates every field and refuses a file it cannot trust with
a :class:`CalibrationError` naming the file and the field.
"""

from __future__ import annotations

import json
import math
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from bioverify.atomic import write_atomic
from bioverify.calibration.calibration_reader import FORMAT_VERSION, SHA256, CalibrationReader
from bioverify.calibration.conditions import ConditionReport, measure_conditions
from bioverify.calibration.drift import ScoreQuantiles
from bioverify.calibration.llr import (
    CalibrationMethod,
    ScoreCalibrator,
    actual_dcf,
    cllr,
    min_cllr,
    min_dcf,
)
from bioverify.calibration.operating_points import OperatingPoint, operating_points
from bioverify.calibration.roc import RocCurve, check_discriminates, eer, validate_scores
from bioverify.errors import CalibrationError, InvalidInput, ModelMismatch

_LABEL = re.compile(r"\s*(far|frr)\s*=\s*((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*", re.IGNORECASE)


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _encode_threshold(value: float) -> float | str:
    return "inf" if value == math.inf else value


@dataclass
class Calibration:
    """Everything measured on one set of calibration trials.

    Made by :func:`fit_calibration`; saved and loaded as versioned, strict JSON
    (:meth:`save`, :meth:`load`). A model bundle's ``calibration.json`` is one; a
    :class:`~bioverify.verify.Verifier` takes its thresholds and rates from it.

    Attributes
    ----------
    n_genuine, n_impostor : int
        Trial counts.
    eer, eer_threshold : float
        Equal error rate and the (interpolated) threshold where it occurs.
    cllr : float
        Cllr (bits) of ``calibrator`` on the very trials it was fitted on (an optimistic
        self-evaluation).
    min_cllr : float
        Cllr after the best monotone calibration: ``cllr - min_cllr`` is the cost of
        miscalibration.
    min_dcf, min_dcf_threshold : float
        Lowest normalised detection cost at ``p_target`` (unit miss and false-accept
        costs) and its threshold (``+inf`` when rejecting everything is cheapest).
    actual_dcf : float
        Normalised detection cost of the Bayes decision on the calibrated LLRs.
    p_target : float
        The prior of genuine trials behind the detection costs.
    operating_points : list of OperatingPoint
        One threshold per target FAR, then per target FRR, with measured rates and
        confidence intervals.
    calibrator : ScoreCalibrator
        The fitted score → log-likelihood-ratio map.
    score_range : tuple of float
        Lowest and highest trial score.
    ci_method : {"identity-bootstrap", "clopper-pearson"}
        How the intervals were computed.
    n_resamples : int
        The identity-bootstrap size (0 with Clopper–Pearson intervals).
    confidence : float
        The intervals' confidence level.
    seed : int
        The bootstrap's seed.
    model_sha256 : str or None
        Binds the file to the model whose scores it calibrates (``None``: not bound).
    warnings : list of str
        Warnings raised while fitting (e.g. a target the trial count cannot support).
    created : str
        UTC time of the fit, ISO 8601.
    format_version : int
        The file format version.
    population : str or None
        Whose trials these are, in words.
    conditions : list of ConditionReport
        The rates of every operating point in each condition the trials came from
        (corpus, camera, degradation), worst FAR first.
    score_quantiles : ScoreQuantiles or None
        The genuine and impostor score distributions (for
        :func:`~bioverify.calibration.check_drift`).
    quality_ranges : dict of str to (float, float)
        The range (1st to 99th percentile) of each numeric quality value of the
        calibration's samples (face size, detector score, speech seconds…), so a probe
        outside it can be flagged.
    score_normalization : str or None
        The scores' normalisation: ``None`` for raw cosines, else the normaliser's key such
        as ``"as-norm top_k=200 cohort_sha256=…"`` (:mod:`bioverify.verify.score_norm`).

    See Also
    --------
    fit_calibration : measure one from trial scores.
    bioverify.calibration.check_calibration : does it hold on new labelled trials?

    Examples
    --------
    >>> from bioverify.verify import default_bundle
    >>> cal = Calibration.load(default_bundle("face") / "calibration.json")
    >>> cal.n_impostor, [op.label for op in cal.operating_points]
    (180000, ['FAR=0.01', 'FAR=0.001', 'FRR=0.05'])
    >>> op = cal.operating_point("FAR=0.01")
    >>> round(op.threshold, 4), round(op.frr, 4), op.ci_method
    (0.9286, 0.0996, 'identity-bootstrap')
    >>> round(float(cal.calibrator.probability([0.95])[0]), 3)  # P(same) at prior 0.5
    0.991
    """

    n_genuine: int
    n_impostor: int
    eer: float
    eer_threshold: float
    cllr: float
    min_cllr: float
    min_dcf: float
    min_dcf_threshold: float
    actual_dcf: float
    p_target: float
    operating_points: list[OperatingPoint]
    calibrator: ScoreCalibrator
    score_range: tuple[float, float]
    ci_method: str
    n_resamples: int
    confidence: float
    seed: int
    model_sha256: str | None = None
    warnings: list[str] = field(default_factory=list)
    created: str = field(default_factory=_utc_now)
    format_version: int = FORMAT_VERSION
    population: str | None = None
    conditions: list[ConditionReport] = field(default_factory=list)
    score_quantiles: ScoreQuantiles | None = None
    quality_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    score_normalization: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object :meth:`save` writes.

        Returns
        -------
        dict
            JSON-ready (an infinite ``min_dcf_threshold`` or operating-point threshold is
            the string ``"inf"``); :meth:`from_dict` reads it back.

        Examples
        --------
        >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
        >>> cal = fit_calibration(scores, [0] * 6 + [1] * 6, target_fars=[0.5])
        >>> data = cal.to_dict()
        >>> data["n_genuine"], data["n_impostor"], data["operating_points"][0]["threshold"]
        (6, 6, 0.4)
        >>> Calibration.from_dict(data).to_dict() == data
        True
        """
        return {
            "format_version": self.format_version,
            "created": self.created,
            "model_sha256": self.model_sha256,
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
            "eer": self.eer,
            "eer_threshold": self.eer_threshold,
            "cllr": self.cllr,
            "min_cllr": self.min_cllr,
            "p_target": self.p_target,
            "min_dcf": self.min_dcf,
            "min_dcf_threshold": _encode_threshold(self.min_dcf_threshold),
            "actual_dcf": self.actual_dcf,
            "score_range": list(self.score_range),
            "ci_method": self.ci_method,
            "confidence": self.confidence,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "operating_points": [op.to_dict() for op in self.operating_points],
            "calibrator": self.calibrator.to_dict(),
            "warnings": list(self.warnings),
            "population": self.population,
            "conditions": [c.to_dict() for c in self.conditions],
            "score_quantiles": (
                None if self.score_quantiles is None else self.score_quantiles.to_dict()
            ),
            "quality_ranges": {k: list(v) for k, v in self.quality_ranges.items()},
        } | (
            {}
            if self.score_normalization is None
            else {"score_normalization": self.score_normalization}
        )

    @classmethod
    def from_dict(cls, data: Any, source: str = "calibration") -> Calibration:
        """Validate a :meth:`to_dict` object and rebuild the calibration.

        Parameters
        ----------
        data : object
            A parsed JSON object, as :meth:`to_dict` makes it.
        source : str
            Names the origin (e.g. the file) in error messages.

        Returns
        -------
        Calibration

        Raises
        ------
        CalibrationError
            An unknown ``format_version``; missing, unknown or mistyped fields; rates
            outside [0, 1]; intervals with low > high; operating points whose measured rate
            exceeds their target or whose ``supported`` flag contradicts the trial counts;
            thresholds that are not monotone in their targets.

        Examples
        --------
        >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
        >>> cal = fit_calibration(scores, [0] * 6 + [1] * 6, target_fars=[0.5])
        >>> data = cal.to_dict() | {"eer": 1.5}
        >>> Calibration.from_dict(data, "my.json")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bioverify.errors.CalibrationError: my.json: ...eer...
        """
        return cls(**CalibrationReader(data, source).fields())

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the calibration as strict JSON.

        The write is atomic (temporary file, fsync, ``os.replace``): a crash leaves the old
        file or the new one, never a mix. Missing parent folders are created.

        Parameters
        ----------
        path : str or path-like
            The file to write (``calibration.json`` in a bundle folder to install it).

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        CalibrationError
            A NaN or infinite value that JSON cannot hold, or the file cannot be written
            (the previous file, if any, is unchanged).

        See Also
        --------
        load

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
        >>> cal = fit_calibration(scores, [0] * 6 + [1] * 6, target_fars=[0.5])
        >>> path = cal.save(Path(tempfile.mkdtemp()) / "bundle" / "calibration.json")
        >>> path.name, Calibration.load(path).to_dict() == cal.to_dict()
        ('calibration.json', True)
        """
        target = Path(path)
        try:
            text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        except ValueError as exc:
            raise CalibrationError(f"calibration holds a NaN or infinite value: {exc}") from exc
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            return write_atomic(target, text.encode("utf-8"))
        except OSError as exc:
            raise CalibrationError(
                f"cannot write calibration file {target} ({exc.strerror or exc}); the "
                "previous file, if any, is unchanged"
            ) from exc

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibration:
        """Read and validate a file written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            A calibration file (for example a bundle's ``calibration.json``).

        Returns
        -------
        Calibration

        Raises
        ------
        CalibrationError
            The file does not exist or cannot be read, is not UTF-8 strict JSON (NaN and
            Infinity are refused), or is not a valid calibration (see :meth:`from_dict`);
            the message names the file and the problem.

        Examples
        --------
        >>> from bioverify.verify import default_bundle
        >>> Calibration.load(default_bundle("voice") / "calibration.json").ci_method
        'identity-bootstrap'
        >>> Calibration.load("no/such/calibration.json")
        Traceback (most recent call last):
        ...
        bioverify.errors.CalibrationError: calibration file no/such/calibration.json does not exist
        """
        source = f"calibration file {path}"
        try:
            raw = Path(path).read_bytes()
        except FileNotFoundError as exc:
            raise CalibrationError(f"{source} does not exist") from exc
        except OSError as exc:
            raise CalibrationError(f"{source} cannot be read: {exc.strerror or exc}") from exc
        try:
            data = json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
        except UnicodeDecodeError as exc:
            raise CalibrationError(f"{source} is not UTF-8 text (byte {exc.start})") from exc
        except json.JSONDecodeError as exc:
            raise CalibrationError(
                f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
            ) from exc
        except ValueError as exc:
            raise CalibrationError(f"{source} is not strict JSON: {exc}") from exc
        except RecursionError as exc:
            raise CalibrationError(
                f"{source} is not a calibration (JSON nested too deeply)"
            ) from exc
        return cls.from_dict(data, source)

    def operating_point(self, label_or_target: str | float) -> OperatingPoint:
        """The operating point for a label or a target FAR.

        Parameters
        ----------
        label_or_target : str or float
            A label such as ``"FAR=0.001"`` or ``"frr=1e-2"`` (case and spaces ignored), or
            a number: a target FAR.

        Returns
        -------
        OperatingPoint
            The point whose target equals it (relative tolerance 1e-9).

        Raises
        ------
        CalibrationError
            Not a label, or the calibration has no such point (the message lists the
            available labels).

        Examples
        --------
        >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
        >>> cal = fit_calibration(scores, [0] * 6 + [1] * 6, target_fars=[0.5], target_frrs=[0.5])
        >>> cal.operating_point(0.5).label, cal.operating_point("frr = 0.5").threshold
        ('FAR=0.5', 0.8)
        >>> cal.operating_point("FAR=0.001")
        Traceback (most recent call last):
        ...
        bioverify.errors.CalibrationError: this calibration has no operating point FAR=0.001 \
(available: FAR=0.5, FRR=0.5); recalibrate with that target
        """
        if isinstance(label_or_target, str):
            match = _LABEL.fullmatch(label_or_target)
            if match is None:
                raise CalibrationError(
                    f"operating point {label_or_target!r} is not a label like 'FAR=0.001' "
                    "or 'FRR=0.01'"
                )
            kind, target = match.group(1).lower(), float(match.group(2))
        else:
            kind, target = "far", float(label_or_target)
        for op in self.operating_points:
            have = op.target_far if kind == "far" else op.target_frr
            if have is not None and math.isclose(have, target, rel_tol=1e-9):
                return op
        available = ", ".join(op.label for op in self.operating_points) or "none"
        raise CalibrationError(
            f"this calibration has no operating point {kind.upper()}={target:g} "
            f"(available: {available}); recalibrate with that target"
        )

    def check_model(self, sha256: str, score_normalization: str | None = None) -> None:
        """Check that this calibration fits a model's scores.

        Parameters
        ----------
        sha256 : str
            The model's sha256 (``Verifier.model_sha256``).
        score_normalization : str, optional
            The key of the verifier's score normalisation (``None``: raw cosines).

        Raises
        ------
        ModelMismatch
            The calibration is bound to another model, or was fitted on other scores.
            (An unbound calibration, ``model_sha256=None``, fits any model.)

        Examples
        --------
        >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
        >>> cal = fit_calibration(scores, [0] * 6 + [1] * 6, target_fars=[0.5])
        >>> cal.check_model("0" * 64)  # unbound and fitted on raw cosines: fits
        >>> cal.check_model("0" * 64, "as-norm top_k=200 cohort_sha256=ab")
        Traceback (most recent call last):
        ...
        bioverify.errors.ModelMismatch: the calibration was fitted on raw cosine scores, but \
the verifier scores with as-norm top_k=200 cohort_sha256=ab; recalibrate with these scores \
(bioverify calibrate --model) or load with the matching --score-norm none|bundle
        """
        if self.model_sha256 is not None and self.model_sha256 != sha256.lower():
            raise ModelMismatch(
                f"the calibration was made for model sha256 {self.model_sha256[:12]}…, not "
                f"{sha256[:12]}…; calibrate this model's scores (bioverify calibrate)"
            )
        if self.score_normalization != score_normalization:
            raw = "raw cosine scores"
            raise ModelMismatch(
                f"the calibration was fitted on {self.score_normalization or raw}, but the "
                f"verifier scores with {score_normalization or raw}; recalibrate with these "
                "scores (bioverify calibrate --model) or load with the matching "
                "--score-norm none|bundle"
            )


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


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
    )


__all__ = ["FORMAT_VERSION", "Calibration", "fit_calibration"]
