"""The dlib ResNet face model: architecture, the ``.dat`` reader, and parity with dlib.

dlib (``dlib-bin``) and ``face_recognition_models`` are dev-only oracles: tests that need
them skip when they are not importable, and tests that need ``../shared`` skip without it.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from bioverify.bundle import open_bundle
from bioverify.errors import ModelError
from bioverify.face_geometry import FaceGeometry, crop_aligned
from bioverify.media import read_image
from bioverify.training.dlib_weights import DLIB_RESNET_SHA256, expected_layers, read_dlib_resnet
from bioverify.training.models import build_encoder
from bioverify.training.models.dlib_resnet import DLIB_MEAN, DLIB_STD, padded_add
from helpers import DEFAULT_FACE, LFW

needs_models = pytest.mark.skipif(
    importlib.util.find_spec("face_recognition_models") is None,
    reason="face_recognition_models (dev-only) is not installed",
)


def _encoder() -> torch.nn.Module:
    return build_encoder(
        "face", "dlib_resnet29", 128, frontend={"mean": list(DLIB_MEAN), "std": DLIB_STD}
    ).eval()


def _dat() -> Path:
    import face_recognition_models

    return Path(face_recognition_models.face_recognition_model_location())


def test_padded_add_pads_channels_and_bottom_right() -> None:
    a = torch.ones(1, 2, 3, 3)
    b = torch.full((1, 1, 4, 4), 10.0)
    out = padded_add(a, b)
    assert out.shape == (1, 2, 4, 4)
    assert out[0, 0, 0, 0] == 11 and out[0, 0, 3, 3] == 10
    assert out[0, 1, 0, 0] == 1 and out[0, 1, 3, 3] == 0


def test_architecture_has_dlibs_parameter_count_and_output() -> None:
    encoder = _encoder()
    assert sum(p.numel() for p in encoder.backbone.parameters()) == 5_614_592
    with torch.no_grad():
        out = encoder(torch.zeros(2, 150, 150, 3, dtype=torch.uint8))
    assert out.shape == (2, 128)
    # 29 convolutions, 14 residual additions, 5 average pools, 1 max pool, 1 fc
    names = [name for name, _ in expected_layers()]
    assert names.count("con_4") == 29 and names.count("add_prev_") == 14
    assert names.count("avg_pool_2") == 5 and names.count("max_pool_2") == 1


def test_a_file_with_another_hash_is_refused(tmp_path: Path) -> None:
    fake = tmp_path / "dlib_face_recognition_resnet_model_v1.dat"
    fake.write_bytes(b"\x01\x01" * 100)
    with pytest.raises(ModelError, match="sha256"):
        read_dlib_resnet(fake)
    with pytest.raises(ModelError, match="not dlib's face ResNet"):
        read_dlib_resnet(fake, expected_sha256=None)
    with pytest.raises(ModelError, match="not found"):
        read_dlib_resnet(tmp_path / "missing.dat")


@needs_models
def test_a_file_with_another_structure_is_refused(tmp_path: Path) -> None:
    data = bytearray(_dat().read_bytes())
    assert hashlib.sha256(data).hexdigest() == DLIB_RESNET_SHA256
    # the first max pool's window, 3 x 3, made 2 x 2
    at = data.index(b"\x01\x0amax_pool_2") + 12
    assert data[at : at + 4] == b"\x01\x03\x01\x03"
    data[at + 1] = data[at + 3] = 2
    changed = tmp_path / "changed.dat"
    changed.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="sha256"):
        read_dlib_resnet(changed)
    with pytest.raises(ModelError, match="max_pool_2"):
        read_dlib_resnet(changed, expected_sha256=None)


def _lfw_chips(count: int) -> np.ndarray:
    """Real face chips: the default model's aligned crop of ``count`` LFW frames."""
    geometry = FaceGeometry.from_dict(open_bundle(DEFAULT_FACE).preprocessing["face_geometry"])
    files = sorted(LFW.glob("*/*.jpg"))
    chosen = files[:: max(1, len(files) // count)][:count]
    return np.stack([crop_aligned(read_image(p), geometry) for p in chosen])


@pytest.mark.slow  # the full dlib ResNet on LFW photos
@needs_models
@pytest.mark.shared_data
def test_torch_and_onnx_descriptors_match_dlibs_own() -> None:
    """On 20 real LFW face chips: the converted torch model and the shipped ONNX model
    against dlib's descriptors (cosine >= 0.9999)."""
    dlib = pytest.importorskip("dlib")
    import onnxruntime as ort

    if not LFW.is_dir():
        pytest.skip("../shared/data/faces/lfw is absent")
    chips = _lfw_chips(20)
    oracle = dlib.face_recognition_model_v1(str(_dat()))
    reference = np.array([oracle.compute_face_descriptor(c) for c in chips])
    mirrored = np.array([oracle.compute_face_descriptor(c[:, ::-1].copy()) for c in chips])

    encoder = _encoder()
    weights = read_dlib_resnet(_dat())
    encoder.backbone.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    with torch.no_grad():
        raw = encoder.backbone(encoder.frontend(torch.from_numpy(chips))).numpy()
    assert np.abs(raw - reference).max() < 1e-4

    def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)

    assert cosine(raw, reference).min() >= 0.9999
    info = open_bundle(DEFAULT_FACE)
    session = ort.InferenceSession(str(info.model_path), providers=["CPUExecutionProvider"])
    onnx = session.run(None, {info.input["name"]: chips})[0]
    fused = info.preprocessing.get("flip_fusion", False)
    expected = reference + mirrored if fused else reference
    assert cosine(onnx, expected).min() >= 0.9999


def test_the_model_brings_its_own_embedding_size_and_input_normalisation() -> None:
    from bioverify.training.models import default_input_size

    config = build_encoder("face", "dlib_resnet29").config
    assert config["embedding_dim"] == 128
    assert config["frontend"] == {"type": "face_input", "mean": list(DLIB_MEAN), "std": 256.0}
    assert default_input_size("dlib_resnet29") == 150
    assert build_encoder("face", "mobilefacenet").config["frontend"]["mean"] == 127.5


def test_training_from_a_converted_checkpoint_keeps_its_face_geometry(tmp_path: Path) -> None:
    """``train --init-from`` a converted model crops as the model was aligned (its
    checkpoint's geometry), unless a geometry is given."""
    from bioverify.training.checkpoint import save_checkpoint
    from bioverify.training.config import TrainConfig
    from bioverify.training.run_data import face_geometry, init_checkpoint

    geometry = FaceGeometry(
        crop_box=(66, 76, 121, 121),
        output_size=150,
        colour="rgb",
        landmarks=((102, 112), (147, 113), (124, 139), (105, 159), (144, 160)),
    )
    checkpoint = tmp_path / "converted.pt"
    save_checkpoint(checkpoint, {"face_geometry": geometry.to_dict()})
    settings = {"data": ["d"], "split": "s.json", "modality": "face", "out_dir": "o"}
    config = TrainConfig(**settings, model="dlib_resnet29", init_from=str(checkpoint))
    assert face_geometry(config, init_checkpoint(config)) == geometry
    fresh = TrainConfig(**settings, model="dlib_resnet29")
    assert face_geometry(fresh, init_checkpoint(fresh)).output_size == 150


@needs_models
def test_the_conversion_recipe_writes_a_checkpoint_export_accepts(tmp_path: Path) -> None:
    import importlib.util as util

    from bioverify.export.source import load_trained_encoder

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "face_resnet_dlib"
    spec = util.spec_from_file_location("convert_dlib", recipe / "convert.py")
    assert spec is not None and spec.loader is not None
    module = util.module_from_spec(spec)
    spec.loader.exec_module(module)
    out = tmp_path / "dlib_resnet29.pt"
    module.convert(_dat(), recipe / "template.json", out)
    trained = load_trained_encoder(out)
    assert trained.geometry is not None and trained.geometry.landmarks is not None
    assert trained.flip_fusion and trained.encoder.embedding_dim == 128
    source = trained.training["source"]
    assert source["sha256"] == DLIB_RESNET_SHA256 and "public domain" in source["licence"]
    assert torch.load(out, weights_only=True)["source"]["file"] == _dat().name


def test_info_names_the_converted_weights_source() -> None:
    from click.testing import CliRunner

    from bioverify.cli import cli

    out = CliRunner().invoke(cli, ["info", str(DEFAULT_FACE)])
    assert out.exit_code == 0, out.output
    assert "converted from dlib_face_recognition_resnet_model_v1.dat (sha256 55533b28a958" in (
        out.output
    )
    assert "public domain" in (DEFAULT_FACE / "LICENSE").read_text()
