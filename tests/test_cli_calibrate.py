"""``bioverify calibrate`` end to end: the JSON it writes, its summary, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from bioverify.calibration import Calibration, RocCurve, eer, threshold_at_far
from helpers import normal_trials, one_line_error, run_bioverify, run_cli

OP_FIELDS = {
    "target_far",
    "target_frr",
    "threshold",
    "far",
    "frr",
    "far_ci",
    "frr_ci",
    "supported",
    "ci_method",
}


def _scores_csv(path: Path, n_gen: int = 200, n_imp: int = 2000, subjects: bool = False):
    scores, labels = normal_trials(n_gen, n_imp, decimals=4)
    if subjects:
        rng = np.random.default_rng(1)
        a = rng.integers(0, 30, scores.size)
        b = np.where(labels, a, rng.integers(30, 60, scores.size))
        rows = [
            f"{s!r},{y:d},p{i},p{j}"
            for s, y, i, j in zip(scores.tolist(), labels, a, b, strict=True)
        ]
        path.write_text("score,label,subject_a,subject_b\n" + "\n".join(rows) + "\n")
    else:
        rows = [f"{s!r},{y:d}" for s, y in zip(scores.tolist(), labels, strict=True)]
        path.write_text("score,label\n" + "\n".join(rows) + "\n")
    return scores, labels


@pytest.mark.slow  # a child process
def test_happy_path_in_a_real_process(tmp_path: Path) -> None:
    scores, labels = _scores_csv(tmp_path / "scores.csv")
    out = tmp_path / "cal.json"
    proc = run_bioverify(
        *("calibrate", "--scores", tmp_path / "scores.csv", "--out", out),
        *("--target-far", "0.01", "--target-far", "0.0001", "--target-frr", "0.05"),
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # warnings go into the summary, not Python's warning printer
    data = json.loads(out.read_text())
    curve = RocCurve.from_scores(scores, labels)
    assert (data["n_genuine"], data["n_impostor"]) == (200, 2000)
    assert data["eer"] == eer(curve).eer and data["eer_threshold"] == eer(curve).threshold
    assert 0 <= data["min_cllr"] <= data["cllr"] < 1
    points = data["operating_points"]
    assert [(p["target_far"], p["target_frr"]) for p in points] == [
        (0.01, None),
        (0.0001, None),
        (None, 0.05),
    ]
    for p in points:
        assert set(p) == OP_FIELDS
        assert p["far_ci"][0] <= p["far"] <= p["far_ci"][1]
        assert p["frr_ci"][0] <= p["frr"] <= p["frr_ci"][1]
    assert points[0]["threshold"] == threshold_at_far(curve, 0.01)
    # rule of three: 2000 impostor trials support 1e-2 (needs 300) but not 1e-4 (needs 30000)
    assert [p["supported"] for p in points] == [True, False, True]
    assert "UNSUPPORTED" in proc.stdout and "30000 impostor trials" in proc.stdout
    assert f"EER {100 * data['eer']:.3g} %" in proc.stdout
    assert "FAR=0.01: threshold" in proc.stdout and "FRR=0.05: threshold" in proc.stdout
    Calibration.load(out)


def test_defaults_to_far_1e3_and_writes_a_report(tmp_path: Path) -> None:
    _scores_csv(tmp_path / "scores.csv", subjects=True)
    code, out, err = run_cli(
        *("calibrate", "--scores", tmp_path / "scores.csv", "--out", tmp_path / "cal.json"),
        *("--report", tmp_path / "report", "--method", "isotonic", "--bootstrap", "50"),
        *("--p-target", "0.05"),
    )
    assert code == 0, out + err
    calibration = Calibration.load(tmp_path / "cal.json")
    assert [op.label for op in calibration.operating_points] == ["FAR=0.001"]
    assert calibration.operating_points[0].supported is False  # 2000 < 3000
    assert calibration.ci_method == "identity-bootstrap" and calibration.n_resamples == 50
    assert calibration.calibrator.method == "isotonic" and calibration.p_target == 0.05
    assert sorted(p.name for p in (tmp_path / "report").iterdir()) == [
        "det.png",
        "report.md",
        "roc.png",
        "scores.png",
    ]


MALFORMED = [
    ("score,lbl\n0.5,1\n0.1,0\n", "no 'label' column"),
    ("score,label\n0.5,1\nnan,0\n0.1,0\n", "NaN or infinite"),
    ("score,label\n0.5,1\ninf,0\n0.1,0\n", "NaN or infinite"),
    ("score,label\n0.5,1\n0.3,2\n", "label '2'"),
    ("score,label\n0.5,1\n0.3,1\n", "all 2 trials are genuine"),
    ("", "empty"),
    (None, "does not exist"),
]


def _malformed_file(tmp_path: Path, content: str | None) -> Path:
    path = tmp_path / "scores.csv"
    if content is not None:
        path.write_text(content)
    return path


@pytest.mark.parametrize(("content", "match"), MALFORMED)
def test_malformed_input_is_one_line_error(tmp_path: Path, content: str | None, match: str):
    path = _malformed_file(tmp_path, content)
    out = tmp_path / "cal.json"
    code, stdout, stderr = run_cli("calibrate", "--scores", path, "--out", out)
    assert code == 2  # InvalidInput.exit_code, not an escaped exception (run_cli checks)
    assert stdout == ""
    line = one_line_error(code, stderr)
    assert line.startswith("error: scores file") and match in line
    assert not out.exists()


@pytest.mark.slow  # a child process each
@pytest.mark.parametrize(("content", "match"), [MALFORMED[1], MALFORMED[-1]])
def test_malformed_input_in_a_real_process(tmp_path: Path, content: str | None, match: str):
    path = _malformed_file(tmp_path, content)
    proc = run_bioverify("calibrate", "--scores", path, "--out", tmp_path / "cal.json")
    assert proc.returncode == 2
    assert match in one_line_error(proc.returncode, proc.stderr)


def test_option_ranges_are_checked(tmp_path: Path) -> None:
    _scores_csv(tmp_path / "scores.csv", 20, 200)
    for option, value in (("--target-far", "0"), ("--target-frr", "1.5"), ("--bootstrap", "0")):
        code, out, err = run_cli(
            "calibrate", "--scores", tmp_path / "scores.csv", "--out", tmp_path / "c.json",
            option, value,
        )  # fmt: skip
        assert code == 2 and option in out + err


@pytest.mark.parametrize(
    ("genuine", "impostor", "match"),
    [
        # a collapsed model: every embedding the same, every score 1.0
        (np.ones(50), np.ones(500), "embeddings have collapsed"),
        # scores that do not separate the two kinds of trial
        (np.linspace(0, 1, 50), np.linspace(0, 1, 500), "near chance"),
    ],
)
def test_scores_that_cannot_separate_are_refused_unless_forced(
    tmp_path: Path, genuine: np.ndarray, impostor: np.ndarray, match: str
) -> None:
    rows = [f"{s!r},1" for s in genuine.tolist()] + [f"{s!r},0" for s in impostor.tolist()]
    path = tmp_path / "scores.csv"
    path.write_text("score,label\n" + "\n".join(rows) + "\n")
    out = tmp_path / "cal.json"
    code, _, err = run_cli("calibrate", "--scores", path, "--out", out)
    assert match in one_line_error(code, err)
    assert not out.exists()
    code, _, err = run_cli("calibrate", "--scores", path, "--out", out, "--force")
    assert code == 0, err
    assert out.exists()
