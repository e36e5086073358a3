"""Reading a calibration file back: every field checked, every error naming the file.

Split from :mod:`bioverify.calibration.calibration_file` (which writes the files and fits
them); :meth:`Calibration.from_dict <bioverify.calibration.Calibration.from_dict>` calls
:class:`CalibrationReader`.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Any

from bioverify.calibration.conditions import ConditionReport
from bioverify.calibration.drift import ScoreQuantiles
from bioverify.calibration.llr import ScoreCalibrator
from bioverify.calibration.operating_points import CI_METHODS, OperatingPoint
from bioverify.calibration.quality_bins import QualityBins
from bioverify.calibration.roc import rule_of_three_count
from bioverify.errors import CalibrationError, InvalidInput

#: the version :meth:`Calibration.save` writes
FORMAT_VERSION = 2
#: versions :class:`CalibrationReader` accepts
READABLE_VERSIONS = (1, 2)
#: the fields of a version 1 file
V1_FIELDS = frozenset(
    {
        "format_version", "created", "model_sha256", "n_genuine", "n_impostor", "eer",
        "eer_threshold", "cllr", "min_cllr", "p_target", "min_dcf", "min_dcf_threshold",
        "actual_dcf", "score_range", "ci_method", "confidence", "n_resamples", "seed",
        "operating_points", "calibrator", "warnings",
    }
)  # fmt: skip
#: the fields version 2 adds
V2_FIELDS = frozenset({"population", "conditions", "score_quantiles", "quality_ranges"})
#: optional in version 2: the score normalisation the scores had (absent: raw cosines) and
#: quality-dependent FAR thresholds (absent: one threshold for every pair)
OPTIONAL_FIELDS = frozenset({"score_normalization", "quality_bins"})
SHA256 = re.compile(r"[0-9a-f]{64}")


class CalibrationReader:
    """Field-by-field validation of a calibration object; every error names ``source``.

    :meth:`fields` returns the keyword arguments of
    :class:`~bioverify.calibration.Calibration`. Version 1 files (before per-condition
    rates, the population, score quantiles and quality ranges) are read with those empty.
    """

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

    def fields(self) -> dict[str, Any]:
        if not isinstance(self.data, dict):
            raise self.fail(f"must hold a JSON object, not {type(self.data).__name__}")
        if "format_version" not in self.data:
            raise self.fail("has no format_version; it is not a bioverify calibration file")
        version = self.data["format_version"]
        if version not in READABLE_VERSIONS or isinstance(version, bool):
            raise self.fail(
                f"format_version {version!r} is not supported (this bioverify reads versions "
                f"{', '.join(map(str, READABLE_VERSIONS))}); recalibrate or upgrade bioverify"
            )
        expected = V1_FIELDS if version == 1 else V1_FIELDS | V2_FIELDS
        missing = sorted(expected - self.data.keys())
        unknown = sorted(self.data.keys() - expected - (OPTIONAL_FIELDS if version > 1 else set()))
        if missing:
            raise self.fail(f"missing field(s) {', '.join(missing)}")
        if unknown:
            raise self.fail(f"unknown field(s) {', '.join(unknown)}")

        created = self.get("created", _is_utc_timestamp, "an ISO 8601 UTC timestamp")
        sha = self.get(
            "model_sha256",
            lambda v: v is None or (isinstance(v, str) and SHA256.fullmatch(v) is not None),
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
        points = self.operating_points(n_genuine, n_impostor, ci_method)
        later = self.version_2_fields()
        bins = later["quality_bins"]
        labels = {op.label for op in points}
        if bins is not None and any(r.label not in labels for b in bins.bins for r in b.rates):
            raise self.fail("quality_bins hold rates of an operating point the file does not")
        return dict(
            **later,
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
            operating_points=points,
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

    def version_2_fields(self) -> dict[str, Any]:
        """Population, per-condition rates, score quantiles and quality ranges (empty in a
        version 1 file)."""
        if self.data["format_version"] == 1:
            return {"population": None, "conditions": [], "score_quantiles": None,
                    "quality_ranges": {}, "score_normalization": None,
                    "quality_bins": None}  # fmt: skip
        population = self.get(
            "population", lambda v: v is None or (isinstance(v, str) and v != ""),
            "null or a non-empty string",
        )  # fmt: skip
        items = self.get("conditions", lambda v: isinstance(v, list), "a list")
        conditions = []
        for i, item in enumerate(items):
            try:
                conditions.append(ConditionReport.from_dict(item))
            except CalibrationError as exc:
                raise self.fail(f"conditions[{i}]: {exc}") from exc
        quantiles = self.data["score_quantiles"]
        try:
            score_quantiles = None if quantiles is None else ScoreQuantiles.from_dict(quantiles)
        except CalibrationError as exc:
            raise self.fail(f"score_quantiles: {exc}") from exc
        ranges = self.get(
            "quality_ranges",
            lambda v: isinstance(v, dict) and all(
                isinstance(r, list) and len(r) == 2 and all(_is_number(x) for x in r)
                and math.isfinite(r[0]) and math.isfinite(r[1]) and r[0] <= r[1]
                for r in v.values()
            ),
            "an object of [low, high] finite ranges",
        )  # fmt: skip
        normalization = self.get(
            "score_normalization", lambda v: v is None or (isinstance(v, str) and v != ""),
            "null or a non-empty string",
        ) if "score_normalization" in self.data else None  # fmt: skip
        try:
            bins = self.data.get("quality_bins")
            quality_bins = None if bins is None else QualityBins.from_dict(bins)
        except CalibrationError as exc:
            raise self.fail(f"quality_bins: {exc}") from exc
        return {
            "quality_bins": quality_bins,
            "score_normalization": normalization,
            "population": population,
            "conditions": conditions,
            "score_quantiles": score_quantiles,
            "quality_ranges": {str(k): (float(v[0]), float(v[1])) for k, v in ranges.items()},
        }

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


def read_strict_json(path: str | os.PathLike[str], source: str) -> Any:
    """The JSON value in the file ``path``: UTF-8, strict (NaN and Infinity refused); every
    problem a :class:`CalibrationError` starting with ``source``."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError as exc:
        raise CalibrationError(f"{source} does not exist") from exc
    except OSError as exc:
        raise CalibrationError(f"{source} cannot be read: {exc.strerror or exc}") from exc
    try:
        return json.loads(raw.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError as exc:
        raise CalibrationError(f"{source} is not UTF-8 text (byte {exc.start})") from exc
    except json.JSONDecodeError as exc:
        raise CalibrationError(
            f"{source} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    except ValueError as exc:
        raise CalibrationError(f"{source} is not strict JSON: {exc}") from exc
    except RecursionError as exc:
        raise CalibrationError(f"{source} is not a calibration (JSON nested too deeply)") from exc


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not allowed")


__all__ = ["FORMAT_VERSION", "READABLE_VERSIONS", "CalibrationReader", "read_strict_json"]
