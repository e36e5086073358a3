"""Trial sampling: counts, caps, labels equal identity equality, uniformity, cosine scores."""

from __future__ import annotations

import itertools
import time
from collections import Counter

import numpy as np
import pytest
from scipy.stats import chisquare
from sklearn.metrics.pairwise import cosine_similarity

from bioverify.calibration.scoring import score_trials
from bioverify.datasets.trials import TrialProtocol, Trials, _pair_from_index
from bioverify.errors import InvalidInput

# sizes 10, 3, 1, 2 -> within-identity pairs 45 + 3 + 0 + 1 = 49 of 120; 71 cross-identity
IDS = ["a"] * 10 + ["b"] * 3 + ["c"] + ["d"] * 2


def make_trials(identities: list[str], **protocol: float) -> Trials:
    """The trials of a protocol that asks for no minimum of impostor trials unless told."""
    protocol.setdefault("min_impostor", 0)
    return TrialProtocol(**protocol).trials(identities)  # type: ignore[arg-type]


def _check_consistent(trials: Trials, identities: list[str]) -> None:
    ids = np.asarray(identities)
    assert np.all(trials.i < trials.j)
    assert np.array_equal(trials.genuine, ids[trials.i] == ids[trials.j])
    keys = trials.i * len(ids) + trials.j
    assert np.unique(keys).size == keys.size
    assert trials.counts["genuine"] == int(trials.genuine.sum())
    assert trials.counts["impostor"] == int((~trials.genuine).sum())


def test_all_pairs_when_under_the_caps() -> None:
    trials = make_trials(IDS, impostor_ratio=1.0)
    _check_consistent(trials, IDS)
    gi, gj = trials.i[trials.genuine].tolist(), trials.j[trials.genuine].tolist()
    genuine = set(zip(gi, gj, strict=True))
    expected = {(a, b) for a, b in itertools.combinations(range(len(IDS)), 2) if IDS[a] == IDS[b]}
    assert genuine == expected
    assert trials.counts == {
        "samples": 16,
        "identities": 4,
        "identities_with_pairs": 3,
        "genuine_possible": 49,
        "impostor_possible": 71,
        "genuine": 49,
        "impostor": 49,
        "impostor_wanted": 49,
    }


def test_caps_and_impostor_count() -> None:
    per_identity = make_trials(IDS, max_genuine_per_identity=5, impostor_ratio=2.0)
    _check_consistent(per_identity, IDS)
    per_id = Counter(np.asarray(IDS)[per_identity.i[per_identity.genuine]])
    assert per_id == {"a": 5, "b": 3, "d": 1}
    assert per_identity.counts["impostor"] == 18

    overall = make_trials(IDS, max_genuine_per_identity=5, max_genuine=4, min_impostor=30)
    _check_consistent(overall, IDS)
    assert overall.counts["genuine"] == 4
    assert overall.counts["impostor"] == 30  # max(ceil(1.0 * 4), 30)


def test_deterministic_for_a_seed() -> None:
    ids = [f"p{k % 40}" for k in range(400)]
    first = make_trials(ids, max_genuine_per_identity=3, seed=5)
    again = make_trials(ids, max_genuine_per_identity=3, seed=5)
    other = make_trials(ids, max_genuine_per_identity=3, seed=6)
    assert np.array_equal(first.i, again.i) and np.array_equal(first.j, again.j)
    assert not (np.array_equal(first.i, other.i) and np.array_equal(first.j, other.j))


@pytest.mark.parametrize("n_wanted", [1, 15])  # sampled by rejection / by enumeration
def test_impostor_pairs_are_uniform(n_wanted: int) -> None:
    ids = ["x"] * 6 + ["y"] * 2 + ["z"]  # 20 cross-identity pairs, very unequal identities
    runs = 1500
    seen: Counter[tuple[int, int]] = Counter()
    for seed in range(runs):
        trials = make_trials(ids, impostor_ratio=0.0, min_impostor=n_wanted, seed=seed)
        imp = ~trials.genuine
        assert imp.sum() == n_wanted
        seen.update(zip(trials.i[imp].tolist(), trials.j[imp].tolist(), strict=True))
    assert len(seen) == 20
    assert all(ids[a] != ids[b] for a, b in seen)
    assert chisquare(list(seen.values())).pvalue > 1e-3


def test_large_identity_sampling_stays_within_identity() -> None:
    ids = ["big"] * 3000 + [f"s{k}" for k in range(50)]
    trials = make_trials(ids, max_genuine_per_identity=2000, max_genuine=10**6)
    _check_consistent(trials, ids)
    assert trials.counts["genuine"] == 2000
    assert trials.counts["genuine_possible"] == 3000 * 2999 // 2


def test_pair_decoding_is_exact_for_large_n() -> None:
    rng = np.random.default_rng(0)
    for n in (2, 3, 7, 1000, 10**5, 3 * 10**7):
        total = n * (n - 1) // 2
        index = np.unique(
            np.concatenate(
                [
                    np.arange(min(total, 500)),
                    np.arange(max(0, total - 500), total),
                    rng.integers(0, total, 2000),
                ]
            )
        )
        r, c = _pair_from_index(index, n)
        assert np.all((r >= 0) & (r < c) & (c < n))
        assert np.array_equal(r * (2 * n - r - 1) // 2 + (c - r - 1), index)


def test_subjects_for_the_bootstrap() -> None:
    trials = make_trials(IDS)
    sa, sb = trials.subjects(IDS)
    assert np.array_equal(sa == sb, trials.genuine)
    assert list(sa[:2]) == [IDS[trials.i[0]], IDS[trials.i[1]]]
    with pytest.raises(InvalidInput, match="16 identities"):
        trials.subjects(IDS[:-1])


@pytest.mark.parametrize(
    ("ids", "kwargs", "message"),
    [
        (["a", "a", "a"], {}, "at least 2 identities"),
        (["a", "b", "c"], {}, "no identity has two samples"),
        (IDS, {"max_genuine": 0}, ">= 1"),
        (IDS, {"impostor_ratio": -1}, ">= 0"),
        ([["a", "b"], ["a", "b"]], {}, "1-D"),
    ],
)
def test_make_trials_errors(ids: list[str], kwargs: dict[str, float], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        make_trials(ids, **kwargs)  # type: ignore[arg-type]


def test_more_impostor_trials_than_exist_gives_all_of_them() -> None:
    trials = make_trials(IDS, min_impostor=72)
    assert trials.counts["impostor"] == 71 == trials.counts["impostor_possible"]
    assert trials.counts["impostor_wanted"] == 72


def test_the_default_protocol_is_the_documented_one() -> None:
    protocol = TrialProtocol()
    assert (protocol.max_genuine_per_identity, protocol.max_genuine) == (50, 20000)
    assert (protocol.impostor_ratio, protocol.min_impostor, protocol.seed) == (1.0, 30000, 0)
    assert "at least 30,000" in protocol.describe()


def test_score_trials_is_cosine() -> None:
    rng = np.random.default_rng(1)
    emb = rng.normal(size=(len(IDS), 8)) * rng.uniform(0.5, 3, size=(len(IDS), 1))
    trials = make_trials(IDS)
    scores = score_trials(emb, trials)
    expected = cosine_similarity(emb)[trials.i, trials.j]
    np.testing.assert_allclose(scores, expected, rtol=0, atol=1e-12)
    assert scores.dtype == np.float64


def test_score_trials_rejects_bad_embeddings() -> None:
    trials = make_trials(IDS)
    emb = np.ones((len(IDS), 4))
    emb[3] = 0
    with pytest.raises(InvalidInput, match="row 3"):
        score_trials(emb, trials)
    with pytest.raises(InvalidInput, match="one row per sample"):
        score_trials(np.ones((len(IDS) - 1, 4)), trials)


def test_ten_thousand_samples_is_fast() -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 1000, 10000).astype(str).tolist()
    start = time.perf_counter()
    trials = make_trials(ids, max_genuine=50000, min_impostor=60000)
    elapsed = time.perf_counter() - start
    _check_consistent(trials, ids)
    assert trials.counts["impostor"] == 60000
    assert elapsed < 5.0  # vectorised; listing all ~5e7 cross-identity pairs would not fit this
