"""Encoder registry and backbones: shapes, unit norm, eval at batch 1, variable-length voice,
rebuilding from config, parameter counts against published models, numerically safe
pooling, registry errors, and ONNX export (TorchScript and dynamo) with dynamic axes."""

from __future__ import annotations

import io
import json
import warnings
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from bioverify.errors import InvalidInput, ModelError
from bioverify.training.models import available_models, build_encoder, default_input_size
from bioverify.training.models.encoder import Encoder
from bioverify.training.models.voice import AttentiveStatsPooling

TINY_VOICE_FRONTEND = {"n_mels": 24}
#: small versions of every registry model, so that each forward pass takes milliseconds
TINY: dict[tuple[str, str], dict[str, Any]] = {
    ("face", "mobilefacenet"): {"width": 0.125},
    ("face", "iresnet18"): {"width": 0.125},
    ("face", "iresnet50"): {"width": 0.0625},
    # dlib's architecture has no width setting: full size (5.6 M parameters, 150 px)
    ("face", "dlib_resnet29"): {},
    ("voice", "ecapa_tdnn"): {
        "channels": 16,
        "aggregate_channels": 24,
        "se_bottleneck": 4,
        "attention_bottleneck": 4,
        "frontend": TINY_VOICE_FRONTEND,
    },
    ("voice", "resnet34"): {"base_width": 4, "frontend": TINY_VOICE_FRONTEND},
    ("voice", "ge2e_lstm"): {"hidden": 8, "layers": 2, "frontend": TINY_VOICE_FRONTEND},
}
SECONDS = 16000


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py


def _tiny(modality: str, name: str, embedding_dim: int = 24) -> Encoder:
    torch.manual_seed(0)
    encoder = build_encoder(modality, name, embedding_dim, **TINY[modality, name])
    _randomise_batchnorm_statistics(encoder)
    return encoder.eval()


def _randomise_batchnorm_statistics(module: torch.nn.Module) -> None:
    """Fresh BatchNorm layers are identities in eval mode; make them do something."""
    generator = torch.Generator().manual_seed(1)
    for layer in module.modules():
        if isinstance(layer, torch.nn.modules.batchnorm._BatchNorm):
            assert layer.running_mean is not None and layer.running_var is not None
            size = layer.running_mean.shape
            layer.running_mean.copy_(0.1 * torch.randn(size, generator=generator))
            layer.running_var.copy_(0.5 + torch.rand(size, generator=generator))


def _inputs(
    modality: str, batch: int, samples: int = SECONDS, seed: int = 0, side: int = 112
) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    if modality == "face":
        return torch.randint(0, 256, (batch, side, side, 3), dtype=torch.uint8, generator=generator)
    return (0.1 * torch.randn(batch, samples, generator=generator)).clamp(-1, 1)


def test_every_registry_model_is_tested() -> None:
    assert {(m, n) for m, names in available_models().items() for n in names} == set(TINY)


@pytest.mark.parametrize(("modality", "name"), sorted(TINY))
def test_encoder_outputs_unit_embeddings_and_rebuilds_from_config(modality: str, name: str) -> None:
    encoder = _tiny(modality, name)
    batch = _inputs(modality, 3, side=default_input_size(name) if modality == "face" else 112)
    with torch.no_grad():
        out = encoder(batch)
        single = encoder(batch[1:2])
    assert out.dtype == torch.float32 and out.shape == (3, 24)
    torch.testing.assert_close(out.norm(dim=1), torch.ones(3), rtol=0, atol=1e-5)
    # eval mode: a sample's embedding does not depend on the rest of the batch
    torch.testing.assert_close(single, out[1:2], rtol=0, atol=1e-5)

    # what a checkpoint stores: plain types only, loadable with weights_only=True
    buffer = io.BytesIO()
    torch.save({"config": encoder.config, "state_dict": encoder.state_dict()}, buffer)
    buffer.seek(0)
    saved = torch.load(buffer, weights_only=True)
    assert json.loads(json.dumps(saved["config"])) == encoder.config
    rebuilt = Encoder.from_config(saved["config"])
    rebuilt.load_state_dict(saved["state_dict"])
    rebuilt.eval()
    with torch.no_grad():
        assert torch.equal(rebuilt(batch), out)
    assert rebuilt.config == encoder.config
    assert (rebuilt.modality, rebuilt.embedding_dim) == (modality, 24)


@pytest.mark.parametrize("name", available_models()["voice"])
def test_voice_encoders_take_any_length(name: str) -> None:
    encoder = _tiny("voice", name)
    for samples in (SECONDS, int(2.5 * SECONDS), 3 * SECONDS):
        with torch.no_grad():
            out = encoder(_inputs("voice", 2, samples))
        assert out.shape == (2, 24)
        torch.testing.assert_close(out.norm(dim=1), torch.ones(2), rtol=0, atol=1e-5)


@pytest.mark.parametrize("name", available_models()["voice"])
def test_voice_encoders_train_on_silence_without_nan(name: str) -> None:
    # silence gives constant features, so every pooled variance is exactly zero
    encoder = _tiny("voice", name).train()
    out = encoder(torch.zeros(2, SECONDS))
    out.sum().backward()
    gradients = [p.grad for p in encoder.parameters() if p.grad is not None]
    assert torch.isfinite(out).all() and gradients
    assert all(torch.isfinite(g).all() for g in gradients)


@pytest.mark.parametrize(("modality", "name"), [("face", "iresnet18"), ("voice", "ecapa_tdnn")])
def test_mixed_precision_keeps_float32_unit_embeddings(modality: str, name: str) -> None:
    encoder = _tiny(modality, name)
    batch = _inputs(modality, 2)
    with torch.no_grad():
        expected = encoder(batch)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            out = encoder(batch)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out.norm(dim=1), torch.ones(2), rtol=0, atol=1e-5)
    assert (out * expected).sum(dim=1).min() > 0.98  # bfloat16 is coarse, not wrong


def test_attentive_pooling_with_uniform_attention_gives_mean_and_std() -> None:
    pooling = AttentiveStatsPooling(channels=3, bottleneck=2)
    last = pooling.attention[-1]
    assert isinstance(last, torch.nn.Conv1d)
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)  # equal scores: softmax weights are 1/T
    x = torch.randn(2, 3, 50, generator=torch.Generator().manual_seed(4))
    expected = np.concatenate([x.numpy().mean(axis=-1), x.numpy().std(axis=-1)], axis=1)
    np.testing.assert_allclose(pooling(x).detach().numpy(), expected, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    ("modality", "name", "kwargs", "expected"),
    [
        # counted by running insightface arcface_torch's backbones (iresnet.py,
        # mobilefacenet.py with scale=1), whose outputs these reproduce with copied weights
        ("face", "mobilefacenet", {}, 1_200_512),
        ("face", "iresnet18", {}, 24_025_600),
        ("face", "iresnet50", {}, 43_590_848),
    ],
)
def test_face_parameter_counts_match_insightface(
    modality: str, name: str, kwargs: dict, expected: int
) -> None:
    with torch.device("meta"):
        encoder = build_encoder(modality, name, **kwargs)
    assert sum(p.numel() for p in encoder.parameters()) == expected


@pytest.mark.parametrize(("channels", "millions"), [(512, 6.2), (1024, 14.7)])
def test_ecapa_parameter_counts_match_the_paper(channels: int, millions: float) -> None:
    # Desplanques et al. 2020, table 2: 6.2 M (C = 512) and 14.7 M (C = 1024), 80 mels, 192-d
    encoder = build_encoder("voice", "ecapa_tdnn", channels=channels)
    assert round(sum(p.numel() for p in encoder.parameters()) / 1e6, 1) == millions


def test_ge2e_lstm_has_resemblyzers_shapes_and_front_end() -> None:
    encoder = build_encoder("voice", "ge2e_lstm", embedding_dim=256)
    shapes = {k: tuple(v.shape) for k, v in encoder.backbone.state_dict().items()}
    assert shapes["lstm.weight_ih_l0"] == (1024, 40) and shapes["lstm.weight_hh_l2"] == (1024, 256)
    assert shapes["linear.weight"] == (256, 256)
    assert encoder.config["frontend"]["type"] == "mel_spectrogram"
    with pytest.raises(InvalidInput, match="'mel_spectrogram' front-end"):
        build_encoder("voice", "ge2e_lstm", frontend={"type": "log_mel_fbank"})


def test_defaults_are_512_for_face_and_192_for_voice() -> None:
    with torch.device("meta"):
        face = build_encoder("face", "mobilefacenet")
    voice = build_encoder("voice", "resnet34", base_width=2)
    assert (face.embedding_dim, voice.embedding_dim) == (512, 192)
    assert face.config["frontend"] == {"type": "face_input", "mean": 127.5, "std": 128.0}
    assert voice.config["frontend"]["n_mels"] == 80
    assert voice.config["kwargs"] == {"base_width": 2}


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("audio", "ecapa_tdnn"), {}, r"unknown modality 'audio'; choose one of \['face'"),
        (
            ("face", "resnet100"),
            {},
            r"choose one of \['dlib_resnet29', 'iresnet18', 'iresnet50', 'mobilefacenet'\]",
        ),
        (("voice", "ecapa_tdnn"), {"chanels": 8}, r"unknown argument\(s\) \['chanels'\]"),
        (("voice", "resnet34"), {"n_mels": 40}, r"frontend=\{'n_mels'"),
        (("face", "iresnet18", 0), {}, "embedding_dim must be a positive integer"),
        (("face", "mobilefacenet"), {"frontend": {"type": "log_mel_fbank"}}, "face_input"),
        (("voice", "ecapa_tdnn"), {"channels": 12}, r"multiple of scale \(8\)"),
        (("face", "iresnet18"), {"width": 0}, "width must be positive"),
        (("face", "mobilefacenet"), {"input_size": 72}, "multiple of 16"),
        (("face", "iresnet18"), {"input_size": 8}, "integer >= 16"),
    ],
)
def test_bad_requests_raise_invalid_input(args: tuple, kwargs: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build_encoder(*args, **kwargs)


@pytest.mark.parametrize("name", ["mobilefacenet", "iresnet18"])
def test_face_encoders_take_the_input_size_they_are_built_for(name: str) -> None:
    encoder = build_encoder("face", name, embedding_dim=8, width=0.125, input_size=64).eval()
    with torch.no_grad():
        out = encoder(torch.randint(0, 256, (2, 64, 64, 3), dtype=torch.uint8))
    assert out.shape == (2, 8)
    assert torch.allclose(out.norm(dim=1), torch.ones(2), atol=1e-5)
    assert Encoder.from_config(encoder.config).config["kwargs"]["input_size"] == 64
    with pytest.raises(RuntimeError):  # the last layer spans the whole 4 × 4 map
        encoder(torch.zeros((1, 112, 112, 3), dtype=torch.uint8))


def test_from_config_refuses_a_foreign_config() -> None:
    with pytest.raises(ModelError, match=r"lacks \['kwargs', 'frontend'\]"):
        Encoder.from_config({"modality": "face", "name": "iresnet18", "embedding_dim": 8})


def _export(encoder: Encoder, path, dynamo: bool) -> list[int]:
    """Export with a dynamic batch (and length, for voice); the indices of the input's
    symbolic dimensions."""
    voice = encoder.modality == "voice"
    example = (_inputs(encoder.modality, 2),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if dynamo:
            batch, samples = torch.export.Dim("batch"), torch.export.Dim("samples", min=400)
            shapes = {0: batch, 1: samples} if voice else {0: batch}
            torch.onnx.export(
                encoder,
                example,
                path,
                dynamo=True,
                input_names=["input"],
                dynamic_shapes=(shapes,),
                verbose=False,
            )
        else:
            axes = {0: "batch", 1: "samples"} if voice else {0: "batch"}
            torch.onnx.export(
                encoder,
                example,
                path,
                dynamo=False,
                input_names=["input"],
                output_names=["embedding"],
                dynamic_axes={"input": axes, "embedding": {0: "batch"}},
            )
    dims = onnx.load(path).graph.input[0].type.tensor_type.shape.dim
    return [i for i, dim in enumerate(dims) if dim.dim_param]


@pytest.mark.parametrize(
    ("modality", "name", "dynamo"),
    [
        ("face", "mobilefacenet", False),
        ("voice", "ecapa_tdnn", False),
        pytest.param("voice", "ecapa_tdnn", True, marks=pytest.mark.slow),  # dynamo: slow
        ("voice", "ge2e_lstm", False),
    ],
)
def test_onnx_export_with_dynamic_axes_matches_torch(
    tmp_path, modality: str, name: str, dynamo: bool
) -> None:
    encoder = _tiny(modality, name)
    path = tmp_path / f"{name}.onnx"
    # the dynamo exporter specialises silently to the example's shape if not told otherwise
    assert _export(encoder, path, dynamo) == ([0, 1] if modality == "voice" else [0])
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    lengths = [SECONDS, int(2.5 * SECONDS), 3 * SECONDS]
    for batch, samples in zip((1, 2, 7), lengths, strict=True):
        raw = _inputs(modality, batch, samples, seed=batch)
        with torch.no_grad():
            expected = encoder(raw).numpy()
        (got,) = session.run(None, {"input": raw.numpy()})
        assert got.shape == (batch, 24)
        assert np.abs(got - expected).max() < 1e-4
