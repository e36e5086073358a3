"""Operating points: thresholds, rates, CIs, the rule-of-three flag, JSON round trip."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest

from bioverify.calibration.intervals import IntervalSettings, bootstrap_rates, clopper_pearson
from bioverify.calibration.operating_points import (
    OperatingPoint,
    operating_points,
    rates_with_intervals,
)
from bioverify.calibration.roc import RocCurve
from bioverify.errors import CalibrationError, InvalidInput


def _scores(n_gen: int, n_imp: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    scores = np.round(np.concatenate([rng.normal(2, 1, n_gen), rng.normal(0, 1, n_imp)]), 2)
    labels = np.concatenate([np.ones(n_gen, bool), np.zeros(n_imp, bool)])
    return scores, labels


def test_hand_computed_points_with_clopper_pearson() -> None:
    # genuine .95 .7 .4, impostor .9 .9 .5 (see test_roc): FAR 2/3 -> t .7, FRR 1/3 -> t .7
    scores = [0.95, 0.7, 0.4, 0.9, 0.9, 0.5]
    labels = [1, 1, 1, 0, 0, 0]
    with pytest.warns(UserWarning):
        far_point, frr_point = operating_points(
            scores, labels, target_fars=[0.7], target_frrs=[0.34]
        )
    assert far_point.threshold == 0.7
    assert (far_point.far, far_point.frr) == (2 / 3, 1 / 3)
    assert far_point.far_ci == clopper_pearson(2, 3)
    assert far_point.frr_ci == clopper_pearson(1, 3)
    assert far_point.ci_method == "clopper-pearson"
    assert (far_point.target_far, far_point.target_frr) == (0.7, None)
    assert frr_point.threshold == 0.7
    assert (frr_point.target_far, frr_point.target_frr) == (None, 0.34)
    assert far_point.label == "FAR=0.7"
    assert frr_point.label == "FRR=0.34"


def test_rule_of_three_flags_and_warns() -> None:
    scores, labels = _scores(100, 1000)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        points = operating_points(
            scores, labels, target_fars=[1e-2, 1e-3], target_frrs=[0.05, 0.01]
        )
    messages = [str(w.message) for w in caught if issubclass(w.category, UserWarning)]
    assert [p.supported for p in points] == [True, False, True, False]
    assert len(messages) == 2
    assert "FAR=0.001" in messages[0] and "3000 impostor" in messages[0]
    assert "FRR=0.01" in messages[1] and "300 genuine" in messages[1]


def test_points_meet_their_targets() -> None:
    scores, labels = _scores(2000, 5000, seed=1)
    points = operating_points(scores, labels, target_fars=[0.01, 0.05], target_frrs=[0.02])
    curve = RocCurve.from_scores(scores, labels)
    for p in points:
        assert (p.far, p.frr) == curve.rates_at(p.threshold)
        assert p.far_ci[0] <= p.far <= p.far_ci[1]
        assert p.frr_ci[0] <= p.frr <= p.frr_ci[1]
    assert points[0].far <= 0.01 and points[1].far <= 0.05 and points[2].frr <= 0.02
    assert points[0].threshold > points[1].threshold


def test_unreachable_far_gives_infinite_threshold() -> None:
    with pytest.warns(UserWarning):
        (point,) = operating_points([0.8, 0.9, 0.9, 0.5], [1, 0, 0, 0], target_fars=[0.2])
    assert point.threshold == math.inf
    assert (point.far, point.frr) == (0.0, 1.0)
    assert point.far_ci == clopper_pearson(0, 3)


def test_identity_bootstrap_intervals() -> None:
    rng = np.random.default_rng(2)
    n = 4000
    sa = rng.integers(0, 50, n).astype(str)
    sb = np.where(rng.random(n) < 0.2, sa, rng.integers(0, 50, n).astype(str))
    labels = sa == sb
    scores = np.where(labels, rng.normal(2, 1, n), rng.normal(0, 1, n))
    points = operating_points(
        scores,
        labels,
        target_fars=[0.05],
        target_frrs=[0.1],
        subject_a=sa,
        subject_b=sb,
        n_resamples=200,
        seed=9,
    )
    far_ci, frr_ci = bootstrap_rates(
        scores,
        labels,
        [p.threshold for p in points],
        sa,
        sb,
        IntervalSettings(n_resamples=200, seed=9),
    )
    n_impostor, n_genuine = int((~labels).sum()), int(labels.sum())
    for k, p in enumerate(points):
        assert p.ci_method == "identity-bootstrap"
        far_exact = clopper_pearson(round(p.far * n_impostor), n_impostor)
        frr_exact = clopper_pearson(round(p.frr * n_genuine), n_genuine)
        assert p.far_ci == (min(far_ci[k][0], far_exact[0]), max(far_ci[k][1], far_exact[1]))
        assert p.frr_ci == (min(frr_ci[k][0], frr_exact[0]), max(frr_ci[k][1], frr_exact[1]))


def test_no_error_in_the_trials_still_gives_an_interval_above_zero() -> None:
    # 10 people, every impostor score far below every genuine one: the bootstrap of zero
    # errors collapses to [0, 0]; the interval reported is at least the exact binomial one
    rng = np.random.default_rng(0)
    people = np.repeat(np.arange(10).astype(str), 6)
    sa, sb = np.meshgrid(people, people)
    sa, sb = sa.ravel(), sb.ravel()
    labels = sa == sb
    scores = np.where(labels, rng.uniform(0.9, 1.0, sa.size), rng.uniform(0.0, 0.5, sa.size))
    far, frr, far_ci, frr_ci, method = rates_with_intervals(scores, labels, [0.7], sa, sb)
    assert method == "identity-bootstrap" and far[0] == 0.0 and frr[0] == 0.0
    assert far_ci[0][0] == 0.0 and far_ci[0][1] == pytest.approx(
        clopper_pearson(0, int((~labels).sum()))[1]
    )
    assert frr_ci[0][1] == pytest.approx(clopper_pearson(0, int(labels.sum()))[1])
    assert far_ci[0][1] > 0.0 and frr_ci[0][1] > 0.0


@pytest.mark.parametrize("bad", [0.0, 1.0, -0.01, 2.0, float("nan")])
def test_targets_must_be_open_unit_interval(bad: float) -> None:
    scores, labels = _scores(10, 10)
    with pytest.raises(InvalidInput, match="target FAR"):
        operating_points(scores, labels, target_fars=[bad])
    with pytest.raises(InvalidInput, match="target FRR"):
        operating_points(scores, labels, target_frrs=[bad])


def test_argument_consistency_checks() -> None:
    scores, labels = _scores(10, 10)
    with pytest.raises(InvalidInput, match="subject_b"):
        operating_points(scores, labels, target_fars=[0.1], subject_a=np.zeros(20))
    other = RocCurve.from_scores(*_scores(5, 10))
    with pytest.raises(InvalidInput, match="curve"):
        operating_points(scores, labels, target_fars=[0.1], curve=other)
    assert operating_points(scores, labels) == []


def test_dict_round_trip_is_strict_json() -> None:
    with pytest.warns(UserWarning):
        points = operating_points(
            [0.8, 0.9, 0.9, 0.5], [1, 0, 0, 0], target_fars=[0.2, 0.7], target_frrs=[0.5]
        )
    assert points[0].threshold == math.inf
    for p in points:
        text = json.dumps(p.to_dict(), allow_nan=False)
        assert OperatingPoint.from_dict(json.loads(text)) == p
    assert points[0].to_dict()["threshold"] == "inf"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("threshold", "Infinity"),
        ("threshold", float("nan")),
        ("far", 1.5),
        ("far_ci", [0.1]),
        ("supported", "yes"),
        ("ci_method", "wald"),
        ("target_far", True),
    ],
)
def test_from_dict_rejects_malformed(field: str, value: object) -> None:
    good = OperatingPoint(
        0.01, None, 0.5, 0.01, 0.2, (0.0, 0.02), (0.1, 0.3), True, "clopper-pearson"
    )
    data = good.to_dict()
    data[field] = value
    with pytest.raises(CalibrationError):
        OperatingPoint.from_dict(data)
    del data[field]
    with pytest.raises(CalibrationError, match=field):
        OperatingPoint.from_dict(data)


def test_exactly_one_target() -> None:
    with pytest.raises(InvalidInput):
        OperatingPoint(0.01, 0.01, 0.5, 0.0, 0.0, (0, 0), (0, 0), True, "clopper-pearson")
