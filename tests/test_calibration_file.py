"""fit_calibration against the core functions it orchestrates, and the calibration file:
strict JSON, atomic save, and a validating load that refuses every kind of broken file."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bioverify.calibration import (
    Calibration,
    RocCurve,
    ScoreCalibrator,
    cllr,
    eer,
    fit_calibration,
    min_cllr,
    min_dcf,
    threshold_at_far,
    threshold_at_frr,
)
from bioverify.calibration.calibration_file import FORMAT_VERSION
from bioverify.calibration.costs import actual_dcf
from bioverify.errors import CalibrationError, InvalidInput, ModelMismatch
from helpers import normal_trials

SHA = "ab" * 32


@pytest.fixture(scope="module")
def fitted() -> tuple[Calibration, np.ndarray, np.ndarray]:
    scores, labels = normal_trials(400, 4000, decimals=3)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibration = fit_calibration(
            scores, labels, target_fars=(1e-2, 1e-3, 1e-4), target_frrs=(0.05, 0.2)
        )
    return calibration, scores, labels


def test_fit_calibration_agrees_with_the_core_functions(fitted) -> None:
    calibration, scores, labels = fitted
    curve = RocCurve.from_scores(scores, labels)
    equal = eer(curve)
    assert (calibration.n_genuine, calibration.n_impostor) == (400, 4000)
    assert (calibration.eer, calibration.eer_threshold) == (equal.eer, equal.threshold)
    thresholds = [op.threshold for op in calibration.operating_points]
    assert thresholds == [
        threshold_at_far(curve, 1e-2),
        threshold_at_far(curve, 1e-3),
        threshold_at_far(curve, 1e-4),
        threshold_at_frr(curve, 0.05),
        threshold_at_frr(curve, 0.2),
    ]
    assert [op.supported for op in calibration.operating_points] == [
        True,
        True,
        False,
        True,
        True,
    ]
    independent = ScoreCalibrator("logistic").fit(scores, labels).llr(scores)
    assert calibration.cllr == pytest.approx(cllr(independent[labels], independent[~labels]))
    assert calibration.min_cllr == min_cllr(scores, labels)
    assert calibration.min_cllr <= calibration.cllr
    assert (calibration.min_dcf, calibration.min_dcf_threshold) == min_dcf(scores, labels, 0.01)
    assert calibration.actual_dcf == pytest.approx(
        actual_dcf(independent[labels], independent[~labels], 0.01)
    )
    assert calibration.score_range == (scores.min(), scores.max())
    assert (calibration.ci_method, calibration.n_resamples) == ("clopper-pearson", 0)
    assert calibration.model_sha256 is None
    assert calibration.format_version == FORMAT_VERSION


def test_fit_calibration_keeps_and_reemits_warnings() -> None:
    scores, labels = normal_trials(50, 500, decimals=3)
    with pytest.warns(UserWarning, match="rule of three") as record:
        calibration = fit_calibration(scores, labels, target_fars=(1e-3,))
    assert len(calibration.warnings) == 1
    assert "FAR=0.001" in calibration.warnings[0] and "500" in calibration.warnings[0]
    assert str(record[0].message) == calibration.warnings[0]
    assert calibration.operating_points[0].supported is False


def test_fit_calibration_bootstraps_by_identity_when_subjects_given() -> None:
    rng = np.random.default_rng(1)
    scores, labels = normal_trials(300, 3000, decimals=3)
    subject_a = rng.integers(0, 40, scores.size).astype(str)
    subject_b = np.where(labels, subject_a, rng.integers(40, 80, scores.size).astype(str))
    calibration = fit_calibration(
        scores,
        labels,
        target_fars=(1e-2,),
        subject_a=subject_a,
        subject_b=subject_b,
        n_resamples=200,
        method="isotonic",
    )
    assert (calibration.ci_method, calibration.n_resamples) == ("identity-bootstrap", 200)
    assert calibration.calibrator.method == "isotonic"
    op = calibration.operating_points[0]
    assert op.ci_method == "identity-bootstrap"
    assert op.far_ci[0] <= op.far <= op.far_ci[1]


def test_fit_calibration_rejects_bad_arguments() -> None:
    scores, labels = normal_trials(20, 200, decimals=3)
    with pytest.raises(InvalidInput, match="at least one target"):
        fit_calibration(scores, labels, target_fars=())
    with pytest.raises(InvalidInput, match="model_sha256"):
        fit_calibration(scores, labels, model_sha256="xyz")
    with pytest.raises(InvalidInput, match="p_target"):
        fit_calibration(scores, labels, p_target=1.0)
    with pytest.raises(InvalidInput, match="method"):
        fit_calibration(scores, labels, method="probit")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="NaN"):
        fit_calibration(np.r_[scores[:-1], np.nan], labels)
    with pytest.raises(InvalidInput, match="subject_b"):
        fit_calibration(scores, labels, subject_a=np.zeros(scores.size))


# ---- save / load --------------------------------------------------------------------------


def test_save_load_round_trip(fitted, tmp_path: Path) -> None:
    calibration, scores, _ = fitted
    path = calibration.save(tmp_path / "nested" / "cal.json")
    assert path == tmp_path / "nested" / "cal.json"
    assert sorted(p.name for p in path.parent.iterdir()) == ["cal.json"]  # no temp file left
    assert path.stat().st_mode & 0o777 == 0o644
    text = path.read_text()
    json.loads(text, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    loaded = Calibration.load(path)
    assert loaded.to_dict() == calibration.to_dict()
    assert loaded.operating_points == calibration.operating_points
    np.testing.assert_array_equal(loaded.calibrator.llr(scores), calibration.calibrator.llr(scores))


def test_infinite_thresholds_are_written_as_inf(tmp_path: Path) -> None:
    # the highest score is an impostor's: no threshold reaches FAR 1e-3 -> +inf (accept none);
    # at p_target 1e-3 rejecting everything is cheapest -> minDCF threshold +inf
    scores = [0.9, 0.2, 0.3, 0.8, 0.95]
    labels = [1, 0, 0, 1, 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibration = fit_calibration(scores, labels, target_fars=(1e-3,), p_target=1e-3)
    assert calibration.operating_points[0].threshold == math.inf
    assert calibration.min_dcf_threshold == math.inf
    path = calibration.save(tmp_path / "cal.json")
    raw = json.loads(path.read_text())
    assert raw["operating_points"][0]["threshold"] == "inf"
    assert raw["min_dcf_threshold"] == "inf"
    loaded = Calibration.load(path)
    assert loaded.operating_points[0].threshold == math.inf
    assert loaded.min_dcf_threshold == math.inf


def test_save_overwrites_and_reports_unwritable_targets(fitted, tmp_path: Path) -> None:
    calibration = fitted[0]
    path = tmp_path / "cal.json"
    path.write_text("old")
    calibration.save(path)
    assert Calibration.load(path).eer == calibration.eer
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(CalibrationError, match="cannot write"):
        calibration.save(blocker / "cal.json")


def _good(fitted) -> dict[str, Any]:
    return json.loads(json.dumps(fitted[0].to_dict()))


def _edit(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """Set a dotted key (``operating_points.1.far``) in a copy of ``data``."""
    out = json.loads(json.dumps(data))
    node: Any = out
    *path, last = key.split(".")
    for part in path:
        node = node[int(part)] if isinstance(node, list) else node[part]
    if value is _DELETE:
        del node[last]
    elif isinstance(node, list):
        node[int(last)] = value
    else:
        node[last] = value
    return out


_DELETE = object()


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("format_version", _DELETE, "no format_version"),
        ("format_version", 3, "format_version 3 is not supported"),
        ("format_version", True, "format_version True"),
        ("eer", _DELETE, "missing field.*eer"),
        ("surprise", 1, "unknown field.*surprise"),
        ("n_genuine", "400", "'n_genuine'"),
        ("n_genuine", True, "'n_genuine'"),
        ("n_impostor", 0, "'n_impostor'"),
        ("eer", 1.5, "'eer'"),
        ("cllr", -0.1, "'cllr'"),
        ("min_dcf", 1.2, "'min_dcf'"),
        ("min_dcf_threshold", "-inf", "'min_dcf_threshold'"),
        ("p_target", 0.0, "'p_target'"),
        ("confidence", 1.0, "'confidence'"),
        ("created", "2024-01-01T00:00:00", "'created'"),
        ("created", "yesterday", "'created'"),
        ("model_sha256", "ABC", "'model_sha256'"),
        ("score_range", [1.0, -1.0], "'score_range'"),
        ("ci_method", "jackknife", "'ci_method'"),
        ("n_resamples", 1000, "'n_resamples'"),
        ("seed", -1, "'seed'"),
        ("warnings", [1], "'warnings'"),
        ("calibrator.method", "svm", "calibrator.method"),
        ("calibrator.slope", None, "calibrator.slope"),
        ("operating_points", {}, "'operating_points'"),
        ("operating_points.0", [], r"operating_points\[0\] must be a JSON object"),
        ("operating_points.0.bonus", 1, r"operating_points\[0\] has unknown field"),
        ("operating_points.0.far", 1.5, r"operating_points\[0\].*far"),
        ("operating_points.0.far", 0.5, r"operating_points\[0\].far 0.5 exceeds its target"),
        ("operating_points.3.frr", 0.5, r"operating_points\[3\].frr 0.5 exceeds its target"),
        ("operating_points.0.far_ci", [0.02, 0.01], r"far_ci has low 0.02 > high 0.01"),
        ("operating_points.0.frr_ci", [0.1], r"operating_points\[0\].*frr_ci"),
        ("operating_points.0.threshold", None, r"operating_points\[0\].*threshold"),
        ("operating_points.0.target_far", None, r"operating_points\[0\].*exactly one"),
        ("operating_points.0.target_far", 1.0, r"operating_points\[0\].target_far"),
        ("operating_points.2.supported", True, r"operating_points\[2\].supported is True"),
        ("operating_points.0.ci_method", "identity-bootstrap", "differs"),
        ("operating_points.1.threshold", -5.0, "FAR=0.001 has threshold -5.0, below"),
        ("operating_points.4.threshold", -5.0, "FRR=0.05 has threshold .*, above"),
    ],
)
def test_load_rejects_invalid_fields(fitted, tmp_path: Path, key: str, value: Any, match: str):
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(_edit(_good(fitted), key, value)))
    with pytest.raises(CalibrationError, match=match) as info:
        Calibration.load(path)
    assert str(path) in str(info.value)
    assert "\n" not in str(info.value)


def test_the_untouched_file_loads(fitted, tmp_path: Path) -> None:
    # guards the parametrised test above: its failures come from the edits alone
    path = tmp_path / "cal.json"
    path.write_text(json.dumps(_good(fitted)))
    assert Calibration.load(path).to_dict() == fitted[0].to_dict()


@pytest.mark.parametrize(
    ("content", "match"),
    [
        (b"", "not valid JSON"),
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "must hold a JSON object, not list"),
        (b'{"format_version": NaN}', "not strict JSON"),
        (b'{"x": "\xff\xfe"}', "not UTF-8"),
    ],
)
def test_load_rejects_unreadable_files(tmp_path: Path, content: bytes, match: str) -> None:
    path = tmp_path / "cal.json"
    path.write_bytes(content)
    with pytest.raises(CalibrationError, match=match):
        Calibration.load(path)


def test_load_missing_file_and_folder(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="does not exist"):
        Calibration.load(tmp_path / "nope.json")
    with pytest.raises(CalibrationError, match="cannot be read"):
        Calibration.load(tmp_path)


# ---- lookup and model binding -------------------------------------------------------------


def test_operating_point_lookup(fitted) -> None:
    calibration = fitted[0]
    first, second = calibration.operating_points[:2]
    assert calibration.operating_point("FAR=0.001") is second
    assert calibration.operating_point(" far = 1e-3 ") is second
    assert calibration.operating_point(0.01) is first
    assert calibration.operating_point("FRR=0.2") is calibration.operating_points[4]
    with pytest.raises(CalibrationError, match=r"no operating point FAR=1e-05 \(available: FAR"):
        calibration.operating_point(1e-5)
    with pytest.raises(CalibrationError, match=r"no operating point FRR=0\.001"):
        calibration.operating_point("FRR=0.001")
    with pytest.raises(CalibrationError, match="not a label"):
        calibration.operating_point("TAR=0.9")


def test_check_model(fitted, tmp_path: Path) -> None:
    scores, labels = normal_trials(100, 1000, decimals=3)
    calibration = fit_calibration(scores, labels, target_fars=(1e-2,), model_sha256=SHA)
    loaded = Calibration.load(calibration.save(tmp_path / "cal.json"))
    assert loaded.model_sha256 == SHA
    loaded.check_model(SHA)
    loaded.check_model(SHA.upper())
    with pytest.raises(ModelMismatch, match="abababababab"):
        loaded.check_model("cd" * 32)
    fitted[0].check_model("cd" * 32)  # not bound: any model is accepted
