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

    Rates are fractions in [0, 1]. ``cllr`` is the Cllr (bits) of ``calibrator`` on the very
    trials it was fitted on (an optimistic self-evaluation), ``min_cllr`` the Cllr after the
    best monotone calibration. ``min_dcf`` / ``actual_dcf`` are normalised detection costs at
    ``p_target`` with unit miss and false-accept costs; ``min_dcf_threshold`` is ``+inf`` when
    rejecting everything is cheapest. ``n_resamples`` is the identity-bootstrap size behind the
    confidence intervals (0 with Clopper–Pearson intervals). ``model_sha256`` binds the file to
    the model whose scores it calibrates (``None``: not bound), and ``score_normalization``
    to the scores' normalisation (``None``: raw cosines; else the normaliser's key, such as
    ``"as-norm top_k=200 cohort_sha256=…"``, see :mod:`bioverify.verify.score_norm`).

    Where the rates hold: ``population`` says whose trials they were measured on (``None``:
    not stated); ``conditions`` gives the rates of every operating point in each condition
    the trials came from (corpus, camera, degradation), worst FAR first; ``score_quantiles``
    keeps the genuine and impostor score distributions (for drift checks); ``quality_ranges``
    the range (1st to 99th percentile) of each numeric quality value of the calibration's
    samples (face size, detector score, speech seconds…), so a probe outside it can be
    flagged.
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
        """The JSON object :meth:`save` writes."""
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

        ``source`` names the origin (e.g. the file) in error messages. Raises
        :class:`CalibrationError` for an unknown ``format_version``, missing / unknown /
        mistyped fields, rates outside [0, 1], intervals with low > high, operating points
        whose measured rate exceeds their target or whose ``supported`` flag contradicts the
        trial counts, and thresholds that are not monotone in their targets.
        """
        return cls(**CalibrationReader(data, source).fields())

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write strict JSON to ``path`` atomically (temporary file + ``os.replace``),
        creating missing parent folders; returns the path."""
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
        """Read and validate a file written by :meth:`save` (see :meth:`from_dict`)."""
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
        """The operating point for a label such as ``"FAR=0.001"`` / ``"frr=1e-2"`` or a
        number (a target FAR). Raises :class:`CalibrationError` listing the available labels
        when there is none."""
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
        """Raise :class:`ModelMismatch` when this calibration is bound to another model, or
        was fitted on other scores than ``score_normalization`` (``None``: raw cosines).

        Examples
        --------
        >>> cal = fit_calibration([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1], force=True)
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
    """Measure a :class:`Calibration` from trial scores and labels (1 = genuine).

    Scores that cannot tell genuine from impostor trials — all (nearly) equal, as from a
    collapsed model, or an EER of :data:`~bioverify.calibration.roc.NEAR_CHANCE_EER` or more — raise
    :class:`CalibrationError` (their thresholds would look precise and mean nothing) unless
    ``force`` is true.

    ``conditions`` names each trial's condition (corpus, camera, degradation): every
    threshold is then chosen to hold its target in the worst condition with enough trials
    for it, and each condition's rates at every threshold are recorded
    (``Calibration.conditions``). ``population`` says in words whose trials these are;
    ``quality_ranges`` the samples' quality ranges (see :class:`Calibration`);
    ``score_normalization`` the normalisation the scores had (``None``: raw cosines).

    ROC → EER (linear interpolation) → one operating point per target FAR, then per target
    FRR (identity-bootstrap CIs when ``subject_a``/``subject_b`` are given, else
    Clopper–Pearson) → score → LLR calibrator (``method``) → Cllr, minCllr, minDCF and actual
    DCF at ``p_target``. Every warning raised on the way (e.g. a target the impostor count
    cannot support) is kept in ``Calibration.warnings`` (as one line each) and also re-emitted.
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
