"""Score → LLR calibration, Cllr / minCllr and detection costs against hand-computed values
and independent oracles (a direct scipy minimisation, brute-force loops)."""

from __future__ import annotations

import json
import math
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit, logit

from bioverify.calibration.costs import (
    actual_dcf,
    bayes_threshold,
    cllr,
    detection_cost,
    min_cllr,
    min_dcf,
)
from bioverify.calibration.llr import ISOTONIC_EPSILON, ScoreCalibrator
from bioverify.errors import CalibrationError, InvalidInput


def _gaussian(n_gen: int, n_imp: int, seed: int = 0, gap: float = 2.0):
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.normal(gap, 1, n_gen), rng.normal(0, 1, n_imp)])
    labels = np.concatenate([np.ones(n_gen, bool), np.zeros(n_imp, bool)])
    return scores, labels


# ---- Cllr ---------------------------------------------------------------------------------


def test_cllr_of_all_zero_llrs_is_one_bit() -> None:
    assert cllr(np.zeros(7), np.zeros(3)) == 1.0


def test_cllr_hand_computed() -> None:
    # genuine LLR ln 3 costs log2(1 + 1/3); impostor -ln 3 costs the same
    assert cllr([math.log(3)], [-math.log(3)]) == pytest.approx(math.log2(4 / 3), abs=1e-15)
    # means within each class, then the average of the two classes
    expected = 0.5 * (math.log2(2) + 0.5 * (math.log2(1 + math.e) + math.log2(1 + math.e**-2)))
    assert cllr([0.0], [1.0, -2.0]) == pytest.approx(expected, abs=1e-15)


def test_cllr_of_perfect_llrs_is_near_zero_and_of_wrong_ones_large() -> None:
    assert cllr(np.full(5, 40.0), np.full(5, -40.0)) < 1e-15
    assert cllr([np.inf], [-np.inf]) == 0.0
    assert cllr(np.full(5, -10.0), np.full(5, 10.0)) > 14


def test_cllr_rejects_empty_and_nan() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        cllr([], [0.0])
    with pytest.raises(InvalidInput, match="NaN"):
        cllr([np.nan], [0.0])


def test_min_cllr_hand_computed() -> None:
    # labels by score 0 1 0 1 -> PAV posteriors 0, .5, .5, 1 -> LLRs -inf, 0, 0, +inf
    # genuine costs (0 bit at LLR 0 is 1 bit, +inf 0) mean .5; impostor likewise; Cllr .5
    assert min_cllr([1, 2, 3, 4], [0, 1, 0, 1]) == pytest.approx(0.5, abs=1e-15)
    assert min_cllr([1, 2, 3, 4], [0, 0, 1, 1]) == 0.0


def test_min_cllr_treats_tied_scores_as_one() -> None:
    # two trials with one score must share an LLR: posterior 1/2 -> LLR 0 for both
    assert min_cllr([0.5, 0.5], [0, 1]) == pytest.approx(1.0, abs=1e-15)


@pytest.mark.parametrize("method", ["logistic", "isotonic"])
def test_min_cllr_is_a_lower_bound(method: str) -> None:
    scores, labels = _gaussian(300, 900, seed=3)
    calib = ScoreCalibrator(method).fit(scores, labels)  # type: ignore[arg-type]
    llr = calib.llr(scores)
    low = min_cllr(scores, labels)
    assert 0.0 < low <= cllr(llr[labels], llr[~labels])
    # any other monotone map (here an arbitrary affine one) costs more
    assert low <= cllr(0.5 * scores[labels] - 1, 0.5 * scores[~labels] - 1)


# ---- ScoreCalibrator ----------------------------------------------------------------------


def _weighted_logistic_oracle(scores, labels, prior):
    """Minimise the prior-weighted cross-entropy over (slope, offset) with scipy directly."""
    gen, imp = scores[labels], scores[~labels]
    lp = logit(prior)

    def loss(params):
        a, b = params
        return prior * np.mean(np.logaddexp(0, -(a * gen + b + lp))) + (1 - prior) * np.mean(
            np.logaddexp(0, a * imp + b + lp)
        )

    res = minimize(loss, x0=[1.0, 0.0], method="BFGS", options={"gtol": 1e-10})
    return res.x


@pytest.mark.parametrize("prior", [0.5, 0.1])
def test_logistic_matches_direct_minimisation(prior: float) -> None:
    scores, labels = _gaussian(400, 2000, seed=1)
    scores = 10 * scores + 50  # an arbitrary score scale: standardising must not matter
    calib = ScoreCalibrator("logistic", prior=prior).fit(scores, labels)
    slope, offset = _weighted_logistic_oracle(scores, labels, prior)
    assert calib.slope_ == pytest.approx(slope, rel=1e-3)
    assert calib.offset_ == pytest.approx(offset, rel=1e-3, abs=1e-3)


def test_logistic_recovers_gaussian_llr() -> None:
    # N(2,1) vs N(0,1): true LLR = 2 * score - 2
    scores, labels = _gaussian(20000, 20000, seed=2)
    calib = ScoreCalibrator().fit(scores, labels)
    assert calib.slope_ == pytest.approx(2.0, abs=0.08)
    assert calib.offset_ == pytest.approx(-2.0, abs=0.08)


def test_isotonic_hand_computed() -> None:
    calib = ScoreCalibrator("isotonic").fit([1, 2, 3, 4], [0, 1, 0, 1])
    # posteriors 0, .5, .5, 1 under training prior 1/2 (log-odds 0), clipped by epsilon
    eps = ISOTONIC_EPSILON
    expected = [logit(eps), 0.0, 0.0, logit(1 - eps)]
    np.testing.assert_allclose(calib.llr([1, 2, 3, 4]), expected, atol=1e-12)
    # linear between knots: posterior .25 at 1.5 -> LLR ln(1/3); clipped beyond the range
    assert calib.llr([1.5])[0] == pytest.approx(-math.log(3), abs=1e-12)
    np.testing.assert_allclose(calib.llr([-10, 10]), [logit(eps), logit(1 - eps)], atol=1e-12)


def test_isotonic_subtracts_training_log_odds() -> None:
    # 1 genuine in 4 trials, all at one score: posterior 1/4 = the training proportion -> LLR 0
    calib = ScoreCalibrator("isotonic").fit([0.3, 0.3, 0.3, 0.3], [1, 0, 0, 0])
    np.testing.assert_allclose(calib.llr([0.0, 0.3, 1.0]), 0.0, atol=1e-12)


@pytest.mark.parametrize("method", ["logistic", "isotonic"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_llr_is_monotone_in_score(method: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    scores = np.round(rng.normal(size=500), 1)  # many ties
    labels = rng.random(500) < expit(scores)
    calib = ScoreCalibrator(method).fit(scores, labels)  # type: ignore[arg-type]
    grid = np.linspace(-5, 5, 2001)
    llr = calib.llr(grid)
    assert np.all(np.isfinite(llr))
    assert np.all(np.diff(llr) >= 0)


def test_anti_correlated_scores_give_flat_llr_with_a_warning() -> None:
    scores, labels = _gaussian(200, 200, seed=4)
    with pytest.warns(UserWarning, match="higher = more similar"):
        calib = ScoreCalibrator().fit(-scores, labels)
    np.testing.assert_array_equal(calib.llr([-3.0, 0.0, 3.0]), 0.0)


def test_probability_applies_the_stated_prior() -> None:
    scores, labels = _gaussian(300, 300, seed=5)
    calib = ScoreCalibrator().fit(scores, labels)
    s = np.array([-1.0, 0.5, 3.0])
    lr = np.exp(calib.llr(s))
    np.testing.assert_allclose(calib.probability(s), lr / (lr + 1))
    np.testing.assert_allclose(calib.probability(s, prior=0.01), 0.01 * lr / (0.01 * lr + 0.99))
    with pytest.raises(InvalidInput, match="prior"):
        calib.probability(s, prior=1.0)


@pytest.mark.parametrize("method", ["logistic", "isotonic"])
def test_dict_round_trip_through_json(method: str) -> None:
    scores, labels = _gaussian(100, 300, seed=6)
    calib = ScoreCalibrator(method).fit(scores, labels)  # type: ignore[arg-type]
    restored = ScoreCalibrator.from_dict(json.loads(json.dumps(calib.to_dict())))
    grid = np.linspace(-4, 6, 101)
    np.testing.assert_array_equal(restored.llr(grid), calib.llr(grid))
    assert restored.method == method


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"method": "svm"}, "method"),
        ({"slope": "1"}, "slope"),
        ({"slope": -1.0}, "slope"),
        ({"offset": float("nan")}, "offset"),
        ({"prior": 1.5}, "prior"),
        ({"extra": 1}, "unknown keys"),
    ],
)
def test_from_dict_rejects_bad_logistic(change: dict, match: str) -> None:
    data = {"method": "logistic", "prior": 0.5, "slope": 1.0, "offset": 0.0} | change
    with pytest.raises(CalibrationError, match=match):
        ScoreCalibrator.from_dict(data)


def test_from_dict_rejects_bad_isotonic() -> None:
    good = ScoreCalibrator("isotonic").fit([1, 2, 3, 4], [0, 1, 0, 1]).to_dict()
    for change, match in [
        ({"scores": [2.0, 1.0, 3.0, 4.0]}, "must not decrease"),
        ({"posteriors": [0.5, 0.0, 0.5, 1.0]}, "must not decrease"),
        ({"posteriors": [0.0, 0.5]}, "equally long"),
        ({"posteriors": [0.0, 0.5, 0.5, 1.5]}, r"\[0, 1\]"),
        ({"scores": [1, "x", 3, 4]}, "list of finite numbers"),
        ({"epsilon": 0.5}, "epsilon"),
    ]:
        with pytest.raises(CalibrationError, match=match):
            ScoreCalibrator.from_dict(good | change)
    with pytest.raises(CalibrationError, match="missing keys"):
        ScoreCalibrator.from_dict({k: v for k, v in good.items() if k != "train_log_odds"})


def test_unfitted_and_bad_arguments() -> None:
    with pytest.raises(CalibrationError, match="not fitted"):
        ScoreCalibrator().llr([0.0])
    with pytest.raises(InvalidInput, match="method"):
        ScoreCalibrator("probit")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="prior"):
        ScoreCalibrator(prior=0.0)
    with pytest.raises(InvalidInput, match="genuine"):
        ScoreCalibrator().fit([0.1, 0.2], [0, 0])
    calib = ScoreCalibrator().fit([0.1, 0.9], [0, 1])
    with pytest.raises(InvalidInput, match="NaN"):
        calib.llr([np.nan])


# ---- detection costs ----------------------------------------------------------------------


def test_detection_cost_hand_computed() -> None:
    scores = [0.1, 0.4, 0.35, 0.8]
    labels = [0, 0, 1, 1]
    # t = .4 accepts .4 (impostor) and .8: P_fa 1/2, P_miss 1/2
    raw = 0.01 * 0.5 + 0.99 * 0.5
    assert detection_cost(scores, labels, 0.4, normalized=False) == pytest.approx(raw)
    assert detection_cost(scores, labels, 0.4) == pytest.approx(raw / 0.01)
    # c_miss 10, p .5: min(5, .5) normalises
    cost = detection_cost(scores, labels, 0.4, p_target=0.5, c_miss=10)
    assert cost == pytest.approx((10 * 0.5 * 0.5 + 0.5 * 0.5) / 0.5)


def _brute_force_min_dcf(scores, labels, p, c_miss, c_fa):
    gen, imp = scores[labels], scores[~labels]
    best = (math.inf, math.nan)
    for t in [math.inf, *sorted(set(scores.tolist()), reverse=True)]:
        cost = c_miss * p * np.mean(gen < t) + c_fa * (1 - p) * np.mean(imp >= t)
        cost /= min(c_miss * p, c_fa * (1 - p))
        if cost < best[0]:
            best = (cost, t)
    return best


@pytest.mark.parametrize(
    ("p", "c_miss", "c_fa"), [(0.01, 1, 1), (0.5, 1, 1), (0.05, 10, 1), (0.9, 1, 3)]
)
def test_min_dcf_matches_brute_force(p: float, c_miss: float, c_fa: float) -> None:
    scores, labels = _gaussian(40, 120, seed=7, gap=1.5)
    scores = np.round(scores, 1)  # ties
    value, threshold = min_dcf(scores, labels, p, c_miss, c_fa)
    expected_value, expected_threshold = _brute_force_min_dcf(scores, labels, p, c_miss, c_fa)
    assert value == pytest.approx(expected_value, abs=1e-12)
    assert threshold == expected_threshold
    assert value <= 1.0
    assert detection_cost(scores, labels, threshold, p, c_miss, c_fa) == pytest.approx(value)


def test_min_dcf_rejects_all_when_that_is_cheapest() -> None:
    # overlapping classes at p_target .001: nothing beats rejecting everything
    value, threshold = min_dcf([0.1, 0.9, 0.2, 0.8], [0, 0, 1, 1], p_target=0.001)
    assert (value, threshold) == (1.0, math.inf)


def test_actual_dcf_hand_computed() -> None:
    theta = bayes_threshold(0.01)
    assert theta == pytest.approx(math.log(99))
    # genuine 5 (accepted) and 4 (missed), impostor -1 (rejected) and 4.6 >= 4.595 (accepted)
    value = actual_dcf([5.0, 4.0], [-1.0, 4.6], p_target=0.01)
    assert value == pytest.approx((0.01 * 0.5 + 0.99 * 0.5) / 0.01)
    assert actual_dcf([0.0], [-1e-9], p_target=0.5) == 0.0  # theta 0: accept llr >= 0


def test_actual_dcf_is_at_least_min_dcf_for_calibrated_scores() -> None:
    scores, labels = _gaussian(500, 5000, seed=8)
    llr = ScoreCalibrator().fit(scores, labels).llr(scores)
    for p in (0.01, 0.1, 0.5):
        actual = actual_dcf(llr[labels], llr[~labels], p_target=p)
        best, _ = min_dcf(scores, labels, p_target=p)
        assert best <= actual + 1e-12
        assert actual < best + 0.1  # well calibrated: close to the best


def test_cost_arguments_are_checked() -> None:
    with pytest.raises(InvalidInput, match="p_target"):
        min_dcf([0.1, 0.9], [0, 1], p_target=0.0)
    with pytest.raises(InvalidInput, match="c_miss"):
        actual_dcf([1.0], [0.0], c_miss=-1)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert bayes_threshold(0.5) == 0.0
