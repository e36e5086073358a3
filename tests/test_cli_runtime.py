"""``bioverify verify``, ``evaluate`` and ``calibrate --model`` end to end on tiny bundles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from bioverify.bundle import CALIBRATION_FILE, BundleInfo
from bioverify.calibration import Calibration, fit_calibration
from bioverify.verify import defaults
from helpers import (
    PAIRS,
    POWELL_1,
    SERENA,
    make_fake_lfw,
    one_line_error,
    run_cli,
    write_split,
)


def test_verify_prints_the_decision(calibrated_face_bundle: BundleInfo) -> None:
    model = calibrated_face_bundle.folder
    code, out, _ = run_cli("verify", POWELL_1, POWELL_1, "--model", model, "--face-mode", "aligned")
    assert code == 0
    assert "match        yes" in out and "FAR=0.001" in out and "probability" in out
    code, out, _ = run_cli(
        "verify",
        POWELL_1,
        SERENA,
        "--model",
        model,
        "--far",
        "0.01",
        "--json",
        "--face-mode",
        "aligned",
    )
    assert code == 0  # no match is not an error
    document = json.loads(out)
    assert document["match"] is False and document["operating_point"] == "FAR=0.01"
    assert document["far"] is not None and document["modality"] == "face"


def test_verify_errors_are_one_line(
    face_bundle: BundleInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(defaults, "MODELS_DIR", tmp_path / "no_models")
    model = face_bundle.folder
    code, _, err = run_cli("verify", POWELL_1, POWELL_1, "--model", model)
    assert "bioverify calibrate" in one_line_error(code, err) and code == 5
    code, _, err = run_cli(
        "verify", POWELL_1, tmp_path / "missing.jpg", "--model", model, "--threshold", "0.3"
    )
    assert "cannot read image file" in one_line_error(code, err) and code == 2
    code, _, err = run_cli("verify", POWELL_1, "--model", model)
    assert "two inputs" in one_line_error(code, err)
    code, _, err = run_cli("verify", POWELL_1, SERENA)
    assert "no default face model" in one_line_error(code, err)
    code, _, err = run_cli("verify", POWELL_1, SERENA, "--model", tmp_path)
    assert "not a model bundle" in one_line_error(code, err)
    code, out, _ = run_cli(
        "verify",
        POWELL_1,
        POWELL_1,
        "--model",
        model,
        "--threshold",
        "0.3",
        "--face-mode",
        "aligned",
    )
    assert code == 0 and "match        yes" in out and "expected" not in out


def test_device_and_default_model_names_on_the_command_line(tmp_path: Path) -> None:
    import onnxruntime

    code, out, _ = run_cli("verify", POWELL_1, SERENA, "--model", "face", "--device", "cpu")
    assert code == 0 and "decision     match when LLR >= " in out
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        code, _, err = run_cli("verify", POWELL_1, SERENA, "--device", "cuda")
        assert "--device cuda: this onnxruntime is the CPU build" in one_line_error(code, err)
    code, _, err = run_cli(
        "calibrate", "--model", "face", "--data", tmp_path, "--install", "--device", "cpu"
    )
    assert "--install does not change the packaged face model" in one_line_error(code, err)


def test_evaluate_with_pairs(face_bundle: BundleInfo, tmp_path: Path) -> None:
    root = make_fake_lfw(tmp_path / "lfw")
    for path in root.rglob("*.png"):
        path.rename(path.with_suffix(".jpg"))
    (tmp_path / "pairs.txt").write_text(PAIRS)
    args = ["evaluate", "--model", face_bundle.folder, "--data", root, "--face-mode", "aligned"]
    code, out, err = run_cli(*args, "--pairs", tmp_path / "pairs.txt", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["trials"] == {"genuine": 4, "impostor": 4, "pairs": 8, "trials_dropped": 0}
    assert report["eer"] == 0.0 and report["failures_to_acquire"]["count"] == 0
    assert "no --split" in report["notes"][0]
    # 4 + 4 trials: too few for an accuracy that means anything
    assert "fold_accuracy" not in report
    assert "no fold accuracy: only 4 genuine trials" in report["notes"][-1]
    split = write_split(tmp_path / "split.json", ["Person_0", "Person_1"], ["Person_2", "Person_3"])
    code, out, err = run_cli(*args, "--pairs", tmp_path / "pairs.txt", "--split", split)
    assert code == 0, err
    headline = out.splitlines()[0]
    assert headline.startswith("EER ") and "(2 genuine, 1 impostor trials)" in headline
    assert "3 of 8 pairs kept" in out and "accuracy" not in out.replace("no fold accuracy", "")
    assert "TAR@FAR=0.001" in out and "UNSUPPORTED: 1 impostor trials, 3000 needed" in out


def test_evaluate_all_trials_of_a_split(face_bundle: BundleInfo, tmp_path: Path) -> None:
    root = make_fake_lfw(tmp_path / "data", people=5, per_person=3)
    (root / "Person_4" / "Person_4_0002.png").write_bytes(b"broken image")
    split = write_split(tmp_path / "split.json", ["Person_2", "Person_3", "Person_4"], ["Person_0"])
    code, out, err = run_cli(
        "evaluate",
        "--model",
        face_bundle.folder,
        "--data",
        root,
        "--split",
        split,
        "--json",
        "--face-mode",
        "aligned",
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["trials"]["genuine"] == 3 + 3 + 1
    assert report["failures_to_acquire"]["count"] == 1
    assert "Person_4_0002" in report["failures_to_acquire"]["examples"][0]["input"]
    assert "3 test identities" in report["data"]
    code, _, err = run_cli("evaluate", "--model", face_bundle.folder, "--data", tmp_path / "none")
    assert "dataset not found" in one_line_error(code, err)


def test_calibrate_from_a_model_and_install(face_bundle: BundleInfo, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(face_bundle.folder, bundle)
    root = make_fake_lfw(tmp_path / "data", people=6, per_person=3)
    split = write_split(tmp_path / "split.json", [f"Person_{k}" for k in range(1, 6)], ["Person_0"])
    code, out, err = run_cli(
        "calibrate",
        "--model",
        bundle,
        "--data",
        root,
        "--split",
        split,
        "--install",
        "--target-far",
        "0.01",
        "--face-mode",
        "aligned",
        "--bootstrap",
        "50",
    )
    assert code == 0, err
    assert "5 test identities" in out and "impostor pairs sampled" in out
    assert "failures to acquire: 0 of 15" in out and "installed" in out
    calibration = Calibration.load(bundle / CALIBRATION_FILE)
    assert calibration.model_sha256 == face_bundle.model_sha256
    assert calibration.n_genuine == 15 and calibration.ci_method == "identity-bootstrap"
    code, out, err = run_cli(
        "verify", POWELL_1, POWELL_1, "--model", bundle, "--face-mode", "aligned"
    )
    assert code == 0 and "FAR=0.01" in out, err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ([], "give either --scores"),
        (["--model", "{bundle}"], "--model needs --data"),
        (["--model", "{bundle}", "--data", "{data}"], "give --out"),
        (["--scores", "{data}/s.csv", "--install", "--out", "x.json"], "go with --model"),
    ],
)
def test_calibrate_argument_errors(
    face_bundle: BundleInfo, tmp_path: Path, extra: list[str], message: str
) -> None:
    args = [a.format(bundle=face_bundle.folder, data=tmp_path) for a in extra]
    code, _, err = run_cli("calibrate", *args)
    assert message in one_line_error(code, err)


def test_install_refuses_a_zip(face_bundle: BundleInfo, tmp_path: Path) -> None:
    archive = shutil.make_archive(str(tmp_path / "bundle"), "zip", face_bundle.folder)
    root = make_fake_lfw(tmp_path / "data", people=3, per_person=2)
    code, _, err = run_cli(
        "calibrate", "--model", archive, "--data", root, "--install", "--face-mode", "aligned"
    )
    assert "zipped bundle" in one_line_error(code, err)


def test_calibrate_by_dataset_then_check_on_other_people(
    face_bundle: BundleInfo, tmp_path: Path
) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(face_bundle.folder, bundle)
    studio = make_fake_lfw(tmp_path / "studio", people=5, per_person=3)
    street = make_fake_lfw(tmp_path / "street", people=4, per_person=3)
    common = ["--model", bundle, "--face-mode", "aligned", "--bootstrap", "50"]
    code, out, err = run_cli(
        "calibrate",
        *common,
        "--data",
        studio,
        "--data",
        street,
        "--by-dataset",
        "--install",
        "--target-far",
        "0.05",
    )
    assert code == 0, err
    assert "[studio] model" in out and "[street] model" in out
    assert "per condition (2; " in out and "per bin (" in out  # sharpness bins by default
    calibration = Calibration.load(bundle / CALIBRATION_FILE)
    assert sorted(c.name for c in calibration.conditions) == ["street", "studio"]
    assert calibration.population is not None and "studio" in calibration.population
    assert set(calibration.quality_ranges) <= {"face_size", "detector_score", "sharpness"}
    others = make_fake_lfw(tmp_path / "others", people=4, per_person=3)
    code, out, err = run_cli("calibrate", *common, "--data", others, "--check")
    assert code == 0, err
    assert f"claims of {bundle / CALIBRATION_FILE}" in out
    assert "FAR=0.05 (threshold" in out and "measured" in out and "impostor trials:" in out
    code, _, err = run_cli("calibrate", *common, "--data", others, "--check", "--out", "x.json")
    assert "--check goes with --model and --data" in one_line_error(code, err)
    code, _, err = run_cli("calibrate", *common, "--data", others, "--by-dataset", "--out", "x")
    assert "--by-dataset needs two or more --data" in one_line_error(code, err)
    # evaluate: each dataset a condition, measured at the installed calibration's thresholds
    evaluate = ["evaluate", "--model", bundle, "--face-mode", "aligned"]
    code, out, err = run_cli(*evaluate, "--data", studio, "--data", others, "--by-dataset")
    assert code == 0, err
    assert f"per condition (2; at the thresholds of {bundle / CALIBRATION_FILE}):" in out
    assert "  studio (" in out and "  others (" in out and "FAR=0.05: FAR" in out
    code, out, _ = run_cli(*evaluate, "--data", studio, "--data", others, "--by-dataset", "--json")
    conditions = json.loads(out)["conditions"]
    assert sorted(c["name"] for c in conditions["per_condition"]) == ["others", "studio"]
    assert [r["label"] for r in conditions["per_condition"][0]["rates"]] == ["FAR=0.05"]
    code, _, err = run_cli(*evaluate, "--data", studio, "--by-dataset")
    assert "--by-dataset needs two or more --data" in one_line_error(code, err)
    code, _, err = run_cli(*evaluate, "--data", studio, "--calibration", bundle / CALIBRATION_FILE)
    assert "--calibration goes with --by-dataset" in one_line_error(code, err)


def test_calibrate_scores_with_conditions_and_population(tmp_path: Path) -> None:
    rows = ["score,label,condition"]
    rng = np.random.default_rng(0)
    for condition, impostor_mean in (("8k", 0.8), ("16k", 0.0)):
        rows += [f"{s},1,{condition}" for s in rng.normal(2.5, 1, 200)]
        rows += [f"{s},0,{condition}" for s in rng.normal(impostor_mean, 1, 2000)]
    (tmp_path / "scores.csv").write_text("\n".join(rows) + "\n")
    code, out, err = run_cli(
        "calibrate",
        "--scores",
        tmp_path / "scores.csv",
        "--target-far",
        "0.01",
        "--population",
        "call-centre recordings, 2026",
        "--out",
        tmp_path / "cal.json",
    )
    assert code == 0, err
    assert "measured on: call-centre recordings, 2026" in out
    lines = out.splitlines()
    first = lines.index(next(line for line in lines if line.startswith("per condition")))
    assert lines[first + 1].startswith("  8k (200 genuine, 2000 impostor")  # worst first


def test_drift_of_production_scores(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    scores = np.concatenate([rng.normal(0.7, 0.1, 500), rng.normal(0.1, 0.1, 5000)])
    labels = np.arange(scores.size) < 500
    calibration = fit_calibration(scores, labels, target_fars=(0.01,))
    calibration.save(tmp_path / "cal.json")
    production = tmp_path / "production.csv"
    production.write_text("score\n" + "\n".join(map(str, rng.normal(0.1, 0.1, 400))) + "\n")
    code, out, err = run_cli(
        "drift", "--scores", production, "--calibration", tmp_path / "cal.json"
    )
    assert code == 0, err
    assert out.startswith("NO DRIFT: 400 production scores") and "PSI" in out
    production.write_text("score\n" + "\n".join(map(str, rng.normal(0.4, 0.05, 400))) + "\n")
    code, out, _ = run_cli("drift", "--scores", production, "--calibration", tmp_path / "cal.json")
    assert code == 0 and out.startswith("DRIFT:") and "calibrate --check" in out
    production.write_text("score\n0.1\n0.2\n")
    code, _, err = run_cli("drift", "--scores", production, "--calibration", tmp_path / "cal.json")
    assert "2 production scores are not enough" in one_line_error(code, err)
    old = json.loads((tmp_path / "cal.json").read_text())
    for key in ("population", "conditions", "score_quantiles", "quality_ranges"):
        del old[key]
    (tmp_path / "v1.json").write_text(json.dumps({**old, "format_version": 1}))
    production.write_text("score\n" + "\n".join(map(str, rng.normal(0.1, 0.1, 400))) + "\n")
    code, _, err = run_cli("drift", "--scores", production, "--calibration", tmp_path / "v1.json")
    assert "written before format 2" in one_line_error(code, err)
