"""Tiny ONNX models built with ``onnx.helper`` (no torch) and written as model bundles.

Face: ``uint8 [N, 112, 112, 3]`` → mean over channels → 8 × 8 average pooling → 196 features
→ centred → fixed random projection → L2-normalised ``[N, D]``. Images with different
content get near-orthogonal embeddings; the same image gets the same one.

Voice: ``float32 [N, T]`` (any T) → 16 fixed random FIR filters (Conv, stride 80) → |·| →
mean over time → log → centred → fixed random projection → L2-normalised. Signals with the
same spectrum (a tone of one frequency, whatever its length or phase) embed alike.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bioverify.bundle import BundleInfo, file_sha256, write_bundle_json
from bioverify.calibration import Calibration, fit_calibration
from bioverify.face_geometry import FaceGeometry

FACE_DIM = 32
VOICE_DIM = 24
SAMPLE_RATE = 16000


def _save(model: object, folder: Path) -> Path:
    import onnx

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _embedding_model(
    folder: Path,
    name: str,
    signal: object,
    nodes: list,
    features: str,
    weights: np.ndarray,
    constants: list,
) -> Path:
    """``nodes`` (``signal`` → ``features``), then the tail both models share: ``features``
    centred, projected by ``weights`` and L2-normalised into ``embedding``; saved in
    ``folder``."""
    from onnx import TensorProto, helper, numpy_helper

    dim = weights.shape[1]
    tail = [
        helper.make_node("ReduceMean", [features], ["mean"], axes=[1], keepdims=1),
        helper.make_node("Sub", [features, "mean"], ["centred"]),
        helper.make_node("MatMul", ["centred", "W"], ["projected"]),
        helper.make_node("LpNormalization", ["projected"], ["embedding"], axis=1, p=2),
    ]
    graph = helper.make_graph(
        [*nodes, *tail],
        name,
        [signal],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", dim])],
        [*constants, numpy_helper.from_array(weights, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return _save(model, folder)


def face_model(folder: Path, seed: int = 0, dim: int = FACE_DIM) -> Path:
    from onnx import TensorProto, helper

    weights = np.random.default_rng(seed).standard_normal((196, dim)).astype(np.float32)
    nodes = [
        helper.make_node("Cast", ["image"], ["x"], to=TensorProto.FLOAT),
        helper.make_node("ReduceMean", ["x"], ["gray"], axes=[3], keepdims=1),
        helper.make_node("Transpose", ["gray"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("AveragePool", ["nchw"], ["pooled"], kernel_shape=[8, 8], strides=[8, 8]),
        helper.make_node("Flatten", ["pooled"], ["features"], axis=1),
    ]
    image = helper.make_tensor_value_info("image", TensorProto.UINT8, ["N", 112, 112, 3])
    return _embedding_model(folder, "tiny_face", image, nodes, "features", weights, [])


def voice_model(folder: Path, seed: int = 0, dim: int = VOICE_DIM) -> Path:
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    filters = rng.standard_normal((16, 1, 160)).astype(np.float32) / 10
    weights = rng.standard_normal((16, dim)).astype(np.float32)
    nodes = [
        helper.make_node("Unsqueeze", ["waveform", "axis1"], ["x"]),
        helper.make_node("Conv", ["x", "filters"], ["bands"], strides=[80]),
        helper.make_node("Abs", ["bands"], ["magnitude"]),
        helper.make_node("ReduceMean", ["magnitude"], ["energy"], axes=[2], keepdims=0),
        helper.make_node("Add", ["energy", "eps"], ["safe"]),
        helper.make_node("Log", ["safe"], ["log_energy"]),
    ]
    constants = [
        numpy_helper.from_array(filters, "filters"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array(1e-6, np.float32), "eps"),
    ]
    waveform = helper.make_tensor_value_info("waveform", TensorProto.FLOAT, ["N", "T"])
    return _embedding_model(folder, "tiny_voice", waveform, nodes, "log_energy", weights, constants)


def write_bundle(folder: Path, modality: str, seed: int = 0) -> BundleInfo:
    """A tiny bundle of ``modality`` in ``folder`` (model.onnx + bundle.json)."""
    if modality == "face":
        path, dim = face_model(folder, seed), FACE_DIM
        io = (
            {"name": "image", "dtype": "uint8", "shape": ["N", 112, 112, 3]},
            {"name": "embedding", "dtype": "float32", "shape": ["N", dim]},
        )
        preprocessing = {"face_geometry": FaceGeometry().to_dict()}
    else:
        path, dim = voice_model(folder, seed), VOICE_DIM
        io = (
            {"name": "waveform", "dtype": "float32", "shape": ["N", "T"]},
            {"name": "embedding", "dtype": "float32", "shape": ["N", dim]},
        )
        preprocessing = {"sample_rate": SAMPLE_RATE}
    info = BundleInfo(
        name=f"tiny-{modality}",
        modality=modality,
        embedding_dim=dim,
        precision="fp32",
        model_path=path.resolve(),
        model_sha256=file_sha256(path),
        input=io[0],
        output=io[1],
        preprocessing=preprocessing,
    )
    write_bundle_json(info)
    return info


def synthetic_calibration(model_sha256: str | None, seed: int = 0) -> Calibration:
    """A calibration from synthetic cosine scores (genuine ≈ 0.8, impostor ≈ 0.0), with
    enough impostor trials to support FAR=0.001 and FAR=0.01."""
    rng = np.random.default_rng(seed)
    genuine = np.clip(rng.normal(0.8, 0.1, 600), -1, 1)
    impostor = np.clip(rng.normal(0.0, 0.2, 4000), -1, 1)
    scores = np.concatenate([genuine, impostor])
    labels = np.concatenate([np.ones(600, int), np.zeros(4000, int)])
    return fit_calibration(
        scores, labels, target_fars=(1e-3, 1e-2), model_sha256=model_sha256, seed=seed
    )
