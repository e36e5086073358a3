"""``bioverify info``: a bundle's facts, its calibration's binding, the providers here."""

from __future__ import annotations

import json
import shutil

from bioverify.bundle import CALIBRATION_FILE
from bioverify.verify import defaults
from helpers import one_line_error, run_cli
from tiny_bundles import synthetic_calibration


def test_info_describes_a_calibrated_bundle(calibrated_face_bundle) -> None:
    code, out, _ = run_cli("info", calibrated_face_bundle.folder)
    assert code == 0, out
    info = calibrated_face_bundle
    assert out.startswith(f"{info.name}  (face, {info.embedding_dim}-d, fp32)")
    assert f"sha256 {info.model_sha256[:12]}… verified" in out
    assert "calibration  calibration.json (bound to this model)" in out
    assert "FAR=0.001: threshold " in out and "FAR=0.01: threshold " in out
    assert "providers here: " in out and "CPUExecutionProvider" in out


def test_info_json_and_an_uncalibrated_voice_bundle(voice_bundle) -> None:
    code, out, _ = run_cli("info", voice_bundle.folder, "--json")
    document = json.loads(out)
    assert code == 0 and "CPUExecutionProvider" in document["providers"]
    (model,) = document["models"]
    assert model["model_sha256"] == voice_bundle.model_sha256 and model["calibration"] is None
    assert model["calibration_status"].startswith("none")


def test_info_flags_a_calibration_made_for_another_model(face_bundle, tmp_path) -> None:
    folder = shutil.copytree(face_bundle.folder, tmp_path / "bundle")
    synthetic_calibration("ab" * 32).save(folder / CALIBRATION_FILE)
    code, out, _ = run_cli("info", folder)
    assert code == 0 and "calibration  calibration.json: NOT for this model" in out


def test_info_without_argument_shows_the_default_models(
    calibrated_face_bundle, voice_bundle, tmp_path, monkeypatch
) -> None:
    shutil.copytree(calibrated_face_bundle.folder, tmp_path / "face")
    shutil.copytree(voice_bundle.folder, tmp_path / "voice")
    monkeypatch.setattr(defaults, "MODELS_DIR", tmp_path)
    code, out, _ = run_cli("info")
    assert code == 0
    assert f"{tmp_path / 'face'}  (" in out and f"{tmp_path / 'voice'}  (" in out
    code, out, _ = run_cli("info", "voice", "--json")
    assert code == 0 and json.loads(out)["models"][0]["modality"] == "voice"


def test_info_on_a_bad_path_is_a_one_line_error(tmp_path) -> None:
    code, _, err = run_cli("info", tmp_path / "missing")
    assert one_line_error(code, err).startswith("error: ")


def test_info_names_a_converted_models_source_and_licence(voice_bundle, tmp_path) -> None:
    folder = shutil.copytree(voice_bundle.folder, tmp_path / "converted")
    document = json.loads((folder / "bundle.json").read_text())
    document["preprocessing"]["partials"] = {"frames": 160, "hop_length": 160}
    document["training"] = {
        "model": {"name": "ge2e_lstm"},
        "provenance": {
            "source": "resemblyzer 0.1.4",
            "source_sha256": "39" * 32,
            "license": "Apache-2.0",
        },
    }
    (folder / "bundle.json").write_text(json.dumps(document))
    code, out, _ = run_cli("info", folder)
    assert code == 0, out
    assert "16000 Hz mono; mean of 1.6 s partial windows" in out
    assert "ge2e_lstm converted from resemblyzer 0.1.4 (sha256 393939393939…)" in out
    assert "licence Apache-2.0" in out
