"""Quality-dependent FAR thresholds: fitted per bin of the worse sample's quality, stored in
the calibration file, and used by the verifier for a pair of that quality."""

from __future__ import annotations

import functools
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from bioverify.bundle import BundleInfo
from bioverify.calibration import Calibration, fit_calibration, measure_conditions
from bioverify.calibration.quality_bins import (
    fit_quality_bins,
    pair_quality,
    trial_thresholds,
)
from bioverify.errors import CalibrationError
from helpers import make_fake_lfw, one_line_error, run_cli


def _noisy_and_clean(n: int = 20000, seed: int = 0):
    """Half the trials noisy (quality 5: impostors score 1 higher), half clean (quality 30);
    subjects a/b and a condition per trial."""
    rng = np.random.default_rng(seed)
    q = np.where(np.arange(n) < n // 2, 5.0, 30.0)
    g = rng.random(n) < 0.1
    s = np.where(g, rng.normal(3, 1, n), rng.normal(0, 1, n) + (q < 10))
    subject_a = rng.integers(0, 200, n).astype(str)
    subject_b = np.where(g, subject_a, rng.integers(200, 400, n).astype(str))
    conditions = np.where(q < 10, "noisy", "clean")
    return s, g, q, subject_a, subject_b, conditions


@functools.cache
def _fitted(by_quality: bool) -> Calibration:
    s, g, q, a, b, c = _noisy_and_clean()
    extra = {"pair_quality": q, "quality_measure": "snr_db"} if by_quality else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_calibration(
            s, g, target_fars=[0.01], target_frrs=[0.1], subject_a=a, subject_b=b,
            conditions=c, n_resamples=100, **extra,
        )  # fmt: skip


def _fit(by_quality: bool = True) -> Calibration:
    """The calibration of :func:`_noisy_and_clean` (fitted once; a fresh copy each call)."""
    return Calibration.from_dict(_fitted(by_quality).to_dict())


def test_each_bin_holds_the_target_where_one_threshold_cannot() -> None:
    pooled = _fit(by_quality=False)
    by_quality = _fit()
    # one threshold, held in the worst condition: clean pairs get far less than 1 % FAR
    clean = next(c for c in pooled.conditions if c.name == "clean").rates[0].far
    assert clean < 0.002
    bins = by_quality.quality_bins
    assert bins is not None and bins.measure == "snr_db" and len(bins.bins) == 2
    noisy_bin, clean_bin = bins.bins
    assert noisy_bin.rates[0].threshold > clean_bin.rates[0].threshold  # worse: stricter
    for b in bins.bins:
        assert 0.005 < b.rates[0].far <= 0.01
    # the per-condition rates are those of the quality-dependent decisions
    for report in by_quality.conditions:
        assert 0.005 < report.rates[0].far <= 0.0105
    # FRR targets keep the pooled threshold in every bin
    frr_point = by_quality.operating_point("FRR=0.1")
    assert all(b.rates[1].threshold == frr_point.threshold for b in bins.bins)


def test_a_worse_bin_is_never_more_lenient_and_a_small_bin_keeps_the_pooled_threshold() -> None:
    rng = np.random.default_rng(1)
    n = 20000
    q = rng.uniform(0, 100, n)
    g = rng.random(n) < 0.1
    s = np.where(g, rng.normal(3, 1, n), rng.normal(0, 1, n) + (q > 50))  # better scores worse
    points = fit_calibration(s, g, target_fars=[0.01, 1e-4]).operating_points
    bins = fit_quality_bins(s, g, q, "x", points)
    assert bins is not None and len(bins.bins) == 4
    for label in ("FAR=0.01", "FAR=0.0001"):
        thresholds = [b.rates_for(label).threshold for b in bins.bins]  # type: ignore[union-attr]
        assert thresholds == sorted(thresholds, reverse=True)
    # 4,500 impostor trials per bin cannot support FAR = 1e-4: the pooled threshold
    pooled = next(op for op in points if op.label == "FAR=0.0001").threshold
    best = bins.bins[-1].rates_for("FAR=0.0001")
    assert best is not None and best.threshold >= pooled


def test_unknown_quality_keeps_the_pooled_threshold() -> None:
    cal = _fit()
    bins = cal.quality_bins
    assert bins is not None
    op = cal.operating_points[0]
    got = bins.thresholds(op.label, [np.nan, 5.0, 30.0], op.threshold)
    assert got[0] == op.threshold and got[1] > got[2]
    assert bins.rates(op.label, None) is None and bins.rates("FAR=0.5", 5.0) is None
    per = trial_thresholds(cal.operating_points, bins, np.array([np.nan, 5.0]))
    assert per is not None and per[0][0] == op.threshold
    assert trial_thresholds(cal.operating_points, None, np.array([1.0])) is None


def test_per_trial_thresholds_equal_to_the_pooled_ones_change_nothing() -> None:
    s, g, _, a, b, c = _noisy_and_clean(8000)
    points = fit_calibration(s, g, target_fars=[0.01]).operating_points
    same = [np.full(s.size, points[0].threshold)]
    plain = measure_conditions(s, g, c, points, a, b, n_resamples=50)
    shifted = measure_conditions(s, g, c, points, a, b, n_resamples=50, per_trial=same)
    assert [r.to_dict() for r in plain] == [r.to_dict() for r in shifted]


def test_the_bins_are_saved_loaded_and_checked(tmp_path: Path) -> None:
    cal = _fit()
    path = cal.save(tmp_path / "calibration.json")
    again = Calibration.load(path)
    assert again.to_dict() == cal.to_dict() and again.quality_bins == cal.quality_bins
    data = json.loads(path.read_text())
    for broken, message in [
        ({"measure": "snr_db", "edges": [2.0, 1.0], "bins": []}, "increasing"),
        ({"measure": "snr_db", "edges": [1.0], "bins": []}, "one bin more"),
        ({"measure": "", "edges": [], "bins": [{}]}, "measure"),
        ([1, 2], "object of measure, edges and bins"),
        (
            data["quality_bins"]
            | {
                "bins": [
                    b | {"rates": [r | {"label": "FAR=0.5"} for r in b["rates"]]}
                    for b in data["quality_bins"]["bins"]
                ]
            },
            "an operating point the file does not",
        ),
    ]:
        path.write_text(json.dumps(data | {"quality_bins": broken}))
        with pytest.raises(CalibrationError, match=message):
            Calibration.load(path)
    assert "quality_bins" not in _fit(by_quality=False).to_dict()  # one threshold: no field


def test_pair_quality_is_the_worse_sample() -> None:
    assert pair_quality({"sharpness": 80.0}, {"sharpness": 20}, "sharpness") == 20.0
    assert pair_quality({"sharpness": 80.0}, {"sharpness": True}, "sharpness") is None
    assert pair_quality({"sharpness": float("nan")}, {"sharpness": 3.0}, "sharpness") is None


def test_the_verifier_decides_with_the_threshold_of_the_pairs_quality(
    calibrated_face_bundle: BundleInfo,
) -> None:
    from bioverify import Verifier

    cal = _fit()
    cal.model_sha256 = calibrated_face_bundle.model_sha256
    verifier = Verifier.load(calibrated_face_bundle.folder, calibration=cal)
    noisy_bin, clean_bin = cal.quality_bins.bins  # type: ignore[union-attr]
    between = (noisy_bin.rates[0].threshold + clean_bin.rates[0].threshold) / 2
    clean = verifier.result_for(between, pair_quality=30.0)
    noisy = verifier.result_for(between, pair_quality=5.0)
    unknown = verifier.result_for(between)
    assert clean.match and not noisy.match
    assert clean.threshold == clean_bin.rates[0].threshold
    assert clean.quality_bin == clean_bin.name == "snr_db >= 30"
    assert clean.far == clean_bin.rates[0].far and clean_bin.name in (clean.measured_on or "")
    assert unknown.threshold == cal.operating_points[0].threshold and unknown.quality_bin is None
    fixed = Verifier.load(calibrated_face_bundle.folder, threshold=0.5)
    assert fixed.result_for(0.6, pair_quality=5.0).threshold == 0.5  # explicit: no bins


def test_calibrate_fits_quality_thresholds_from_the_samples(
    face_bundle: BundleInfo, tmp_path: Path
) -> None:
    people = make_fake_lfw(tmp_path / "people", people=6, per_person=3)
    common = ["calibrate", "--model", face_bundle.folder, "--data", people, "--face-mode",
              "aligned", "--bootstrap", "20", "--target-far", "0.1"]  # fmt: skip
    code, _, err = run_cli(*common, "--out", tmp_path / "auto.json")
    assert code == 0, err
    bins = Calibration.load(tmp_path / "auto.json").quality_bins
    assert bins is not None and bins.measure == "sharpness"
    code, _, err = run_cli(*common, "--out", tmp_path / "none.json", "--quality-thresholds", "none")
    assert code == 0 and Calibration.load(tmp_path / "none.json").quality_bins is None
    code, _, err = run_cli(*common, "--out", tmp_path / "x.json", "--quality-thresholds", "snr_db")
    assert "--quality-thresholds snr_db: the trials have no such quality" in one_line_error(
        code, err
    )


def test_evaluate_reports_the_rates_of_the_quality_dependent_decisions(
    calibrated_face_bundle: BundleInfo,
) -> None:
    from bioverify import Verifier
    from bioverify.verify.evaluation import TrialScores
    from bioverify.verify.evaluation_report import EvaluationReport

    s, g, q, a, b, c = _noisy_and_clean()
    cal = _fit()
    trials = TrialScores(
        scores=s, labels=g, subject_a=a, subject_b=b, counts={}, failures=[],
        n_inputs=s.size, protocol="synthetic", conditions=c, pair_quality={"snr_db": q},
    )  # fmt: skip
    verifier = Verifier.load(calibrated_face_bundle.folder, calibration=False)
    report = EvaluationReport.from_scores(verifier, trials, calibration=cal)
    # the same trials the calibration was fitted on: each condition at about 1 % FAR, as the
    # calibration recorded it (with one threshold, the clean pairs would be far below)
    assert {r.name: r.rates[0].far for r in report.conditions} == {
        r.name: r.rates[0].far for r in cal.conditions
    }
    without = TrialScores(
        scores=s, labels=g, subject_a=a, subject_b=b, counts={}, failures=[],
        n_inputs=s.size, protocol="synthetic", conditions=c,
    )  # fmt: skip
    pooled = EvaluationReport.from_scores(verifier, without, calibration=cal)
    assert next(r for r in pooled.conditions if r.name == "clean").rates[0].far < 0.002


@pytest.mark.slow  # draws the report's figures
def test_the_report_has_a_table_per_quality_bin(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    from bioverify.calibration.report import write_report

    s, g, *_ = _noisy_and_clean()
    cal = _fit()
    paths = write_report(cal, s, g, tmp_path / "report")
    text = next(p for p in paths if p.suffix == ".md").read_text()
    assert "## Per quality bin" in text and "worse sample's snr_db" in text
    for b in cal.quality_bins.bins:  # type: ignore[union-attr]
        assert f"| {b.name} |" in text
        assert f"FAR=0.01 at {b.rates[0].threshold:.6g}" in text
    assert "## Per condition" in text and "Rates of the decisions at each pair's" in text
