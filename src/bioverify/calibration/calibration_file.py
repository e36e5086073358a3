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
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from bioverify.calibration.llr import (
    CalibrationMethod,
    ScoreCalibrator,
    actual_dcf,
    cllr,
    min_cllr,
    min_dcf,
)
from bioverify.calibration.operating_points import CI_METHODS, OperatingPoint, operating_points
from bioverify.calibration.roc import (
    RocCurve,
    check_discriminates,
    eer,
    rule_of_three_count,
    validate_scores,
)
from bioverify.errors import CalibrationError, InvalidInput, ModelMismatch

#: version of the JSON layout written by :meth:`Calibration.save`; :meth:`Calibration.load`
#: refuses any other
FORMAT_VERSION = 1

_SHA256 = re.compile(r"[0-9a-f]{64}")
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
    the model whose scores it calibrates (``None``: not bound).
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
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "calibration") -> Calibration:
        """Validate a :meth:`to_dict` object and rebuild the calibration.

        ``source`` names the origin (e.g. the file) in error messages. Raises
        :class:`CalibrationError` for an unknown ``format_version``, missing / unknown /
        mistyped fields, rates outside [0, 1], intervals with low > high, operating points
        whose measured rate exceeds their target or whose ``supported`` flag contradicts the
        trial counts, and thresholds that are not monotone in their targets.
        """
        return _Reader(data, source).calibration()

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
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        except OSError as exc:
            raise CalibrationError(f"cannot write calibration file {target}: {exc}") from exc
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o644)  # mkstemp creates 0600; a calibration is not a secret
            os.replace(tmp, target)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise CalibrationError(f"cannot write calibration file {target}: {exc}") from exc
        return target

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

    def check_model(self, sha256: str) -> None:
        """Raise :class:`ModelMismatch` when this calibration is bound to another model."""
        if self.model_sha256 is not None and self.model_sha256 != sha256.lower():
            raise ModelMismatch(
                f"the calibration was made for model sha256 {self.model_sha256[:12]}…, not "
                f"{sha256[:12]}…; calibrate this model's scores (bioverify calibrate)"
            )


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


class _Reader:
    """Field-by-field validation of a calibration object; every error names ``source``."""

    _FIELDS = frozenset(f.name for f in fields(Calibration))

    def __init__(self, data: Any, source: str) -> None:
        self.data = data
        self.source = source

    def fail(self, message: str) -> CalibrationError:
        return CalibrationError(f"{self.source}: {message}")

    def get(self, key: str, check: Callable[[Any], bool], expected: str) -> Any:
        value = self.data[key]
        if not check(value):
            raise self.fail(f"field {key!r} must be {expected}, got {value!r}")
        return value

    def number(self, key: str, lo: float = -math.inf, hi: float = math.inf) -> float:
        def ok(v: Any) -> bool:
            return _is_number(v) and math.isfinite(v) and lo <= v <= hi

        bounds = "a finite number" if (lo, hi) == (-math.inf, math.inf) else f"in [{lo}, {hi}]"
        return float(self.get(key, ok, bounds))

    def integer(self, key: str, lo: int) -> int:
        def ok(v: Any) -> bool:
            return isinstance(v, int) and not isinstance(v, bool) and v >= lo

        return int(self.get(key, ok, f"an integer >= {lo}"))

    def open_unit(self, key: str) -> float:
        def ok(v: Any) -> bool:
            return _is_number(v) and 0 < v < 1

        return float(self.get(key, ok, "a number in (0, 1)"))

    def calibration(self) -> Calibration:
        if not isinstance(self.data, dict):
            raise self.fail(f"must hold a JSON object, not {type(self.data).__name__}")
        if "format_version" not in self.data:
            raise self.fail("has no format_version; it is not a bioverify calibration file")
        version = self.data["format_version"]
        if version != FORMAT_VERSION or isinstance(version, bool):
            raise self.fail(
                f"format_version {version!r} is not supported (this bioverify reads version "
                f"{FORMAT_VERSION}); recalibrate or upgrade bioverify"
            )
        missing = sorted(self._FIELDS - self.data.keys())
        unknown = sorted(self.data.keys() - self._FIELDS)
        if missing:
            raise self.fail(f"missing field(s) {', '.join(missing)}")
        if unknown:
            raise self.fail(f"unknown field(s) {', '.join(unknown)}")

        created = self.get("created", _is_utc_timestamp, "an ISO 8601 UTC timestamp")
        sha = self.get(
            "model_sha256",
            lambda v: v is None or (isinstance(v, str) and _SHA256.fullmatch(v) is not None),
            "null or 64 lowercase hex digits",
        )
        n_genuine = self.integer("n_genuine", 1)
        n_impostor = self.integer("n_impostor", 1)
        score_range = self.get(
            "score_range",
            lambda v: (
                isinstance(v, list)
                and len(v) == 2
                and all(_is_number(x) and math.isfinite(x) for x in v)
                and v[0] <= v[1]
            ),
            "[min, max] finite numbers with min <= max",
        )
        ci_method = self.get("ci_method", lambda v: v in CI_METHODS, f"one of {CI_METHODS}")
        min_resamples = 1 if ci_method == "identity-bootstrap" else 0
        max_resamples = math.inf if ci_method == "identity-bootstrap" else 0
        n_resamples = self.get(
            "n_resamples",
            lambda v: (
                isinstance(v, int)
                and not isinstance(v, bool)
                and min_resamples <= v <= max_resamples
            ),
            ">= 1 with identity-bootstrap intervals and 0 with clopper-pearson",
        )
        min_dcf_threshold = self.get(
            "min_dcf_threshold",
            lambda v: v == "inf" or (_is_number(v) and math.isfinite(v)),
            'a finite number or "inf"',
        )
        warning_list = self.get(
            "warnings",
            lambda v: isinstance(v, list) and all(isinstance(w, str) for w in v),
            "a list of strings",
        )
        try:
            calibrator = ScoreCalibrator.from_dict(self.data["calibrator"])
        except CalibrationError as exc:
            raise self.fail(str(exc)) from exc
        return Calibration(
            n_genuine=n_genuine,
            n_impostor=n_impostor,
            eer=self.number("eer", 0.0, 1.0),
            eer_threshold=self.number("eer_threshold"),
            cllr=self.number("cllr", 0.0),
            min_cllr=self.number("min_cllr", 0.0),
            min_dcf=self.number("min_dcf", 0.0, 1.0),
            min_dcf_threshold=math.inf if min_dcf_threshold == "inf" else min_dcf_threshold,
            actual_dcf=self.number("actual_dcf", 0.0),
            p_target=self.open_unit("p_target"),
            operating_points=self.operating_points(n_genuine, n_impostor, ci_method),
            calibrator=calibrator,
            score_range=(float(score_range[0]), float(score_range[1])),
            ci_method=ci_method,
            n_resamples=n_resamples,
            confidence=self.open_unit("confidence"),
            seed=self.integer("seed", 0),
            model_sha256=sha,
            warnings=list(warning_list),
            created=created,
            format_version=FORMAT_VERSION,
        )

    def operating_points(
        self, n_genuine: int, n_impostor: int, ci_method: str
    ) -> list[OperatingPoint]:
        items = self.get("operating_points", lambda v: isinstance(v, list), "a list")
        points = []
        for i, item in enumerate(items):
            where = f"operating_points[{i}]"
            if not isinstance(item, dict):
                raise self.fail(f"{where} must be a JSON object")
            unknown = sorted(item.keys() - _OPERATING_POINT_FIELDS)
            if unknown:
                raise self.fail(f"{where} has unknown field(s) {', '.join(unknown)}")
            try:
                op = OperatingPoint.from_dict(item)
            except (CalibrationError, InvalidInput) as exc:
                raise self.fail(f"{where}: {exc}") from exc
            self.check_point(op, where, n_genuine, n_impostor, ci_method)
            points.append(op)
        self.check_monotone(points)
        return points

    def check_point(
        self, op: OperatingPoint, where: str, n_genuine: int, n_impostor: int, ci_method: str
    ) -> None:
        for name, (lo, hi) in (("far_ci", op.far_ci), ("frr_ci", op.frr_ci)):
            if lo > hi:
                raise self.fail(f"{where}.{name} has low {lo} > high {hi}")
        if op.ci_method != ci_method:
            raise self.fail(f"{where}.ci_method {op.ci_method!r} differs from {ci_method!r}")
        if op.target_far is not None:
            target, measured, have, rate = op.target_far, op.far, n_impostor, "far"
        else:
            assert op.target_frr is not None
            target, measured, have, rate = op.target_frr, op.frr, n_genuine, "frr"
        if not 0.0 < target < 1.0:
            raise self.fail(f"{where}.target_{rate} must be in (0, 1), got {target}")
        if measured > target:
            raise self.fail(f"{where}.{rate} {measured} exceeds its target {target}")
        if op.supported != (have >= rule_of_three_count(target)):
            raise self.fail(
                f"{where}.supported is {op.supported} but {have} trials give "
                f"{not op.supported} by the rule of three"
            )
        if rate == "frr" and math.isinf(op.threshold):
            raise self.fail(f"{where}.threshold must be finite for an FRR target")

    def check_monotone(self, points: Sequence[OperatingPoint]) -> None:
        """A stricter FAR target needs a threshold at least as high; a stricter FRR target
        one at most as high."""
        far_points = sorted((op for op in points if op.target_far is not None), key=_far_key)
        for looser, stricter in pairwise(far_points):
            if stricter.threshold < looser.threshold:
                raise self.fail(
                    f"operating point {stricter.label} has threshold {stricter.threshold}, "
                    f"below the {looser.threshold} of the looser {looser.label}"
                )
        frr_points = sorted((op for op in points if op.target_frr is not None), key=_frr_key)
        for looser, stricter in pairwise(frr_points):
            if stricter.threshold > looser.threshold:
                raise self.fail(
                    f"operating point {stricter.label} has threshold {stricter.threshold}, "
                    f"above the {looser.threshold} of the looser {looser.label}"
                )


_OPERATING_POINT_FIELDS = frozenset(f.name for f in fields(OperatingPoint))


def _far_key(op: OperatingPoint) -> float:
    return -(op.target_far or 0.0)


def _frr_key(op: OperatingPoint) -> float:
    return -(op.target_frr or 0.0)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_utc_timestamp(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        stamp = datetime.fromisoformat(value)
    except ValueError:
        return False
    return stamp.utcoffset() == timedelta(0)


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
) -> Calibration:
    """Measure a :class:`Calibration` from trial scores and labels (1 = genuine).

    Scores that cannot tell genuine from impostor trials — all (nearly) equal, as from a
    collapsed model, or an EER of :data:`~bioverify.calibration.roc.NEAR_CHANCE_EER` or more — raise
    :class:`CalibrationError` (their thresholds would look precise and mean nothing) unless
    ``force`` is true.

    ROC → EER (linear interpolation) → one operating point per target FAR, then per target
    FRR (identity-bootstrap CIs when ``subject_a``/``subject_b`` are given, else
    Clopper–Pearson) → score → LLR calibrator (``method``) → Cllr, minCllr, minDCF and actual
    DCF at ``p_target``. Every warning raised on the way (e.g. a target the impostor count
    cannot support) is kept in ``Calibration.warnings`` (as one line each) and also re-emitted.
    """
    if not target_fars and not target_frrs:
        raise InvalidInput("give at least one target FAR or FRR, e.g. target_fars=(1e-3,)")
    if model_sha256 is not None and _SHA256.fullmatch(model_sha256) is None:
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
    )


__all__ = ["FORMAT_VERSION", "Calibration", "fit_calibration"]
