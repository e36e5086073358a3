"""The CLI's text renderers: chosen wording for each result type (``--json`` is the
result's ``to_dict()``, tested with the commands)."""

from __future__ import annotations

import pytest

from bioverify.calibration.summary import VerificationSummary
from bioverify.cli.calibration_text import evaluation_lines
from bioverify.cli.render import identification_lines, verification_lines
from bioverify.gallery import Candidate, Identification
from bioverify.verify.evaluation_report import EvaluationReport
from bioverify.verify.result import VerifyResult
from gallery_fakes import FakeResult


def _report(**changes) -> EvaluationReport:
    summary = VerificationSummary(
        eer=0.05,
        eer_threshold=0.5,
        n_genuine=300,
        n_impostor=400,
        tar_at_far={0.01: 0.9, 0.001: 0.8},
        supported={0.01: True, 0.001: False},
    )
    fields = {
        "model_name": "tiny",
        "modality": "face",
        "model_sha256": "ab" * 32,
        "score_normalization": None,
        "protocol": "pairs file pairs.txt (2 folds, 700 pairs)",
        "summary": summary,
        "counts": {"pairs": 700, "trials_dropped": 2},
        "min_dcf": 0.25,
        "min_dcf_threshold": 0.6,
        "failures": [("x.jpg", "NoFaceFound: no face")],
        "n_inputs": 100,
        "fold_accuracy": [0.9, 0.95],
        "data": "lfw",
        "face_mode": "aligned",
    }
    return EvaluationReport(**{**fields, **changes})


def test_evaluation_lines() -> None:
    report = _report()
    assert evaluation_lines(report) == [
        "EER 5 % at threshold 0.5000 (300 genuine, 400 impostor trials)",
        "TAR@FAR=0.01: 90 % (300 genuine trials)",
        "TAR@FAR=0.001: 80 % (300 genuine trials; UNSUPPORTED: 400 impostor trials, 3000 needed)",
        "minDCF (p_target 0.01): 0.2500",
        f"model tiny (face, sha256 {'ab' * 6}…)",
        "data: lfw",
        "protocol: pairs file pairs.txt (2 folds, 700 pairs)",
        "2 pairs dropped: a file failed to acquire",
        "2-fold accuracy: 92.5 % ± 2.5 % (balanced pairs, 700 trials)",
        "failures to acquire: 1 of 100 inputs (1 %)",
        "  x.jpg: NoFaceFound: no face",
    ]
    document = report.to_dict()
    assert list(document) == [
        "data", "model", "protocol", "trials", "eer", "eer_threshold", "tar_at_far",
        "far_supported", "min_dcf", "failures_to_acquire", "acquisition", "notes",
        "fold_accuracy", "face_mode",
    ]  # fmt: skip
    assert document["tar_at_far"] == {"0.01": 0.9, "0.001": 0.8}
    assert document["fold_accuracy"]["mean"] == pytest.approx(0.925)
    assert "data" not in _report(data=None).to_dict()


def test_verification_lines_without_a_calibration() -> None:
    result = VerifyResult(match=False, score=0.25, threshold=float("inf"), modality="voice")
    result.notes.append("b: 0.4 s of speech")
    assert verification_lines(result) == [
        "match        no",
        "score        0.2500",
        "threshold    inf",
        "note: b: 0.4 s of speech",
    ]
    # a GalleryVerifier's own decision, not a VerifyResult: what it has
    assert verification_lines(FakeResult(True, 0.9, 0.5)) == [
        "match        yes",
        "score        0.9000",
    ]


def test_identification_lines() -> None:
    rated = FakeResult(True, 0.91, 0.5, operating_point="FAR=0.001", far=0.0004)
    found = Identification([Candidate("alice", 0.91, rated)], threshold=0.5, n_identities=3)
    assert identification_lines(found) == ["1. alice  score 0.9100 (FAR 0.04 % at FAR=0.001)"]
    nobody = Identification([], threshold=0.5, n_identities=3, notes=["probe: small face"])
    assert identification_lines(nobody) == [
        "unknown: none of 3 identities scored at or above the threshold 0.5",
        "note: probe: small face",
    ]
