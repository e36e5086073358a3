"""The Verifier on tiny ONNX bundles: loading, providers, calibration binding, decisions."""

from __future__ import annotations

import json
import logging
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy.signal import butter, lfilter

import bioverify
from bioverify.bundle import CALIBRATION_FILE, BundleInfo, write_bundle_json
from bioverify.errors import (
    CalibrationError,
    InvalidInput,
    MissingDependency,
    ModelError,
    ModelMismatch,
)
from bioverify.verify import Verifier, VerifyResult, defaults
from bioverify.verify.api import default_bundle
from helpers import POWELL_1, POWELL_6, SERENA

RESULT_FIELDS = {
    "match",
    "score",
    "threshold",
    "operating_point",
    "far",
    "frr",
    "far_ci",
    "frr_ci",
    "supported",
    "llr",
    "probability",
    "prior",
    "threshold_llr",
    "threshold_prior",
    "measured_on",
    "worst_condition",
    "quality_warnings",
    "modality",
    "model_sha256",
    "notes",
    "quality",
}


def _noise_image(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (250, 250, 3), dtype=np.uint8)


def _voice(band: tuple[float, float], seconds: float, seed: int, rate: int = 16000) -> np.ndarray:
    """Band-passed noise: a "speaker" is a frequency band."""
    noise = np.random.default_rng(seed).standard_normal(round(seconds * rate))
    b, a = butter(4, [band[0] / (rate / 2), band[1] / (rate / 2)], "bandpass")
    shaped = lfilter(b, a, noise)
    return (0.3 * shaped / np.abs(shaped).max()).astype(np.float32)


def test_logs_the_provider_really_used(
    face_bundle: BundleInfo, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="bioverify.verify.session"):
        verifier = Verifier.load(face_bundle.folder, threshold=0.5)
    assert verifier.providers == ["CPUExecutionProvider"]
    assert any("runs on CPUExecutionProvider" in r.message for r in caplog.records)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="bioverify.verify.session"):
        Verifier.load(
            face_bundle.folder, providers=["CUDAExecutionProvider", "CPUExecutionProvider"]
        )
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        expected = "runs on the CPU: this onnxruntime is the CPU build"
        assert any(expected in r.message for r in caplog.records)
    with pytest.raises(ModelError, match="none of the onnxruntime providers"):
        Verifier.load(face_bundle.folder, providers=["NoSuchExecutionProvider"])


def test_device_names(face_bundle: BundleInfo) -> None:
    import onnxruntime

    assert Verifier.load(face_bundle.folder, device="cpu").providers == ["CPUExecutionProvider"]
    assert "CPUExecutionProvider" in Verifier.load(face_bundle.folder, device="auto").providers
    with pytest.raises(InvalidInput, match="--device must be one of auto, cpu, cuda"):
        Verifier.load(face_bundle.folder, device="gpu")
    with pytest.raises(InvalidInput, match="device= or providers="):
        Verifier.load(face_bundle.folder, device="cpu", providers=["CPUExecutionProvider"])
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        with pytest.raises(MissingDependency, match=r"CPU build.*bioverify\[gpu\]"):
            Verifier.load(face_bundle.folder, device="cuda")


@pytest.mark.filterwarnings("ignore:Specified provider 'CUDAExecutionProvider'")
def test_cuda_that_falls_back_to_the_cpu_names_the_missing_library(
    face_bundle: BundleInfo, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """onnxruntime-gpu without its libraries lists CUDA as available, then runs on the CPU.
    Seen here with the CPU build told that CUDA is available and a library that is missing."""
    import onnxruntime

    from bioverify.verify import session

    real = onnxruntime.get_available_providers()
    if "CUDAExecutionProvider" in real:
        pytest.skip("a real CUDA provider is installed; the fallback cannot be staged")
    monkeypatch.setattr(
        onnxruntime, "get_available_providers", lambda: ["CUDAExecutionProvider", *real]
    )
    monkeypatch.setattr(session, "CUDA_LIBRARIES", ("libbioverify-fake-cudnn.so.9",))
    with pytest.raises(MissingDependency) as caught:
        Verifier.load(face_bundle.folder, device="cuda")
    message = str(caught.value)
    assert "cannot load libbioverify-fake-cudnn.so.9" in message and "\n" not in message
    assert "--device cpu" in message
    with caplog.at_level(logging.WARNING, logger="bioverify.verify.session"):
        verifier = Verifier.load(face_bundle.folder)  # auto: one warning, then the CPU
    assert verifier.providers == ["CPUExecutionProvider"]
    assert sum("libbioverify-fake-cudnn.so.9" in r.message for r in caplog.records) == 1
    status = session.cuda_status()
    assert not status.usable and "libbioverify-fake-cudnn.so.9" in status.reason


def test_default_models_by_name() -> None:
    face = Verifier.load("face")
    assert face.modality == "face" and face.info.folder == default_bundle("face")
    assert Verifier.load("voice", calibration=False).modality == "voice"
    with pytest.raises(ModelError, match="no default voice-fp16 model"):
        default_bundle("voice-fp16")


def test_embed_can_skip_what_fails(calibrated_face_bundle: BundleInfo, tmp_path: Path) -> None:
    verifier = Verifier.load(calibrated_face_bundle.folder, face_mode="aligned")
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"not an image")
    inputs = [POWELL_1, broken, POWELL_6, tmp_path / "missing.jpg"]
    batch = verifier.embed(inputs, on_error="skip")
    assert batch.index == [0, 2] and sorted(batch.failures) == [1, 3]
    assert all(isinstance(error, InvalidInput) for error in batch.failures.values())
    np.testing.assert_allclose(batch.vectors, verifier.embed([POWELL_1, POWELL_6]), atol=1e-6)
    with pytest.raises(InvalidInput, match=r"broken\.jpg"):
        verifier.embed(inputs)
    with pytest.raises(InvalidInput, match="on_error"):
        verifier.embed(inputs, on_error="ignore")  # type: ignore[call-overload]


def test_a_changed_model_is_refused(face_bundle: BundleInfo, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(face_bundle.folder, folder)
    with (folder / "model.onnx").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelMismatch, match="sha256"):
        Verifier.load(folder)
    info = replace(face_bundle, model_sha256="0" * 64)
    with pytest.raises(ModelMismatch):
        Verifier.load(info)


def test_a_calibration_of_another_model_is_refused(face_bundle: BundleInfo, tmp_path: Path) -> None:
    from tiny_bundles import synthetic_calibration

    foreign = synthetic_calibration("f" * 64)
    with pytest.raises(ModelMismatch, match="calibrate this model"):
        Verifier.load(face_bundle.folder, calibration=foreign)
    foreign.save(tmp_path / "foreign.json")
    with pytest.raises(ModelMismatch):
        Verifier.load(face_bundle.folder, calibration=tmp_path / "foreign.json")
    folder = tmp_path / "bundle"
    shutil.copytree(face_bundle.folder, folder)
    foreign.save(folder / CALIBRATION_FILE)
    with pytest.raises(ModelMismatch):
        Verifier.load(folder)  # the bundle's own calibration.json is checked too
    assert Verifier.load(folder, calibration=False).calibration is None


def test_verify_same_and_different_faces(calibrated_face_bundle: BundleInfo) -> None:
    verifier = Verifier.load(calibrated_face_bundle.folder, face_mode="aligned")
    assert verifier.operating_point == "FAR=0.001"
    same = verifier.verify(POWELL_1, POWELL_1)
    assert same.match and same.score == pytest.approx(1.0, abs=1e-5)
    different = verifier.verify(_noise_image(1), _noise_image(2))
    assert not different.match and different.score < verifier.threshold
    for result in (same, different):
        assert result.far is not None and result.frr is not None and result.far <= 0.001
        assert result.far_ci is not None and result.far_ci[0] <= result.far <= result.far_ci[1]
        assert result.supported is True
        assert result.llr is not None and result.prior == 0.5
        assert result.probability is not None and 0 <= result.probability <= 1
    assert same.probability > 0.99 > different.probability  # type: ignore[operator]


def test_the_decision_and_the_probability_tell_one_story(
    calibrated_face_bundle: BundleInfo,
) -> None:
    """At the prior the threshold implies, a score at the threshold is even odds, so
    ``match`` and ``probability >= 0.5`` agree there."""
    verifier = Verifier.load(calibrated_face_bundle.folder, face_mode="aligned")
    result = verifier.result_for(verifier.threshold)  # type: ignore[arg-type]
    assert result.threshold_llr is not None and result.threshold_prior is not None
    assert result.llr == pytest.approx(result.threshold_llr)
    assert 0 < result.threshold_prior < 1
    at_implied = Verifier.load(
        calibrated_face_bundle.folder, face_mode="aligned", prior=result.threshold_prior
    ).result_for(verifier.threshold)  # type: ignore[arg-type]
    assert at_implied.probability == pytest.approx(0.5, abs=1e-6)


def test_result_json_has_every_field(calibrated_face_bundle: BundleInfo) -> None:
    verifier = Verifier.load(calibrated_face_bundle.folder, operating_point="FAR=0.01")
    result = verifier.verify(POWELL_1, SERENA)
    document = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert set(document) == RESULT_FIELDS
    assert document["operating_point"] == "FAR=0.01"
    assert document["modality"] == "face"
    assert document["model_sha256"] == calibrated_face_bundle.model_sha256
    assert isinstance(result, VerifyResult)
    assert Verifier.load(calibrated_face_bundle.folder, operating_point=0.01).threshold == (
        verifier.threshold
    )
    with pytest.raises(CalibrationError, match=r"no operating point FAR=0\.0001"):
        Verifier.load(calibrated_face_bundle.folder, operating_point="FAR=0.0001")


def test_without_calibration_a_threshold_must_be_given(face_bundle: BundleInfo) -> None:
    verifier = Verifier.load(face_bundle.folder)
    assert verifier.threshold is None and verifier.operating_point is None
    assert verifier.embed([POWELL_1]).shape == (1, verifier.embedding_dim)  # embedding works
    with pytest.raises(CalibrationError, match="bioverify calibrate"):
        verifier.verify(POWELL_1, POWELL_6)
    with pytest.raises(CalibrationError, match="needs a calibration"):
        Verifier.load(face_bundle.folder, operating_point="FAR=0.001")
    explicit = Verifier.load(face_bundle.folder, threshold=0.25).verify(POWELL_1, POWELL_1)
    assert explicit.match and explicit.threshold == 0.25
    assert explicit.far is None and explicit.probability is None
    with pytest.raises(InvalidInput, match="not both"):
        Verifier.load(face_bundle.folder, threshold=0.2, operating_point="FAR=0.001")


def test_embed_is_batched_and_equals_single(face_bundle: BundleInfo) -> None:
    verifier = Verifier.load(face_bundle.folder, face_mode="aligned", batch_size=2)
    inputs = [POWELL_1, POWELL_6, SERENA, _noise_image(3), POWELL_1.read_bytes()]
    batch = verifier.embed(inputs)
    assert batch.shape == (5, verifier.embedding_dim) and batch.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    singles = np.stack([verifier.acquire(x).embedding for x in inputs])
    np.testing.assert_allclose(batch, singles, atol=1e-5)
    np.testing.assert_allclose(batch[0], batch[4], atol=1e-6)
    assert verifier.embed([]).shape == (0, verifier.embedding_dim)


def test_verify_many_matches_verify(calibrated_face_bundle: BundleInfo) -> None:
    verifier = Verifier.load(calibrated_face_bundle.folder, face_mode="aligned", batch_size=3)
    pairs = [(POWELL_1, POWELL_6), (POWELL_1, SERENA), (SERENA, SERENA)]
    many = verifier.verify_many(pairs)
    assert [r.score for r in many] == pytest.approx([verifier.verify(a, b).score for a, b in pairs])
    assert many[2].match


def test_try_acquire_many_reports_failures(face_bundle: BundleInfo, tmp_path: Path) -> None:
    verifier = Verifier.load(face_bundle.folder, face_mode="aligned")
    (tmp_path / "bad.jpg").write_bytes(b"not a jpeg")
    results = verifier.try_acquire_many([POWELL_1, tmp_path / "bad.jpg", SERENA])
    assert isinstance(results[1], InvalidInput)
    assert results[0].embedding.shape == (verifier.embedding_dim,)  # type: ignore[union-attr]
    with pytest.raises(InvalidInput):
        verifier.acquire_many([POWELL_1, tmp_path / "bad.jpg"])


def test_voice_verifier(voice_bundle: BundleInfo, tmp_path: Path) -> None:
    import soundfile

    verifier = Verifier.load(voice_bundle.folder, threshold=0.5)
    low, high = (100, 600), (2000, 4000)
    soundfile.write(tmp_path / "a.wav", _voice(low, 2.0, 1), 16000)
    same = verifier.verify(tmp_path / "a.wav", (_voice(low, 3.0, 2)[::2].copy(), 8000))
    assert same.match and same.score > 0.9
    assert not verifier.verify(_voice(low, 2.0, 3), _voice(high, 2.0, 4)).match
    acquired = verifier.acquire(_voice(low, 14.0, 5))
    assert acquired.quality["windows"] == 4 and acquired.notes
    assert float(np.linalg.norm(acquired.embedding)) == pytest.approx(1.0, abs=1e-5)
    # unequal lengths in one batch
    embeddings = verifier.embed([_voice(low, 1.0, 6), _voice(low, 2.5, 7), _voice(high, 7.0, 8)])
    assert embeddings.shape == (3, verifier.embedding_dim)
    with pytest.raises(InvalidInput, match="is an image, but tiny-voice is a voice model"):
        verifier.acquire(POWELL_1)


def test_one_call_verify_and_default_model(
    calibrated_face_bundle: BundleInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(defaults, "MODELS_DIR", tmp_path / "no_models")
    result = bioverify.verify(
        POWELL_1, POWELL_1, model=calibrated_face_bundle.folder, face_mode="aligned"
    )
    assert result.match and result.operating_point == "FAR=0.001"
    verifier = Verifier.load(calibrated_face_bundle.folder)
    assert bioverify.verify(POWELL_1, SERENA, model=verifier).score < 1
    with pytest.raises(ModelError, match="no default face model installed; pass model="):
        bioverify.verify(POWELL_1, POWELL_6)
    with pytest.raises(ModelError, match="no default voice model"):
        default_bundle("voice")
    with pytest.raises(InvalidInput, match="cannot compare"):
        bioverify.verify(POWELL_1, np.zeros(16000, np.float32))


EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.mark.parametrize("modality", ["face", "voice"])
def test_shipped_default_models_verify_the_examples(modality: str) -> None:
    if not (defaults.MODELS_DIR / modality / "bundle.json").is_file():
        pytest.skip(f"no default {modality} model in this checkout")
    suffix = "jpg" if modality == "face" else "ogg"
    same = bioverify.verify(
        EXAMPLES / f"{modality}_a1.{suffix}", EXAMPLES / f"{modality}_a2.{suffix}"
    )
    other = bioverify.verify(
        EXAMPLES / f"{modality}_a1.{suffix}", EXAMPLES / f"{modality}_b1.{suffix}"
    )
    assert same.score > other.score
    assert same.operating_point == other.operating_point == "FAR=0.01"
    calibration = Verifier.load(default_bundle(modality)).calibration
    assert calibration is not None and calibration.quality_bins is not None
    # each pair is decided at the threshold of its worse sample's quality bin
    thresholds = {b.rates_for("FAR=0.01").threshold for b in calibration.quality_bins.bins}
    assert {same.threshold, other.threshold} <= thresholds
    assert same.quality_bin is not None and same.far is not None and same.probability is not None
    info = Verifier.load(default_bundle(modality)).info
    # the largest shipped model, dlib's face ResNet in fp32, is 22.75 MB
    assert info.modality == modality and info.model_path.stat().st_size < 32 * 2**20


def test_the_packaged_int8_voice_model_is_the_default_quantised() -> None:
    """``voice-int8``: converted from the shipped fp32 model (its sha256 in the metadata),
    with its own calibration and Resemblyzer's licence, and near the fp32 embeddings."""
    fp32, int8 = Verifier.load("voice"), Verifier.load("voice-int8")
    assert int8.info.folder == default_bundle("voice-int8") and int8.info.precision == "int8"
    export = int8.info.training["export"]
    assert export["converted_from_sha256"] == fp32.info.model_sha256
    assert int8.calibration is not None
    assert int8.calibration.model_sha256 == int8.info.model_sha256
    assert "Apache License" in (int8.info.folder / "LICENSE-resemblyzer.txt").read_text()
    clips = [EXAMPLES / f"voice_{name}.ogg" for name in ("a1", "a2", "b1")]
    cosines = np.sum(fp32.embed(clips) * int8.embed(clips), axis=1)
    assert cosines.min() >= 0.99, cosines
    same, other = (int8.verify(clips[0], clip) for clip in clips[1:])
    assert same.match and not other.match
    assert int8.info.model_path.stat().st_size < fp32.info.model_path.stat().st_size / 2


def test_zipped_bundle_and_bundle_json_path(face_bundle: BundleInfo, tmp_path: Path) -> None:
    archive = shutil.make_archive(str(tmp_path / "bundle"), "zip", face_bundle.folder)
    zipped = Verifier.load(archive, threshold=0.3, face_mode="aligned")
    direct = Verifier.load(face_bundle.folder / "bundle.json", threshold=0.3, face_mode="aligned")
    np.testing.assert_allclose(zipped.embed([SERENA]), direct.embed([SERENA]), atol=1e-6)


def test_wrong_output_size_is_a_model_error(face_bundle: BundleInfo, tmp_path: Path) -> None:
    folder = tmp_path / "bundle"
    shutil.copytree(face_bundle.folder, folder)
    info = replace(face_bundle, model_path=(folder / "model.onnx").resolve(), embedding_dim=7)
    write_bundle_json(info)
    with pytest.raises(ModelError, match="expected"):
        Verifier.load(folder, face_mode="aligned").embed([SERENA])


def test_one_call_cache_sees_an_installed_calibration(
    face_bundle: BundleInfo, tmp_path: Path
) -> None:
    from tiny_bundles import synthetic_calibration

    folder = tmp_path / "bundle"
    shutil.copytree(face_bundle.folder, folder)
    with pytest.raises(CalibrationError):
        bioverify.verify(POWELL_1, POWELL_6, model=folder, face_mode="aligned")
    synthetic_calibration(face_bundle.model_sha256).save(folder / CALIBRATION_FILE)
    result = bioverify.verify(POWELL_1, POWELL_6, model=folder, face_mode="aligned")
    assert result.operating_point == "FAR=0.001"


def test_results_say_where_the_rates_were_measured_and_flag_unusual_probes(
    face_bundle: BundleInfo, tmp_path: Path
) -> None:
    from bioverify.calibration import fit_calibration

    rng = np.random.default_rng(0)
    scores = np.concatenate([rng.normal(0.8, 0.1, 600), rng.normal(0.0, 0.2, 4000)])
    labels = np.arange(scores.size) < 600
    conditions = np.where(np.arange(scores.size) % 2 == 0, "studio", "street")
    scores[(conditions == "street") & ~labels] += 0.1  # impostors look alike in the street
    calibration = fit_calibration(
        scores,
        labels,
        target_fars=(1e-2,),
        model_sha256=face_bundle.model_sha256,
        conditions=conditions,
        population="synthetic staff photos",
        # the aligned tiny-bundle crops report no face size: use a value they do report
        quality_ranges={"face_size": (60.0, 400.0)},
    )
    verifier = Verifier.load(face_bundle.folder, calibration=calibration, face_mode="detect")
    result = verifier.verify(POWELL_1, POWELL_6)
    assert result.measured_on == "4,000 impostor and 600 genuine trials of synthetic staff photos"
    assert result.worst_condition is not None and result.worst_condition["name"] == "street"
    assert result.worst_condition["far"] <= 0.01
    sizes = [verifier.acquire(p).quality["face_size"] for p in (POWELL_1, POWELL_6)]
    assert all(60 <= size <= 400 for size in sizes) and result.quality_warnings == []
    tight = fit_calibration(
        scores,
        labels,
        target_fars=(1e-2,),
        model_sha256=face_bundle.model_sha256,
        quality_ranges={"face_size": (500.0, 900.0)},
    )
    flagged = Verifier.load(face_bundle.folder, calibration=tight, face_mode="detect")
    warnings = flagged.verify(POWELL_1, POWELL_6).quality_warnings
    assert len(warnings) == 2 and warnings[0].startswith("a: face_size")
    assert "is below the 500-900 px the calibration was measured on" in warnings[0]


def _word(seconds: float, frequency: float) -> np.ndarray:
    t = np.arange(round(seconds * 16000)) / 16000
    envelope = np.hanning(t.size)
    return (0.3 * envelope * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def test_voice_partial_windows_batch_clips_of_any_length(voice_bundle, tmp_path) -> None:
    folder = tmp_path / "partials"
    shutil.copytree(voice_bundle.folder, folder)
    info = replace(
        voice_bundle,
        model_path=folder / voice_bundle.model_path.name,
        preprocessing={**voice_bundle.preprocessing, "partials": {}, "target_dbfs": -30.0},
    )
    write_bundle_json(info)
    clips = [_word(s, f) for s, f in ((0.4, 300.0), (1.0, 500.0), (2.5, 700.0), (4.2, 900.0))]
    batched = Verifier.load(folder, calibration=False)
    calls: list[int] = []
    run = batched._run
    batched._run = lambda batch: calls.append(len(batch)) or run(batch)  # type: ignore[method-assign]
    acquired = batched.acquire_many(clips)
    assert calls == [1 + 1 + 2 + 4]  # every window of every clip in one model call
    assert [a.quality["windows"] for a in acquired] == [1, 1, 2, 4]
    one_by_one = Verifier.load(folder, calibration=False, batch_size=1).embed(clips)
    np.testing.assert_allclose(np.stack([a.embedding for a in acquired]), one_by_one, atol=1e-6)
    result = Verifier.load(folder, threshold=0.5).verify(clips[0], clips[3])
    assert result.quality["a"]["duration_seconds"] == 0.4
    assert set(result.to_dict()["quality"]["b"]) >= {"speech_seconds", "snr_db", "windows"}
    write_bundle_json(replace(info, preprocessing={**info.preprocessing, "partials": {"x": 1}}))
    with pytest.raises(ModelError, match="partials must be an object"):
        Verifier.load(folder, calibration=False)
