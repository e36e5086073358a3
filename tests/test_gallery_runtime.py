"""The gallery with the real runtime: a ``Verifier`` over tiny ONNX bundles (conftest)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile
from click.testing import CliRunner

from bioverify.cli import cli
from bioverify.gallery import Gallery


def _faces(folder: Path, person: int, n: int, start: int = 0) -> list[Path]:
    """``n`` 250x250 grey "photos" of a person: a smooth pattern of their own plus noise."""
    folder.mkdir(parents=True, exist_ok=True)
    base = np.random.default_rng(person).integers(0, 256, (10, 10)).astype(np.float32)
    base = cv2.resize(base, (250, 250), interpolation=cv2.INTER_CUBIC)
    paths = []
    for i in range(start, start + n):
        noise = np.random.default_rng(1000 * person + i + 1).normal(0, 8, base.shape)
        path = folder / f"p{person}_{i}.png"
        cv2.imwrite(str(path), np.clip(base + noise, 0, 255).astype(np.uint8))
        paths.append(path)
    return paths


@pytest.fixture
def verifier(calibrated_face_bundle):
    from bioverify.verify.verifier import Verifier

    return Verifier.load(calibrated_face_bundle.folder, providers=["CPUExecutionProvider"],
                         face_mode="aligned")  # fmt: skip


def test_enroll_verify_identify_with_a_real_verifier(tmp_path, verifier) -> None:
    with Gallery(tmp_path / "g.db", verifier) as gallery:
        for person in range(4):
            files = _faces(tmp_path / "enroll", person, 3)
            report = gallery.enroll(f"person{person}", files)
            assert report.ok and len(report.enrolled) == 3
        text = tmp_path / "enroll" / "notes.txt"
        text.write_text("not an image")
        report = gallery.enroll("person0", [text])
        assert not report.ok and report.skipped[0].reason == "InvalidInput"
        assert gallery.show("person1").templates[0].quality["mode"] == "aligned"

        probe = _faces(tmp_path / "probe", 2, 1, start=50)[0]
        genuine = gallery.verify("person2", probe)
        impostor = gallery.verify("person0", probe)
        assert genuine.match and genuine.far is not None and genuine.operating_point
        assert not impostor.match and impostor.score < genuine.score
        result = gallery.identify(probe, top_k=3)
        assert result.decision == "person2"
        assert result.threshold == verifier.threshold
        json.dumps(result.to_dict())  # strict JSON for --json
        assert gallery.identify(_faces(tmp_path / "probe", 9, 1)[0]).unknown
        assert gallery.check() == []


def test_reembed_into_another_real_model(tmp_path, verifier) -> None:
    from bioverify.verify.verifier import Verifier
    from tiny_bundles import write_bundle

    path = tmp_path / "g.db"
    with Gallery(path, verifier) as gallery:
        for person in range(2):
            gallery.enroll(f"person{person}", _faces(tmp_path / "enroll", person, 2))
    other = write_bundle(tmp_path / "other-bundle", "face", seed=1)
    new = Verifier.load(other.folder, face_mode="aligned", threshold=0.5)
    with Gallery(path) as gallery:
        report = gallery.reembed(new)
        assert report.switched and report.reembedded == 4
        assert gallery.bundle_path == other.folder and gallery.check() == []
    with Gallery(path, new) as gallery:
        assert gallery.verify("person1", _faces(tmp_path / "p", 1, 1, start=9)[0]).match


def test_cli_enroll_and_identify_with_a_real_bundle(tmp_path, calibrated_face_bundle) -> None:
    gallery = tmp_path / "g.db"
    runner = CliRunner()
    for person in range(2):
        files = [str(p) for p in _faces(tmp_path / "enroll", person, 2)]
        result = runner.invoke(
            cli,
            ["enroll", "--gallery", str(gallery), "--model", str(calibrated_face_bundle.folder),
             "--id", f"person{person}", "--face-mode", "aligned", *files],
        )  # fmt: skip
        assert result.exit_code == 0, result.output
    probe = _faces(tmp_path / "probe", 1, 1, start=20)[0]
    result = runner.invoke(
        cli, ["identify", "--gallery", str(gallery), "--face-mode", "aligned", str(probe), "--json"]
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["decision"] == "person1"
    assert document["candidates"][0]["operating_point"] == "FAR=0.001"


def test_cli_enroll_without_model_uses_the_default_for_the_samples(
    tmp_path, calibrated_face_bundle, monkeypatch
) -> None:
    from bioverify.verify import defaults

    models = tmp_path / "models"
    shutil.copytree(calibrated_face_bundle.folder, models / "face")
    monkeypatch.setattr(defaults, "MODELS_DIR", models)
    gallery, runner = tmp_path / "g.db", CliRunner()
    people = tmp_path / "people"
    for person in range(2):
        _faces(people / f"person{person}", person, 2)
    result = runner.invoke(
        cli, ["enroll", "--gallery", str(gallery), "--face-mode", "aligned", "--from", str(people)]
    )
    assert result.exit_code == 0, result.output
    assert "2 of 2 identities in the gallery: 4 template(s) added" in result.stdout
    with Gallery(gallery) as opened:
        assert opened.bundle_path == (models / "face").resolve()
        assert opened.model_sha256 == calibrated_face_bundle.model_sha256
    voice = tmp_path / "v.wav"
    soundfile.write(voice, np.zeros(16000, np.float32), 16000)
    result = runner.invoke(cli, ["enroll", "--gallery", str(tmp_path / "new.db"), "--id", "v",
                                 str(voice)])  # fmt: skip
    assert result.exit_code != 0 and "no default voice model installed" in result.stderr
    assert not (tmp_path / "new.db").exists()


def test_cli_identify_with_a_missing_calibration_is_a_one_line_error(
    tmp_path, calibrated_face_bundle
) -> None:
    gallery, runner = tmp_path / "g.db", CliRunner()
    files = [str(p) for p in _faces(tmp_path / "enroll", 0, 2)]
    model = str(calibrated_face_bundle.folder)
    enrolled = runner.invoke(cli, ["enroll", "--gallery", str(gallery), "--model", model,
                                   "--id", "p0", "--face-mode", "aligned", *files])  # fmt: skip
    assert enrolled.exit_code == 0, enrolled.output
    missing = tmp_path / "nope.json"
    for command in (["identify", "--gallery", str(gallery), files[0]], ["verify", *files]):
        extra = ["--model", model] if command[0] == "verify" else []
        result = runner.invoke(cli, [*command, *extra, "--calibration", str(missing)])
        assert result.exit_code == 5, result.output
        assert result.stderr.strip().splitlines() == [
            f"error: calibration file {missing} does not exist"
        ]
