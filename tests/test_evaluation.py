"""Evaluation on labelled data: LFW pairs.txt parsing, trial scoring, failures to acquire."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bioverify.bundle import BundleInfo
from bioverify.datasets import TrialProtocol
from bioverify.errors import DataError
from bioverify.verify import Verifier
from bioverify.verify.evaluation import (
    accuracy_unfit,
    fold_accuracy,
    read_lfw_pairs,
    score_pairs,
    score_samples,
)
from bioverify.verify.evaluation_report import EvaluationReport
from helpers import PAIRS, make_fake_lfw


def test_reads_lfw_pairs(tmp_path: Path) -> None:
    (tmp_path / "pairs.txt").write_text(PAIRS)
    pairs = read_lfw_pairs(tmp_path / "pairs.txt", tmp_path / "lfw")
    assert len(pairs) == 8
    assert [p.genuine for p in pairs] == [True, True, False, False] * 2
    assert [p.fold for p in pairs] == [0] * 4 + [1] * 4
    first = pairs[0]
    assert first.a == tmp_path / "lfw" / "Person_0" / "Person_0_0001.jpg"
    assert first.b.name == "Person_0_0002.jpg" and first.identity_b == "Person_0"
    assert pairs[3].identity_a == "Person_2" and pairs[3].b.name == "Person_3_0001.jpg"
    (tmp_path / "one.txt").write_text("1\nA 1 2\nA 1 B 1\n")  # pairsDevTrain-style header
    assert len(read_lfw_pairs(tmp_path / "one.txt", tmp_path)) == 2


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("ten 300\n", "header"),
        ("1 1\nA 1 2\n", "promises"),
        ("1 1\nA 1 B 1\nA 1 2\n", "line 2: expected a same-identity pair"),
        ("1 1\nA 1 2\nA 1 B\n", "line 3: expected a different-identity pair"),
        ("1 1\nA x 2\nA 1 B 2\n", "line 2"),
    ],
)
def test_malformed_pairs_files(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "pairs.txt").write_text(text)
    with pytest.raises(DataError, match=message):
        read_lfw_pairs(tmp_path / "pairs.txt", tmp_path)


def test_score_pairs_counts_failures(face_bundle: BundleInfo, tmp_path: Path) -> None:
    root = make_fake_lfw(tmp_path / "lfw")
    for path in root.rglob("*.png"):  # pairs.txt names .jpg files
        path.rename(path.with_suffix(".jpg"))
    (root / "Person_3" / "Person_3_0003.jpg").write_bytes(b"broken")
    (tmp_path / "pairs.txt").write_text(PAIRS)
    verifier = Verifier.load(face_bundle.folder, face_mode="aligned")
    result = score_pairs(verifier, read_lfw_pairs(tmp_path / "pairs.txt", root))
    assert result.counts["pairs"] == 8
    assert result.counts["trials_dropped"] == 2  # both pairs naming Person_3_0003
    assert len(result.failures) == 1 and "Person_3_0003" in result.failures[0][0]
    assert result.labels.sum() == 3 and (~result.labels).sum() == 3
    assert result.scores[result.labels].min() > result.scores[~result.labels].max()
    out = EvaluationReport.from_scores(verifier, result).to_dict()
    assert out["eer"] == 0.0
    assert out["failures_to_acquire"]["count"] == 1
    assert out["trials"]["trials_dropped"] == 2
    assert out["acquisition"] == {"mode_aligned": 11}  # 12 distinct files, 1 broken
    assert set(out["tar_at_far"]) == {"0.01", "0.001"}
    assert out["far_supported"] == {"0.01": False, "0.001": False}
    assert "fold_accuracy" not in out  # 3 + 3 trials cannot support an accuracy
    assert out["notes"][-1] == "no fold accuracy: only 3 genuine trials (fewer than 100)"


@pytest.mark.parametrize(
    ("genuine", "impostor", "fit"),
    [(3000, 3000, True), (100, 199, True), (100, 201, False), (300, 7, False), (99, 99, False)],
)
def test_accuracy_only_on_balanced_and_enough_trials(
    genuine: int, impostor: int, fit: bool
) -> None:
    assert (accuracy_unfit(genuine, impostor) is None) == fit


def test_score_samples_uses_all_genuine_pairs(face_bundle: BundleInfo, tmp_path: Path) -> None:
    root = make_fake_lfw(tmp_path / "lfw", people=5, per_person=4)
    paths = sorted(root.rglob("*.png"))
    identities = [p.parent.name for p in paths]
    verifier = Verifier.load(face_bundle.folder, face_mode="aligned")
    result = score_samples(
        verifier, paths, identities, protocol=TrialProtocol(max_genuine_per_identity=4)
    )
    assert result.counts["genuine"] == 5 * 4  # min(6 pairs, cap 4) per identity
    # impostors: the protocol's 30,000 wanted, capped by the 160 that exist
    assert result.counts["impostor"] == 160 == result.counts["impostor_possible"]
    assert "only 160 impostor pairs exist" in result.notes[0]
    assert result.scores[result.labels].min() > result.scores[~result.labels].max()
    assert set(result.subject_a[result.labels]) <= set(identities)


def test_helpers() -> None:
    scores = np.array([0.9, 0.8, 0.1, 0.2, 0.85, 0.7, 0.3, 0.75])
    labels = np.array([1, 1, 0, 0, 1, 1, 0, 0], bool)
    folds = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    assert fold_accuracy(scores, labels, folds) == [1.0, 0.75]


def test_datasets_scored_each_on_its_own_join_into_conditions() -> None:
    from bioverify.verify.dataset_scoring import ScoredDataset, joined
    from bioverify.verify.evaluation import TrialScores

    def trials(n_dropped: int, note: str) -> TrialScores:
        return TrialScores(
            scores=np.array([0.9, 0.1]),
            labels=np.array([True, False]),
            subject_a=np.array(["ann", "ann"]),
            subject_b=np.array(["ann", "bob"]),
            counts={"genuine": 1, "impostor": 1, "trials_dropped": n_dropped},
            failures=[(f"{note}.jpg", "NoFaceFound")],
            n_inputs=3,
            protocol="p",
            notes=[note],
            quality_ranges={"face_size": (40.0, 90.0) if n_dropped else (60.0, 120.0)},
        )

    both = joined(
        [ScoredDataset("studio", trials(0, "a"), "x"), ScoredDataset("street", trials(2, "b"), "y")]
    )
    assert (
        both.conditions is not None and both.conditions.tolist() == ["studio"] * 2 + ["street"] * 2
    )
    assert both.subject_b.tolist() == ["studio/ann", "studio/bob", "street/ann", "street/bob"]
    assert both.counts == {"genuine": 2, "impostor": 2, "trials_dropped": 2}
    assert both.n_inputs == 6 and len(both.failures) == 2
    assert both.notes == ["[studio] a", "[street] b"]
    assert both.quality_ranges == {"face_size": (40.0, 120.0)}
    pooled = trials(0, "c")
    assert joined([ScoredDataset(None, pooled, "z")]) is pooled
