"""Clopper–Pearson and identity-bootstrap intervals: known values, an oracle, coverage."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest, norm

import bioverify.calibration.intervals as intervals
from bioverify.calibration.intervals import IntervalSettings, bootstrap_rates, clopper_pearson
from bioverify.errors import InvalidInput


def test_clopper_pearson_closed_forms() -> None:
    lo, hi = clopper_pearson(0, 10)
    assert lo == 0.0
    assert hi == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-12)
    lo, hi = clopper_pearson(10, 10)
    assert lo == pytest.approx(0.025 ** (1 / 10), rel=1e-12)
    assert hi == 1.0
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    lo, hi = clopper_pearson(0, 300, confidence=0.90)
    assert hi == pytest.approx(1 - 0.05 ** (1 / 300), rel=1e-12)


@pytest.mark.parametrize(("k", "n"), [(5, 10), (1, 1000), (37, 250), (999, 1000)])
@pytest.mark.parametrize("confidence", [0.9, 0.95, 0.99])
def test_clopper_pearson_matches_scipy_binomtest(k: int, n: int, confidence: float) -> None:
    expected = binomtest(k, n).proportion_ci(confidence_level=confidence, method="exact")
    lo, hi = clopper_pearson(k, n, confidence)
    assert lo == pytest.approx(expected.low, rel=1e-9)
    assert hi == pytest.approx(expected.high, rel=1e-9)


def test_clopper_pearson_vectorised() -> None:
    k = np.array([0, 3, 10, 0])
    n = np.array([10, 10, 10, 0])
    lo, hi = clopper_pearson(k, n)
    assert isinstance(lo, np.ndarray) and lo.shape == (4,)
    for idx in range(4):
        assert (lo[idx], hi[idx]) == clopper_pearson(int(k[idx]), int(n[idx]))


@pytest.mark.parametrize(("k", "n", "confidence"), [(11, 10, 0.95), (-1, 10, 0.95), (1, 10, 1.0)])
def test_clopper_pearson_rejects_bad_input(k: int, n: int, confidence: float) -> None:
    with pytest.raises(InvalidInput):
        clopper_pearson(k, n, confidence)


def test_clopper_pearson_coverage() -> None:
    """Impostor scores ~ N(0, 1), threshold at the 1 % upper tail: true FAR is 0.01."""
    rng = np.random.default_rng(11)
    threshold = norm.isf(0.01)
    n, replicates = 2000, 200
    covered = 0
    for _ in range(replicates):
        k = int(np.count_nonzero(rng.standard_normal(n) >= threshold))
        lo, hi = clopper_pearson(k, n)
        covered += lo <= 0.01 <= hi
    assert covered / replicates >= 0.90


def _correlated_trials(
    rng: np.random.Generator, n_subjects: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float, float]:
    """Scores with a per-subject effect u ~ N(0, 0.5²) shared by all of a subject's trials.

    impostor(a, b) = u_a + u_b + e, genuine(a) = 2 + u_a + e, e ~ N(0, 0.5²); at threshold 1.5
    the population FAR is sf(1.5 / sqrt(0.75)) and FRR is cdf(-0.5 / sqrt(0.5)).
    """
    u = rng.normal(0, 0.5, n_subjects)
    n_imp = 3000
    a = rng.integers(0, n_subjects, n_imp)
    b = (a + rng.integers(1, n_subjects, n_imp)) % n_subjects
    g = np.repeat(np.arange(n_subjects), 20)
    scores = np.concatenate(
        [u[a] + u[b] + rng.normal(0, 0.5, n_imp), 2 + u[g] + rng.normal(0, 0.5, g.size)]
    )
    labels = np.concatenate([np.zeros(n_imp, bool), np.ones(g.size, bool)])
    true_far = float(norm.sf(1.5 / np.sqrt(0.75)))
    true_frr = float(norm.cdf(-0.5 / np.sqrt(0.5)))
    return scores, labels, np.concatenate([a, g]), np.concatenate([b, g]), true_far, true_frr


@pytest.mark.slow  # a coverage simulation
def test_identity_bootstrap_coverage_under_subject_correlation() -> None:
    rng = np.random.default_rng(0)
    replicates = 200
    boot_far = boot_frr = cp_far = 0
    for r in range(replicates):
        scores, labels, sa, sb, true_far, true_frr = _correlated_trials(rng, 100)
        far_ci, frr_ci = bootstrap_rates(
            scores, labels, [1.5], sa, sb, IntervalSettings(n_resamples=200, seed=r)
        )
        boot_far += far_ci[0, 0] <= true_far <= far_ci[0, 1]
        boot_frr += frr_ci[0, 0] <= true_frr <= frr_ci[0, 1]
        k = int(np.count_nonzero(scores[~labels] >= 1.5))
        lo, hi = clopper_pearson(k, int(np.count_nonzero(~labels)))
        cp_far += lo <= true_far <= hi
    assert boot_far / replicates >= 0.85
    assert boot_frr / replicates >= 0.85
    # trials sharing subjects are not independent: the per-trial interval is far too narrow
    assert cp_far / replicates < 0.7


def _naive_bootstrap(
    scores: np.ndarray,
    labels: np.ndarray,
    thresholds: list[float],
    sa: np.ndarray,
    sb: np.ndarray,
    n_resamples: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Resample by resample, trial by trial: weight m[a] * m[b], or m[a] when a == b."""
    names, codes = np.unique(np.concatenate([sa, sb]), return_inverse=True)
    a, b = codes[: scores.size], codes[scores.size :]
    s = names.size
    mult = np.random.default_rng(seed).multinomial(s, np.full(s, 1 / s), size=n_resamples)
    far = np.full((n_resamples, len(thresholds)), np.nan)
    frr = np.full((n_resamples, len(thresholds)), np.nan)
    for r in range(n_resamples):
        w = np.where(a == b, mult[r, a], mult[r, a] * mult[r, b])
        for k, t in enumerate(thresholds):
            if w[~labels].sum() > 0:
                far[r, k] = w[~labels & (scores >= t)].sum() / w[~labels].sum()
            if w[labels].sum() > 0:
                frr[r, k] = w[labels & (scores < t)].sum() / w[labels].sum()
    q = [0.025, 0.975]
    return np.nanquantile(far, q, axis=0).T, np.nanquantile(frr, q, axis=0).T


def _small_problem() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    subjects = np.array(["ann", "bob", "cy"])
    n = 60
    sa = rng.choice(subjects, n)
    sb = np.where(rng.random(n) < 0.5, sa, rng.choice(subjects, n))
    labels = sa == sb
    scores = np.round(np.where(labels, rng.normal(1, 1, n), rng.normal(0, 1, n)), 1)
    return scores, labels, sa, sb


def test_bootstrap_matches_naive_weighting() -> None:
    # 3 subjects: about 1 resample in 9 draws a single subject and has no impostor trial
    scores, labels, sa, sb = _small_problem()
    thresholds = [-0.5, 0.3, 1.0, np.inf]
    expected = _naive_bootstrap(scores, labels, thresholds, sa, sb, 300, seed=4)
    got = bootstrap_rates(
        scores, labels, thresholds, sa, sb, IntervalSettings(n_resamples=300, seed=4)
    )
    np.testing.assert_allclose(got[0], expected[0], rtol=1e-12)
    np.testing.assert_allclose(got[1], expected[1], rtol=1e-12)
    np.testing.assert_array_equal(got[0][-1], [0.0, 0.0])  # nothing accepted at +inf


def test_bootstrap_sparse_table_equals_dense(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(8)
    n = 3000
    sa = rng.integers(0, 40, n)
    sb = np.where(rng.random(n) < 0.3, sa, rng.integers(0, 40, n))
    labels = sa == sb
    scores = np.where(labels, rng.normal(1, 1, n), rng.normal(0, 1, n))
    args = (scores, labels, [0.0, 0.5, 2.0], sa, sb)
    dense = bootstrap_rates(*args, IntervalSettings(n_resamples=100, seed=1))
    monkeypatch.setattr(intervals, "_DENSE_TABLE_BYTES", 0)
    monkeypatch.setattr(intervals, "_CHUNK_BYTES", 8 * 8 * 40 * 7)  # 7 resamples per chunk
    sparse = bootstrap_rates(*args, IntervalSettings(n_resamples=100, seed=1))
    np.testing.assert_allclose(sparse[0], dense[0], rtol=1e-12)
    np.testing.assert_allclose(sparse[1], dense[1], rtol=1e-12)


def test_bootstrap_is_deterministic_for_a_seed() -> None:
    scores, labels, sa, sb = _small_problem()
    first = bootstrap_rates(
        scores, labels, [0.3], sa, sb, IntervalSettings(n_resamples=200, seed=3)
    )
    again = bootstrap_rates(
        scores, labels, [0.3], sa, sb, IntervalSettings(n_resamples=200, seed=3)
    )
    other = bootstrap_rates(
        scores, labels, [0.3], sa, sb, IntervalSettings(n_resamples=200, seed=4)
    )
    np.testing.assert_array_equal(first[0], again[0])
    np.testing.assert_array_equal(first[1], again[1])
    assert not (np.array_equal(first[0], other[0]) and np.array_equal(first[1], other[1]))


def test_bootstrap_with_no_usable_resample_raises() -> None:
    # two subjects, one resample: half the seeds draw one subject twice (no impostor trial)
    scores = np.array([0.9, 0.8, 0.1, 0.2])
    labels = np.array([True, True, False, False])
    sa, sb = np.array(["x", "y", "x", "y"]), np.array(["x", "y", "y", "x"])
    outcomes = []
    for seed in range(20):
        try:
            bootstrap_rates(
                scores, labels, [0.5], sa, sb, IntervalSettings(n_resamples=1, seed=seed)
            )
            outcomes.append("ok")
        except InvalidInput as exc:
            assert "impostor" in str(exc)
            outcomes.append("raised")
    assert {"ok", "raised"} == set(outcomes)


def test_bootstrap_rejects_bad_input() -> None:
    scores, labels, sa, sb = _small_problem()
    with pytest.raises(InvalidInput, match="subject"):
        bootstrap_rates(scores, labels, [0.3], sa[:-1], sb)
    with pytest.raises(InvalidInput, match="thresholds"):
        bootstrap_rates(scores, labels, [np.nan], sa, sb)
    with pytest.raises(InvalidInput, match="n_resamples"):
        bootstrap_rates(scores, labels, [0.3], sa, sb, IntervalSettings(n_resamples=0))
    with pytest.raises(InvalidInput, match="confidence"):
        bootstrap_rates(scores, labels, [0.3], sa, sb, IntervalSettings(confidence=95))
