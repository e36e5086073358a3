"""``bioverify verify``, ``evaluate`` and ``calibrate --model`` end to end on tiny bundles."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bioverify.bundle import CALIBRATION_FILE, BundleInfo
from bioverify.calibration import Calibration
from bioverify.cli import cli
from bioverify.verify import api
from test_evaluation import PAIRS, make_fake_lfw

FACES = Path(__file__).parent / "data" / "faces"
POWELL_1 = str(FACES / "Colin_Powell_0001.jpg")
SERENA = str(FACES / "Serena_Williams_0001.jpg")


def _run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.stdout, result.stderr


def _one_line_error(code: int, stderr: str) -> str:
    assert code != 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    return lines[0]


def _split(path: Path, test: list[str], train: list[str]) -> Path:
    document = {
        "format_version": 1,
        "seed": 0,
        "params": {"modality": "face"},
        "train": train,
        "val": [],
        "test": test,
        "counts": {},
        "data": [],
    }
    path.write_text(json.dumps(document))
    return path


def test_verify_prints_the_decision(calibrated_face_bundle: BundleInfo) -> None:
    model = calibrated_face_bundle.folder
    code, out, _ = _run("verify", POWELL_1, POWELL_1, "--model", model, "--face-mode", "aligned")
    assert code == 0
    assert "match        yes" in out and "FAR=0.001" in out and "probability" in out
    code, out, _ = _run(
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
    monkeypatch.setattr(api, "MODELS_DIR", tmp_path / "no_models")
    model = face_bundle.folder
    code, _, err = _run("verify", POWELL_1, POWELL_1, "--model", model)
    assert "bioverify calibrate" in _one_line_error(code, err) and code == 5
    code, _, err = _run(
        "verify", POWELL_1, tmp_path / "missing.jpg", "--model", model, "--threshold", "0.3"
    )
    assert "cannot read image file" in _one_line_error(code, err) and code == 2
    code, _, err = _run("verify", POWELL_1, "--model", model)
    assert "two inputs" in _one_line_error(code, err)
    code, _, err = _run("verify", POWELL_1, SERENA)
    assert "no default face model" in _one_line_error(code, err)
    code, _, err = _run("verify", POWELL_1, SERENA, "--model", tmp_path)
    assert "not a model bundle" in _one_line_error(code, err)
    code, out, _ = _run(
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

    code, out, _ = _run("verify", POWELL_1, SERENA, "--model", "face", "--device", "cpu")
    assert code == 0 and "decision     match when LLR >= " in out
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        code, _, err = _run("verify", POWELL_1, SERENA, "--device", "cuda")
        assert "--device cuda: this onnxruntime is the CPU build" in _one_line_error(code, err)
    code, _, err = _run(
        "calibrate", "--model", "face", "--data", tmp_path, "--install", "--device", "cpu"
    )
    assert "--install does not change the packaged face model" in _one_line_error(code, err)


def test_evaluate_with_pairs(face_bundle: BundleInfo, tmp_path: Path) -> None:
    root = make_fake_lfw(tmp_path / "lfw")
    for path in root.rglob("*.png"):
        path.rename(path.with_suffix(".jpg"))
    (tmp_path / "pairs.txt").write_text(PAIRS)
    args = ["evaluate", "--model", face_bundle.folder, "--data", root, "--face-mode", "aligned"]
    code, out, err = _run(*args, "--pairs", tmp_path / "pairs.txt", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["trials"] == {"genuine": 4, "impostor": 4, "pairs": 8, "trials_dropped": 0}
    assert report["eer"] == 0.0 and report["failures_to_acquire"]["count"] == 0
    assert "no --split" in report["notes"][0]
    # 4 + 4 trials: too few for an accuracy that means anything
    assert "fold_accuracy" not in report
    assert "no fold accuracy: only 4 genuine trials" in report["notes"][-1]
    split = _split(tmp_path / "split.json", ["Person_0", "Person_1"], ["Person_2", "Person_3"])
    code, out, err = _run(*args, "--pairs", tmp_path / "pairs.txt", "--split", split)
    assert code == 0, err
    headline = out.splitlines()[0]
    assert headline.startswith("EER ") and "(2 genuine, 1 impostor trials)" in headline
    assert "3 of 8 pairs kept" in out and "accuracy" not in out.replace("no fold accuracy", "")
    assert "TAR@FAR=0.001" in out and "UNSUPPORTED: 1 impostor trials, 3000 needed" in out


def test_evaluate_all_trials_of_a_split(face_bundle: BundleInfo, tmp_path: Path) -> None:
    root = make_fake_lfw(tmp_path / "data", people=5, per_person=3)
    (root / "Person_4" / "Person_4_0002.png").write_bytes(b"broken image")
    split = _split(tmp_path / "split.json", ["Person_2", "Person_3", "Person_4"], ["Person_0"])
    code, out, err = _run(
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
    code, _, err = _run("evaluate", "--model", face_bundle.folder, "--data", tmp_path / "none")
    assert "dataset not found" in _one_line_error(code, err)


def test_calibrate_from_a_model_and_install(face_bundle: BundleInfo, tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(face_bundle.folder, bundle)
    root = make_fake_lfw(tmp_path / "data", people=6, per_person=3)
    split = _split(tmp_path / "split.json", [f"Person_{k}" for k in range(1, 6)], ["Person_0"])
    code, out, err = _run(
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
    code, out, err = _run("verify", POWELL_1, POWELL_1, "--model", bundle, "--face-mode", "aligned")
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
    code, _, err = _run("calibrate", *args)
    assert message in _one_line_error(code, err)


def test_install_refuses_a_zip(face_bundle: BundleInfo, tmp_path: Path) -> None:
    archive = shutil.make_archive(str(tmp_path / "bundle"), "zip", face_bundle.folder)
    root = make_fake_lfw(tmp_path / "data", people=3, per_person=2)
    code, _, err = _run(
        "calibrate", "--model", archive, "--data", root, "--install", "--face-mode", "aligned"
    )
    assert "zipped bundle" in _one_line_error(code, err)
