"""Calibration across conditions: thresholds that hold in the worst one, rates per condition,
score quantiles for drift, and version 1 files still read."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from bioverify.calibration import Calibration, RocCurve, fit_calibration, threshold_at_far
from bioverify.calibration.conditions import worst_far
from bioverify.calibration.drift import ScoreQuantiles, check_drift
from bioverify.errors import CalibrationError, InvalidInput

PACKAGED = Path(__file__).parents[1] / "src" / "bioverify" / "models"


def _two_conditions(seed: int = 0):
    """'studio' separates well; in 'street' impostors score higher (harder condition)."""
    rng = np.random.default_rng(seed)
    parts = []
    for name, impostor_mean in (("studio", 0.0), ("street", 0.8)):
        scores = np.concatenate([rng.normal(2.5, 1, 300), rng.normal(impostor_mean, 1, 3000)])
        labels = np.concatenate([np.ones(300, bool), np.zeros(3000, bool)])
        parts.append((scores, labels, np.full(scores.size, name)))
    return tuple(np.concatenate(p) for p in zip(*parts, strict=True))


def _fit(**options):
    scores, labels, conditions = _two_conditions()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_calibration(scores, labels, target_fars=(1e-2,), **options), (
            scores,
            labels,
            conditions,
        )


def test_the_threshold_holds_its_far_in_the_worst_condition() -> None:
    pooled, (scores, labels, conditions) = _fit()
    held, _ = _fit(conditions=conditions, population="two synthetic cameras")
    street = conditions == "street"
    street_threshold = threshold_at_far(RocCurve.from_scores(scores[street], labels[street]), 1e-2)
    assert held.operating_points[0].threshold == street_threshold
    assert held.operating_points[0].threshold > pooled.operating_points[0].threshold
    # pooled only: the street condition gets more false accepts than promised
    street_far_pooled = np.mean(scores[street & ~labels] >= pooled.operating_points[0].threshold)
    assert street_far_pooled > 0.015
    worst = worst_far(held.conditions, "FAR=0.01")
    assert worst is not None and worst.name == "street"
    rates = worst.rates_for("FAR=0.01")
    assert rates is not None and rates.far <= 0.01 and rates.far_ci[0] <= rates.far
    assert [c.name for c in held.conditions] == ["street", "studio"]  # worst FAR first
    assert held.population == "two synthetic cameras"


def test_version_2_round_trip_and_version_1_still_reads(tmp_path: Path) -> None:
    held, _ = _fit(
        conditions=_two_conditions()[2],
        population="two synthetic cameras",
        quality_ranges={"face_size": (48.0, 310.0)},
    )
    path = held.save(tmp_path / "cal.json")
    again = Calibration.load(path)
    assert again.to_dict() == held.to_dict()
    assert again.quality_ranges == {"face_size": (48.0, 310.0)}
    assert again.score_quantiles == held.score_quantiles
    document = json.loads(path.read_text())
    document["conditions"][0]["rates"][0]["far"] = 1.5
    path.write_text(json.dumps(document))
    with pytest.raises(CalibrationError, match=r"conditions\[0\]: far must be in \[0, 1\]"):
        Calibration.load(path)
    for modality in ("face", "voice"):
        packaged = PACKAGED / modality / "calibration.json"
        if json.loads(packaged.read_text())["format_version"] == 1:
            old = Calibration.load(packaged)
            assert old.conditions == [] and old.population is None
            assert old.score_quantiles is None and old.quality_ranges == {}


def test_drift_sees_scores_unlike_the_calibration() -> None:
    held, _ = _fit()
    quantiles = held.score_quantiles
    assert isinstance(quantiles, ScoreQuantiles)
    rng = np.random.default_rng(5)
    same = np.concatenate([rng.normal(2.5, 1, 50), rng.normal(0.4, 1, 950)])
    report = check_drift(same, quantiles, threshold=held.operating_points[0].threshold)
    assert report.verdict == "no drift" and 0.0 <= report.genuine_share <= 0.15
    assert report.accepted_share is not None and report.accepted_share < 0.1
    shifted = rng.normal(1.5, 0.3, 1000)  # neither genuine- nor impostor-like
    assert check_drift(shifted, quantiles).verdict == "drift"
    with pytest.raises(InvalidInput, match="not enough to judge drift"):
        check_drift(same[:99], quantiles)


def test_a_threshold_raised_for_a_looser_target_lifts_the_stricter_one() -> None:
    """A small condition has enough impostor trials for FAR = 1 % (300) but not for 0.1 %
    (3,000): it raises only the 1 % threshold, and the 0.1 % one must follow it (a stricter
    target never has the lower threshold; the calibration reader refuses that)."""
    # big: 30,000 impostors, 27 of them at 0.5; small: 300 impostors, 3 of them at 0.9
    big = np.concatenate([np.ones(100), np.full(27, 0.5), np.zeros(30000 - 27)])
    big_labels = np.arange(big.size) < 100
    small = np.concatenate([np.ones(100), np.full(3, 0.9), np.zeros(300 - 3)])
    small_labels = np.arange(small.size) < 100
    scores = np.concatenate([big, small])
    labels = np.concatenate([big_labels, small_labels])
    conditions = np.array(["big"] * big.size + ["small"] * small.size)
    # pooled, FAR = 0.1 % allows 30 of 30,300 impostors: threshold 0.5; small alone needs
    # 0.9 for FAR = 1 % and has too few impostors to say anything about 0.1 %
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibration = fit_calibration(
            scores, labels, target_fars=(1e-2, 1e-3), conditions=conditions, force=True
        )
    loose, strict = calibration.operating_points
    assert loose.threshold == 0.9 and strict.threshold == 0.9
    Calibration.from_dict(calibration.to_dict())  # the reader accepts it
