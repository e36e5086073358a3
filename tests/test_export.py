"""Export: checkpoint → bundle with dynamic axes, metadata, sha256, parity and fp16/int8
variants, and the ``bioverify export`` command.

Two exports (a tiny face model through the API with both variants, a tiny voice model through
the CLI with int8) are shared by most tests; each costs a few seconds of torch.export.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnx
import onnxruntime as ort
import pytest
import soundfile
import torch
from click.testing import CliRunner

from bioverify.bundle import MODEL_FILE, file_sha256, load_bundle
from bioverify.cli import cli
from bioverify.datasets.inventory import Sample
from bioverify.errors import ExportError, InvalidInput, MissingDependency, ModelError
from bioverify.export import ExportReport, export_bundle, parity, pipeline
from bioverify.export.onnx_export import check_signature, expand_prelu, read_metadata
from bioverify.export.parity import Agreement, agreement, batched
from bioverify.export.quantize import backbone_nodes
from bioverify.export.samples import select
from bioverify.export.source import load_trained_encoder
from bioverify.face_geometry import FaceGeometry
from bioverify.training.checkpoint import save_checkpoint
from bioverify.training.models import build_encoder
from helpers import run_bioverify

FACE_SIZE = 64
FACE = {"width": 0.125, "input_size": FACE_SIZE}
VOICE = {"channels": 16, "aggregate_channels": 24, "se_bottleneck": 4, "attention_bottleneck": 4}
VOICE_FRONTEND = {"n_mels": 24}
DIM = 32
SECRET_IDENTITY = "alice_example_person"


@pytest.fixture(autouse=True, scope="module")
def _one_thread_short_timing(one_torch_thread: None) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pipeline, "TIMING_SECONDS", 0.05)
        yield


def write_checkpoint(path: Path, modality: str, seed: int = 0, voice_model: str = "ecapa") -> Path:
    """A checkpoint with the keys ``bioverify train`` writes that export reads (voice: a
    small ECAPA-TDNN, or with ``voice_model="ge2e"`` a small GE2E LSTM on its mel front-end)."""
    torch.manual_seed(seed)
    if modality == "face":
        encoder = build_encoder("face", "mobilefacenet", DIM, **FACE)
        facts: dict[str, Any] = {"face_geometry": FaceGeometry(output_size=FACE_SIZE).to_dict()}
    else:
        if voice_model == "ge2e":
            encoder = build_encoder("voice", "ge2e_lstm", DIM, hidden=16, layers=2)
        else:
            encoder = build_encoder("voice", "ecapa_tdnn", DIM, frontend=VOICE_FRONTEND, **VOICE)
        facts = {"voice": {"sample_rate": 16000, "chunk_seconds": 2.0}}
    counts = {part: {"identities": n, "samples": 4 * n} for part, n in (("train", 5), ("val", 2))}
    save_checkpoint(
        path,
        {
            "modality": modality,
            "encoder": {"config": encoder.config, "state_dict": encoder.state_dict()},
            "head": None,
            "loss": {"name": "arcface", "kwargs": {"margin": 0.3}, "num_classes": 5},
            "config": {"epochs": 4, "val_max_seconds": 2.0},
            "identities": [SECRET_IDENTITY, "bob"],
            **facts,
            "data": {
                "paths": ["/data/set"],
                "split": "/data/split.json",
                "split_sha256": "0" * 64,
                "split_counts": {**counts, "test": {"identities": 1, "samples": 3}},
            },
            "metrics": {"epoch": 3, "val_eer": 0.25},
            "progress": {"epoch": 4, "best_val_eer": 0.25, "best_epoch": 3},
        },
    )
    return path


def write_faces(root: Path, identities: int = 4, per_identity: int = 3) -> Path:
    """250 × 250 grayscale PNGs: an identity-specific grating plus noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:250, 0:250]
    for k in range(identities):
        pattern = 127 + 90 * np.sin((0.04 + 0.02 * k) * (xx + k * yy))
        (root / f"person_{k}").mkdir(parents=True)
        for n in range(per_identity):
            image = np.clip(pattern + rng.normal(0, 20, pattern.shape), 0, 255).astype(np.uint8)
            cv2.imwrite(str(root / f"person_{k}" / f"{n}.png"), image)
    return root


def write_voices(root: Path, identities: int = 4, per_identity: int = 3) -> Path:
    """16 kHz WAVs of 0.3–1.2 s: an identity-specific tone plus noise."""
    rng = np.random.default_rng(0)
    for k in range(identities):
        (root / f"speaker_{k}").mkdir(parents=True)
        for n in range(per_identity):
            t = np.arange(round((0.3 + 0.3 * n) * 16000)) / 16000
            wave = 0.3 * np.sin(2 * np.pi * (200 + 150 * k) * t) + 0.05 * rng.normal(size=t.size)
            soundfile.write(root / f"speaker_{k}" / f"{n}.wav", wave.astype(np.float32), 16000)
    return root


@pytest.fixture(scope="module")
def face(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ExportReport]:
    """A face checkpoint exported through the API to fp32, fp16 and int8."""
    root = tmp_path_factory.mktemp("face")
    checkpoint = write_checkpoint(root / "best.pt", "face")
    report = export_bundle(
        checkpoint,
        root / "bundles" / "face",
        fp16=True,
        int8=True,
        calibration_data=write_faces(root / "faces"),
        threads=1,
    )
    return checkpoint, report


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A voice checkpoint exported through ``bioverify export --int8``."""
    root = tmp_path_factory.mktemp("voice")
    checkpoint = write_checkpoint(root / "last.pt", "voice")
    voices = write_voices(root / "voices")
    out = root / "bundles" / "voice"
    arguments = ["export", str(checkpoint), "--out", str(out), "--int8"]
    arguments += ["--calibration-data", str(voices), "--threads", "1", "--name", "tiny-voice"]
    result = CliRunner().invoke(cli, arguments)
    assert result.exit_code == 0, result.output
    return checkpoint, out, result.output


def _session(bundle: Path) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    return ort.InferenceSession(
        str(bundle / MODEL_FILE), options, providers=["CPUExecutionProvider"]
    )


@pytest.mark.slow  # the face export fixture (fp32, fp16, int8)
def test_face_bundles_are_complete_and_hash_checked(face) -> None:
    _, report = face
    assert [v.precision for v in report.variants] == ["fp32", "fp16", "int8"]
    for variant in report.variants:
        info = load_bundle(variant.bundle)
        assert info.precision == variant.precision
        assert info.model_sha256 == variant.model_sha256 == file_sha256(info.model_path)
        assert info.input == {"name": "image", "dtype": "uint8", "shape": ["N", 64, 64, 3]}
        assert info.output == {"name": "embedding", "dtype": "float32", "shape": ["N", DIM]}
        assert info.preprocessing["face_geometry"]["output_size"] == FACE_SIZE
        assert sorted(p.name for p in variant.bundle.iterdir()) == ["bundle.json", MODEL_FILE]
        assert (variant.bundle / "bundle.json").stat().st_mode & 0o044 == 0o044  # shareable
    fp32 = report.variants[0].bundle
    assert [v.bundle.name for v in report.variants] == ["face", "face-fp16", "face-int8"]
    assert not [p for p in fp32.parent.iterdir() if p.name.startswith(".")]  # no staging left
    assert len({v.model_sha256 for v in report.variants}) == 3


@pytest.mark.slow  # the face export fixture (fp32, fp16, int8)
def test_prelu_is_expanded_into_the_same_function(face) -> None:
    _, report = face
    model = onnx.load(str(report.variants[0].bundle / MODEL_FILE))
    ops = [node.op_type for node in model.graph.node]
    assert "PRelu" not in ops and "Relu" in ops  # MobileFaceNet's PReLUs were rewritten

    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [2, 3, 4])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [2, 3, 4])
    slope = onnx.numpy_helper.from_array(np.array([[0.25], [-0.5], [2.0]], np.float32), "slope")
    node = onnx.helper.make_node("PRelu", ["x", "slope"], ["y"], name="act")
    graph = onnx.helper.make_graph([node], "prelu", [x], [y], [slope])
    prelu = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 20)])
    expanded = onnx.ModelProto()
    expanded.CopyFrom(prelu)
    assert expand_prelu(expanded) == 1 and expand_prelu(expanded) == 0
    onnx.checker.check_model(expanded)
    values = np.random.default_rng(0).normal(size=(2, 3, 4)).astype(np.float32)
    run = [
        ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"x": values}
        )[0]
        for m in (prelu, expanded)
    ]
    np.testing.assert_array_equal(run[0], run[1])


@pytest.mark.slow  # the face export fixture (fp32, fp16, int8)
def test_face_batch_axis_is_dynamic_and_matches_torch(face) -> None:
    checkpoint, report = face
    session = _session(report.variants[0].bundle)
    dims = session.get_inputs()[0].shape
    assert isinstance(dims[0], str) and dims[1:] == [FACE_SIZE, FACE_SIZE, 3]
    encoder = load_trained_encoder(checkpoint).encoder
    rng = np.random.default_rng(5)
    for batch in (1, 2, 7):
        pixels = rng.integers(0, 256, (batch, FACE_SIZE, FACE_SIZE, 3), dtype=np.uint8)
        (got,) = session.run(None, {"image": pixels})
        with torch.no_grad():
            expected = encoder(torch.from_numpy(pixels)).numpy()
        assert got.shape == (batch, DIM)
        np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)
        assert agreement(expected, got).min_cosine > 0.9999


def _mirror_cosines(bundle: Path) -> np.ndarray:
    """Cosine between each image's embedding and its mirror image's, per image."""
    session = _session(bundle)
    pixels = np.random.default_rng(9).integers(0, 256, (5, FACE_SIZE, FACE_SIZE, 3), np.uint8)
    (plain,) = session.run(None, {"image": pixels})
    (mirrored,) = session.run(None, {"image": np.ascontiguousarray(pixels[:, :, ::-1])})
    return np.sum(plain * mirrored, axis=1)


@pytest.mark.slow  # exports again, with flip fusion
def test_face_export_fuses_the_mirror_image_by_default(face, tmp_path) -> None:
    checkpoint, report = face
    for variant in report.variants[:2]:  # fp32 and fp16: the embedding is mirror-invariant
        assert load_bundle(variant.bundle).preprocessing["flip_fusion"] is True
        assert _mirror_cosines(variant.bundle).min() > 0.999
    plain = export_bundle(checkpoint, tmp_path / "plain", flip_fusion=False, threads=1)
    bundle = plain.variants[0].bundle
    assert load_bundle(bundle).preprocessing["flip_fusion"] is False
    assert _mirror_cosines(bundle).min() < 0.99  # without fusion a mirror image differs
    # the fused embedding is the normalised sum of the plain model's raw outputs
    encoder = load_trained_encoder(checkpoint, flip_fusion=False).encoder
    pixels = torch.from_numpy(
        np.random.default_rng(3).integers(0, 256, (3, FACE_SIZE, FACE_SIZE, 3), np.uint8)
    )
    with torch.no_grad():
        raw = encoder.backbone(encoder.frontend(pixels)) + encoder.backbone(
            encoder.frontend(pixels.flip(2))
        )
    (fused,) = _session(report.variants[0].bundle).run(None, {"image": pixels.numpy()})
    expected = torch.nn.functional.normalize(raw, dim=1).numpy()
    assert agreement(expected, fused).min_cosine > 0.9999


@pytest.mark.slow  # the voice export (int8, via the CLI)
def test_flip_fusion_is_refused_for_voice(voice, tmp_path) -> None:
    checkpoint, _, _ = voice
    with pytest.raises(InvalidInput, match="flip fusion is for face models"):
        export_bundle(checkpoint, tmp_path / "v", flip_fusion=True)
    assert not (tmp_path / "v").exists()


@pytest.mark.slow  # the face export fixture (fp32, fp16, int8)
def test_metadata_props_repeat_the_bundle_facts(face) -> None:
    _, report = face
    for variant in report.variants:
        info = load_bundle(variant.bundle)
        metadata = read_metadata(info.model_path)
        assert {k: metadata[k] for k in info.metadata_props()} == info.metadata_props()
        assert metadata["bioverify.precision"] == variant.precision
        assert metadata["bioverify.modality"] == "face"
        assert json.loads(metadata["bioverify.preprocessing"]) == info.preprocessing


@pytest.mark.slow  # the face export fixture (fp32, fp16, int8)
def test_training_summary_has_counts_not_identity_names(face) -> None:
    checkpoint, report = face
    info = load_bundle(report.variants[0].bundle)
    training = info.training
    assert training["identities"] == {"train": 5, "val": 2, "test": 1}
    assert training["loss"] == {"name": "arcface", "kwargs": {"margin": 0.3}}
    assert training["model"]["name"] == "mobilefacenet"
    assert training["model"]["kwargs"] == FACE
    assert (training["epochs_completed"], training["val_eer"], training["best_epoch"]) == (
        4,
        0.25,
        3,
    )
    assert training["checkpoint_sha256"] == file_sha256(checkpoint)
    assert training["export"]["parity_min_cosine"] >= 0.9999
    assert info.name == "face-mobilefacenet-arcface"
    assert SECRET_IDENTITY not in (info.folder / "bundle.json").read_text()
    # names, not the training machine's absolute paths
    assert training["data"] == {"paths": ["set"], "split": "split.json", "split_sha256": "0" * 64}


@pytest.mark.slow  # exports twice (once refused)
def test_a_collapsed_model_is_refused_unless_forced(tmp_path) -> None:
    """Every input embedded to one vector: the export says so in one line and writes
    nothing; --force exports it anyway (issue 14: it used to export, calibrate to threshold
    1.0 and score 1.0 for every pair)."""
    checkpoint = write_checkpoint(tmp_path / "collapsed.pt", "face")
    state = torch.load(checkpoint, weights_only=True)
    weights = state["encoder"]["state_dict"]
    weights["backbone.features.weight"].zero_()  # the last BatchNorm1d: output = its bias
    weights["backbone.features.bias"].fill_(1.0)
    save_checkpoint(checkpoint, {k: v for k, v in state.items() if k != "format_version"})
    runner = CliRunner()
    args = ["export", str(checkpoint), "--out", str(tmp_path / "b"), "--no-flip-fusion"]
    result = runner.invoke(cli, args)
    assert result.exit_code == ExportError.exit_code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "the model gives every input the same embedding" in lines[0]
    assert not (tmp_path / "b").exists()
    assert runner.invoke(cli, [*args, "--force"]).exit_code == 0
    assert (tmp_path / "b" / "bundle.json").is_file()


@pytest.mark.slow  # two more exports
def test_the_same_checkpoint_exports_to_the_same_bytes(face, tmp_path, monkeypatch) -> None:
    """No timestamp in the graph, and the measured cosines it records rounded: a re-export
    keeps the sha256 even where the last digits of those measurements differ (they did
    between two machines: the shipped voice model could not be re-exported to its own
    bytes), so the calibration and the galleries bound to the model stay valid."""
    checkpoint, _ = face
    one = export_bundle(checkpoint, tmp_path / "one", threads=1)
    measured = parity.agreement

    def jittered(reference: np.ndarray, other: np.ndarray) -> Agreement:
        exact = measured(reference, other)
        return dataclasses.replace(exact, min_cosine=exact.min_cosine - 1e-12)

    monkeypatch.setattr(parity, "agreement", jittered)
    monkeypatch.setattr(pipeline, "agreement", jittered)
    two = export_bundle(checkpoint, tmp_path / "two", threads=1)
    first, second = load_bundle(one.variants[0].bundle), load_bundle(two.variants[0].bundle)
    assert first.model_sha256 == second.model_sha256
    assert first.model_path.read_bytes() == second.model_path.read_bytes()


@pytest.mark.slow  # the face export fixture (fp32, fp16, int8)
def test_variants_quantise_the_backbone_only_and_report_agreement(face) -> None:
    _, report = face
    fp32, fp16, int8 = report.variants
    assert fp32.reference == "torch" and fp32.agreement.min_cosine >= 0.9999
    assert fp16.agreement.mean_cosine > 0.999
    assert int8.agreement.mean_cosine > 0.9
    assert all(v.eer is not None and 0 <= v.eer <= 1 for v in report.variants)
    assert report.real_samples == 12 and report.trials["genuine"] == 12
    int8_ops = {n.op_type for n in onnx.load(str(int8.bundle / MODEL_FILE)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= int8_ops
    calibration = load_bundle(int8.bundle).training["export"]["calibration"]
    assert calibration["samples"] == 12
    fp16_model = onnx.load(str(fp16.bundle / MODEL_FILE))
    assert fp16_model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert fp16_model.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


@pytest.mark.slow  # the voice export (int8, via the CLI)
def test_voice_cli_prints_a_summary_and_axes_are_dynamic(voice) -> None:
    checkpoint, out, output = voice
    assert "parity onnxruntime vs torch: min cosine" in output
    info = load_bundle(out)
    assert info.name == "tiny-voice"
    assert info.preprocessing == {"sample_rate": 16000, "trim": "none"}
    assert f"sha256 {info.model_sha256[:12]}" in output
    assert "CPUExecutionProvider" in output
    assert load_bundle(out.with_name("voice-int8")).precision == "int8"
    session = _session(out)
    assert [isinstance(d, str) for d in session.get_inputs()[0].shape] == [True, True]
    encoder = load_trained_encoder(checkpoint).encoder
    rng = np.random.default_rng(1)
    for batch, length in ((1, 400), (2, 5923), (7, 16000)):
        waveform = rng.normal(0, 0.1, (batch, length)).astype(np.float32)
        (got,) = session.run(None, {"waveform": waveform})
        with torch.no_grad():
            expected = encoder(torch.from_numpy(waveform)).numpy()
        assert got.shape == (batch, DIM)
        assert agreement(expected, got).min_cosine > 0.9999


@pytest.mark.slow  # an export with int8 calibration
def test_a_ge2e_checkpoint_exports_to_int8_with_its_stacked_lstm_quantised(tmp_path) -> None:
    # its mel front-end has n_fft but no win_length: the real samples were cut by a
    # KeyError before
    checkpoint = write_checkpoint(tmp_path / "ge2e.pt", "voice", voice_model="ge2e")
    voices = write_voices(tmp_path / "voices")
    report = export_bundle(
        checkpoint, tmp_path / "bundle", int8=True, calibration_data=voices, threads=1
    )
    assert [v.precision for v in report.variants] == ["fp32", "int8"]
    int8 = report.variants[1]
    recurrent = [
        node.op_type
        for node in onnx.load(str(int8.bundle / MODEL_FILE)).graph.node
        if "LSTM" in node.op_type
    ]
    # the first layer reads the mel power (kept in float), the second its hidden states
    assert recurrent == ["LSTM", "DynamicQuantizeLSTM"]
    method = load_bundle(int8.bundle).training["export"]["calibration"]["method"]
    assert "recurrent layers after the first (1) dynamically" in method
    assert int8.agreement.min_cosine > 0.9


@pytest.mark.slow  # the voice export (int8, via the CLI)
def test_voice_int8_keeps_the_front_end_in_float(voice) -> None:
    _, out, _ = voice
    model = onnx.load(str(out.with_name("voice-int8") / MODEL_FILE))
    backbone, other = backbone_nodes(model)
    by_name = {n.name: n for n in model.graph.node}
    front_convs = [by_name[n] for n in other if by_name[n].op_type == "Conv"]
    assert front_convs  # the DFT convolution
    produced_by_dq = {
        o for n in model.graph.node if n.op_type == "DequantizeLinear" for o in n.output
    }
    assert not any(set(conv.input) & produced_by_dq for conv in front_convs)
    assert any(
        by_name[n].op_type == "Conv" and set(by_name[n].input) & produced_by_dq for n in backbone
    )


@pytest.mark.slow  # the face export fixture (fp32, fp16, int8)
def test_failed_parity_raises_and_leaves_the_old_bundle(face, tmp_path, monkeypatch) -> None:
    _, report = face
    out = tmp_path / "face"
    shutil.copytree(report.variants[0].bundle, out)
    before = file_sha256(out / MODEL_FILE)

    def wrong_model(encoder, path, image_size=None, opset=20):  # another model's weights
        shutil.copy(report.variants[0].bundle / MODEL_FILE, path)

    monkeypatch.setattr(pipeline, "export_onnx", wrong_model)
    other = write_checkpoint(tmp_path / "other.pt", "face", seed=1)
    with pytest.raises(ExportError, match="parity check failed"):
        export_bundle(other, out, overwrite=True, threads=1)
    assert file_sha256(out / MODEL_FILE) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face", "other.pt"]


@pytest.mark.slow  # a full re-export each
@pytest.mark.parametrize(("failing_call", "code"), [(1, "ENOSPC"), (2, "EIO")])
def test_an_os_error_while_installing_keeps_the_old_bundle(
    face, tmp_path, monkeypatch, failing_call, code
) -> None:
    # without an atomic swap (not Linux), call 1 moves the old bundle aside and call 2 moves
    # the new one in: a failure of either is put right
    import errno
    import os

    from bioverify import atomic

    checkpoint, report = face
    out = tmp_path / "face"
    shutil.copytree(report.variants[0].bundle, out)
    before = file_sha256(out / MODEL_FILE)
    real, calls = os.replace, []

    def failing(src, dst):
        calls.extend([dst] if Path(dst).parent == tmp_path else [])  # the install's moves only
        if Path(dst).parent == tmp_path and len(calls) == failing_call:
            raise OSError(getattr(errno, code), os.strerror(getattr(errno, code)))
        return real(src, dst)

    monkeypatch.setattr(atomic, "exchange_paths", lambda a, b: False)
    monkeypatch.setattr(atomic.os, "replace", failing)
    with pytest.raises(ModelError, match=os.strerror(getattr(errno, code))):
        export_bundle(checkpoint, out, overwrite=True, threads=1, timing_seconds=0.01)
    monkeypatch.undo()
    assert file_sha256(load_bundle(out).model_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face"]


@pytest.mark.slow  # two more exports
def test_a_re_export_swaps_the_bundle_in_one_step(face, tmp_path, monkeypatch) -> None:
    # on Linux the new bundle and the old one change places in one rename: no moment
    # without a bundle at the target; a failed swap leaves the old one
    import errno

    from bioverify import atomic

    checkpoint, report = face
    out = tmp_path / "face"
    shutil.copytree(report.variants[0].bundle, out)
    (out / "mine.txt").write_text("marks the old bundle")
    swaps = []
    real = atomic.exchange_paths

    def recording(a, b):
        swaps.append((a.parent.parent, b))  # built in a staging folder beside the target
        return real(a, b)

    monkeypatch.setattr(atomic, "exchange_paths", recording)
    export_bundle(checkpoint, out, overwrite=True, threads=1, timing_seconds=0.01)
    assert swaps == [(tmp_path, out)] and not (out / "mine.txt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["face"]

    (out / "mine.txt").write_text("marks the old bundle")

    def failing(a, b):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic, "exchange_paths", failing)
    with pytest.raises(ModelError, match="Input/output error"):
        export_bundle(checkpoint, out, overwrite=True, threads=1, timing_seconds=0.01)
    assert (out / "mine.txt").exists() and sorted(p.name for p in tmp_path.iterdir()) == ["face"]


@pytest.mark.slow  # the face export fixture (fp32, fp16, int8)
def test_refuses_to_overwrite_without_permission(face, tmp_path) -> None:
    checkpoint, report = face
    with pytest.raises(InvalidInput, match="--overwrite"):
        export_bundle(checkpoint, report.variants[0].bundle)
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "keep.txt").write_text("mine")
    with pytest.raises(InvalidInput, match="without a bundle"):
        export_bundle(checkpoint, tmp_path / "notes", overwrite=True)
    with pytest.raises(InvalidInput, match="calibration-data"):
        export_bundle(checkpoint, tmp_path / "new", int8=True)
    assert not (tmp_path / "new").exists()


def test_signature_check_rejects_a_fixed_batch() -> None:
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["image"], ["embedding"])],
        "fixed",
        [onnx.helper.make_tensor_value_info("image", onnx.TensorProto.UINT8, [1, 64, 64, 3])],
        [onnx.helper.make_tensor_value_info("embedding", onnx.TensorProto.FLOAT, [1, DIM])],
    )
    with pytest.raises(ExportError, match="symbolic N"):
        check_signature(onnx.helper.make_model(graph), "face", DIM, 64)


def test_cli_errors_are_one_line(tmp_path) -> None:
    runner = CliRunner()
    missing = runner.invoke(
        cli, ["export", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "b")]
    )
    assert missing.exit_code == ModelError.exit_code
    assert missing.output.strip().count("\n") == 0 and "checkpoint not found" in missing.output
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.zeros(2)}}, foreign)
    result = runner.invoke(cli, ["export", str(foreign), "--out", str(tmp_path / "b")])
    assert result.exit_code == ModelError.exit_code
    assert result.output.strip().count("\n") == 0 and "not a bioverify checkpoint" in result.output
    no_encoder = tmp_path / "no_encoder.pt"
    save_checkpoint(no_encoder, {"modality": "face"})
    result = runner.invoke(cli, ["export", str(no_encoder), "--out", str(tmp_path / "b")])
    assert result.exit_code == ModelError.exit_code and "not an encoder checkpoint" in result.output
    # a text file (torch's unpickler raised KeyError: a traceback) and a pickled object
    # (torch's five-line weights_only message): one line each
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    pickled = tmp_path / "pickled.pt"
    torch.save({"format_version": 1, "thing": object()}, pickled)
    for path, message in ((text, "not a readable bioverify checkpoint"), (pickled, "refused")):
        result = runner.invoke(cli, ["export", str(path), "--out", str(tmp_path / "b")])
        assert result.exit_code == ModelError.exit_code, result.output
        assert result.output.strip().count("\n") == 0 and message in result.output
    assert not (tmp_path / "b").exists()


def test_selection_prefers_identities_with_pairs_and_caps() -> None:
    samples = [Sample(Path(f"{i}_{n}.png"), f"id{i}") for i in range(6) for n in range(i % 3 + 1)]
    chosen = select(samples, max_samples=7, per_identity=2, seed=3)
    assert len(chosen) == 7
    counts: dict[str, int] = {}
    for sample in chosen:
        counts[sample.identity] = counts.get(sample.identity, 0) + 1
    assert max(counts.values()) == 2
    singles = {"id0", "id3"}  # identities with one sample come last
    assert [s.identity in singles for s in chosen] == sorted(s.identity in singles for s in chosen)
    few = [Sample(Path(f"{i}_{n}.wav"), f"spk{i}") for i in range(2) for n in range(10)]
    assert len(select(few, max_samples=12, per_identity=4)) == 12  # 6 each, not 4


def test_batched_groups_equal_shapes() -> None:
    items = [np.zeros(3), np.zeros(3), np.zeros(3), np.zeros(5), np.zeros(3)]
    assert [b.shape for b in batched(items, 2)] == [(2, 3), (1, 3), (1, 5), (1, 3)]


def test_eer_warning_beyond_one_point() -> None:
    agree = agreement(np.eye(2, dtype=np.float32), np.eye(2, dtype=np.float32))
    assert pipeline._variant_warnings("int8", agree, 0.125, 0.10)
    assert not pipeline._variant_warnings("int8", agree, 0.105, 0.10)


@pytest.mark.slow  # a fresh interpreter
def test_export_without_torch_is_a_one_line_error(tmp_path) -> None:
    proc = run_bioverify("export", tmp_path / "x.pt", "--out", "b", hide=("torch",))
    assert proc.returncode == MissingDependency.exit_code
    assert proc.stderr.strip().count("\n") == 0 and "bioverify[train]" in proc.stderr
