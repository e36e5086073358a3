"""ROC, EER and threshold selection: hand-computed cases and scikit-learn as an oracle."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import norm
from sklearn.metrics import confusion_matrix_at_thresholds, roc_curve

from bioverify.calibration.roc import (
    RocCurve,
    eer,
    rule_of_three_count,
    threshold_at_far,
    threshold_at_frr,
    validate_scores,
)
from bioverify.calibration.summary import summarize
from bioverify.errors import InvalidInput

INF = np.inf


def _curve(genuine: list[float], impostor: list[float]) -> RocCurve:
    scores = np.array(genuine + impostor)
    labels = np.array([1] * len(genuine) + [0] * len(impostor))
    return RocCurve.from_scores(scores, labels)


def test_ties_are_accepted_together() -> None:
    curve = RocCurve.from_scores([0.9, 0.9, 0.5, 0.5, 0.1], [1, 0, 1, 0, 0])
    np.testing.assert_array_equal(curve.thresholds, [INF, 0.9, 0.5, 0.1])
    np.testing.assert_array_equal(curve.far, [0, 1 / 3, 2 / 3, 1])
    np.testing.assert_array_equal(curve.frr, [1, 1 / 2, 0, 0])
    np.testing.assert_array_equal(curve.tar, [0, 1 / 2, 1, 1])
    assert (curve.n_genuine, curve.n_impostor) == (2, 3)


def test_all_equal_scores() -> None:
    curve = RocCurve.from_scores([0.5] * 4, [1, 1, 0, 0])
    np.testing.assert_array_equal(curve.thresholds, [INF, 0.5])
    np.testing.assert_array_equal(curve.far, [0, 1])
    np.testing.assert_array_equal(curve.frr, [1, 0])
    # d = -1 at inf, +1 at 0.5: halfway; the +inf neighbour gives the finite threshold
    assert eer(curve).eer == 0.5
    assert eer(curve).threshold == 0.5


def test_perfect_separation() -> None:
    curve = _curve([0.8, 0.9], [0.1, 0.3])
    result = eer(curve)
    assert result.eer == 0.0
    assert result.threshold == pytest.approx(0.55)  # midpoint of lowest genuine, highest impostor
    assert threshold_at_far(curve, 0.0) == 0.8
    assert threshold_at_frr(curve, 0.0) == 0.8


def test_one_genuine_one_impostor() -> None:
    curve = _curve([0.7], [0.2])
    np.testing.assert_array_equal(curve.thresholds, [INF, 0.7, 0.2])
    np.testing.assert_array_equal(curve.far, [0, 0, 1])
    np.testing.assert_array_equal(curve.frr, [1, 0, 0])
    assert eer(curve).eer == 0.0
    assert eer(curve).threshold == pytest.approx(0.45)

    reversed_curve = _curve([0.2], [0.7])
    # FAR = FRR = 1 measured at 0.7; thresholds in (0.2, 0.7] all give it, midpoint reported
    assert eer(reversed_curve).eer == 1.0
    assert eer(reversed_curve).threshold == pytest.approx(0.45)


def test_eer_interpolated_between_points() -> None:
    # genuine .9 .5 .5 .2, impostor .7 .5 .1 .05 (4 each):
    #   t=.7: FAR 1/4, FRR 3/4 (d=-1/2); t=.5: FAR 1/2, FRR 1/4 (d=+1/4)
    #   w = (1/2) / (3/4) = 2/3; EER = 1/4 + 2/3 * 1/4 = 5/12; threshold .7 - 2/3 * .2 = 17/30
    curve = _curve([0.9, 0.5, 0.5, 0.2], [0.7, 0.5, 0.1, 0.05])
    result = eer(curve)
    assert result.eer == pytest.approx(5 / 12, abs=1e-15)
    assert result.threshold == pytest.approx(17 / 30, abs=1e-15)


def test_eer_exact_crossing_reports_midpoint() -> None:
    # genuine .9 .8 .6 .3, impostor .7 .5 .4 .2: at t=.6 FAR = FRR = 1/4 exactly
    curve = _curve([0.9, 0.8, 0.6, 0.3], [0.7, 0.5, 0.4, 0.2])
    result = eer(curve)
    assert result.eer == 0.25
    assert result.threshold == pytest.approx(0.55)


def test_threshold_at_far_with_tied_impostors() -> None:
    # impostor .9 .9 .5, genuine .95 .7 .4
    # thresholds inf .95 .9 .7 .5 .4 ; FAR 0 0 2/3 2/3 1 1 ; FRR 1 2/3 2/3 1/3 1/3 0
    curve = _curve([0.95, 0.7, 0.4], [0.9, 0.9, 0.5])
    assert threshold_at_far(curve, 0.5) == 0.95  # not 0.9: FAR there is 2/3
    assert threshold_at_far(curve, 0.0) == 0.95
    assert threshold_at_far(curve, 2 / 3) == 0.7  # lowest threshold with FAR <= 2/3
    assert threshold_at_far(curve, 1.0) == 0.4
    assert threshold_at_frr(curve, 1 / 3) == 0.7  # highest threshold with FRR <= 1/3
    assert threshold_at_frr(curve, 0.5) == 0.7
    assert threshold_at_frr(curve, 0.0) == 0.4
    assert threshold_at_frr(curve, 1.0) == INF


def test_threshold_at_far_unreachable_is_inf() -> None:
    curve = _curve([0.8], [0.9, 0.9, 0.5])
    assert threshold_at_far(curve, 0.2) == INF
    assert curve.rates_at(INF) == (0.0, 1.0)


def test_threshold_at_far_rejects_bad_targets() -> None:
    curve = _curve([0.8], [0.2])
    for bad in (-0.1, 1.5, float("nan")):
        with pytest.raises(InvalidInput):
            threshold_at_far(curve, bad)
        with pytest.raises(InvalidInput):
            threshold_at_frr(curve, bad)


def test_rates_at_between_and_outside_scores() -> None:
    curve = _curve([0.95, 0.7, 0.4], [0.9, 0.9, 0.5])
    assert curve.rates_at(0.8) == (2 / 3, 2 / 3)  # accepts .95, .9, .9
    assert curve.rates_at(0.9) == (2 / 3, 2 / 3)
    assert curve.rates_at(-10.0) == (1.0, 0.0)
    assert curve.rates_at(10.0) == (0.0, 1.0)
    with pytest.raises(InvalidInput):
        curve.rates_at(float("nan"))


def test_rates_at_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    scores = np.round(rng.normal(size=500), 1)
    labels = rng.random(500) < 0.4
    curve = RocCurve.from_scores(scores, labels)
    for t in np.concatenate([rng.normal(size=50), np.unique(scores)]):
        far, frr = curve.rates_at(float(t))
        assert far == np.mean(scores[~labels] >= t)
        assert frr == np.mean(scores[labels] < t)


@pytest.mark.parametrize("genuine_share", [0.1, 0.5, 0.9])
def test_matches_sklearn_with_many_ties(genuine_share: float) -> None:
    rng = np.random.default_rng(7)
    n = 20000
    labels = rng.random(n) < genuine_share
    scores = np.round(np.where(labels, rng.normal(1, 1, n), rng.normal(0, 1, n)), 2)
    curve = RocCurve.from_scores(scores, labels.astype(int))

    fpr, tpr, thresholds = roc_curve(labels, scores, drop_intermediate=False)
    assert thresholds[0] == INF
    np.testing.assert_array_equal(curve.thresholds, thresholds)
    np.testing.assert_array_equal(curve.far, fpr)
    np.testing.assert_allclose(curve.frr, 1 - tpr, rtol=0, atol=2.0**-52)
    _, _, fns, tps, _ = confusion_matrix_at_thresholds(labels, scores)
    np.testing.assert_array_equal(curve.frr[1:], fns / tps[-1])  # sklearn's det_curve formula


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 8), st.booleans()), min_size=2, max_size=40).filter(
        lambda rows: len({g for _, g in rows}) == 2
    ),
    st.sampled_from([0.0, 0.05, 0.2, 1 / 3, 0.5, 0.9]),
)
def test_threshold_choices_are_optimal(rows: list[tuple[int, bool]], target: float) -> None:
    scores = np.array([s for s, _ in rows], dtype=float)
    labels = np.array([g for _, g in rows])
    curve = RocCurve.from_scores(scores, labels)
    imp, gen = scores[~labels], scores[labels]
    candidates = np.concatenate([[INF], np.unique(scores)])

    t_far = threshold_at_far(curve, target)
    assert np.mean(imp >= t_far) <= target
    meeting = [t for t in candidates if np.mean(imp >= t) <= target]
    assert t_far == min(meeting)

    t_frr = threshold_at_frr(curve, target)
    assert np.mean(gen < t_frr) <= target
    assert t_frr == max(t for t in candidates if np.mean(gen < t) <= target)

    # EER: on the segment where FAR - FRR first becomes >= 0 (brute-force rates, thresholds
    # descending), the crossing value lies between both rates' values at its two ends
    descending = np.concatenate([[INF], np.unique(scores)[::-1]])
    fars = np.array([np.mean(imp >= t) for t in descending])
    frrs = np.array([np.mean(gen < t) for t in descending])
    i = int(np.argmax(fars - frrs >= 0))
    result = eer(curve)
    assert max(fars[i - 1], frrs[i]) - 1e-12 <= result.eer <= min(fars[i], frrs[i - 1]) + 1e-12


def test_summarize_and_to_dict() -> None:
    curve_scores = [0.95, 0.7, 0.4, 0.9, 0.9, 0.5]
    labels = [1, 1, 1, 0, 0, 0]
    summary = summarize(curve_scores, labels, far_targets=(0.5, 1.0))
    assert summary.tar_at_far == {0.5: pytest.approx(1 / 3), 1.0: 1.0}
    assert summary.supported == {0.5: False, 1.0: True}  # needs 6 and 3 impostor trials
    assert (summary.n_genuine, summary.n_impostor) == (3, 3)
    d = summary.to_dict()
    assert set(d) == {
        "eer",
        "eer_threshold",
        "n_genuine",
        "n_impostor",
        "tar_at_far_0.5",
        "supported_far_0.5",
        "tar_at_far_1.0",
        "supported_far_1.0",
    }
    assert d["eer"] == eer(RocCurve.from_scores(curve_scores, labels)).eer
    assert "tar_at_far_0.001" in summarize(curve_scores, labels).to_dict()


def test_rule_of_three_count() -> None:
    assert rule_of_three_count(1e-2) == 300
    assert rule_of_three_count(1e-3) == 3000
    assert rule_of_three_count(1e-4) == 30000
    assert rule_of_three_count(0.003) == 1000
    assert rule_of_three_count(0.007) == 429


def test_det_points_clip_half_a_trial() -> None:
    curve = RocCurve.from_scores([0.9, 0.8, 0.3, 0.2, 0.1], [1, 1, 0, 0, 0])
    x, y = curve.det_points()
    assert np.isfinite(x).all() and np.isfinite(y).all()
    assert x[0] == norm.ppf(0.5 / 3)  # FAR 0 with 3 impostors
    assert y[0] == norm.ppf(1 - 0.5 / 2)  # FRR 1 with 2 genuines
    assert x[-1] == norm.ppf(1 - 0.5 / 3)
    assert y[1] == norm.ppf(0.5)


@pytest.mark.parametrize(
    ("scores", "labels", "message"),
    [
        ([0.1, 0.2], [1], "differ in length"),
        ([], [], "no scores"),
        ([0.1, np.nan, np.inf], [1, 0, 0], "2 of 3 scores are NaN or infinite"),
        ([0.1, 0.2], [1, 2], "neither 0"),
        ([0.1, 0.2], ["a", "b"], "dtype"),
        ([0.1, 0.2], [1, 1], "no impostor"),
        ([0.1, 0.2], [0, 0], "no genuine"),
        ([[0.1, 0.2]], [[1, 0]], "1-D"),
        (["x", "y"], [1, 0], "numbers"),
    ],
)
def test_validation_errors(scores: object, labels: object, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        validate_scores(scores, labels)  # type: ignore[arg-type]


def test_validate_scores_accepts_bool_and_float_labels() -> None:
    s, g = validate_scores([1, 2, 3], np.array([1.0, 0.0, 1.0]))
    assert s.dtype == np.float64
    np.testing.assert_array_equal(g, [True, False, True])
    _, g2 = validate_scores([1, 2], [True, False])
    np.testing.assert_array_equal(g2, [True, False])


def test_curve_arrays_are_read_only() -> None:
    curve = _curve([0.8], [0.2])
    with pytest.raises(ValueError):
        curve.far[0] = 0.5
