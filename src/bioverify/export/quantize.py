"""fp16 and int8 variants of an exported fp32 model; only the backbone changes precision.

The in-graph front-end and the final L2 normalisation stay in float32. Measured on a
randomly initialised full-size ECAPA-TDNN: quantising the whole graph dropped the cosine to
the fp32 model to 0.83 (the DFT convolution and mel matrix meet a power spectrum whose
range 8 bits cannot hold), quantising the backbone only kept it at 0.995. Backbone nodes are
found by the ``pkg.torch.onnx.name_scopes`` metadata the dynamo exporter writes on every
node (``['', 'backbone', ...]``).

int8 is static QDQ quantisation by :func:`onnxruntime.quantization.quantize_static`:
uint8 activations, int8 per-channel weights, MinMax ranges from real samples, and only the
weighted ops (``Conv``, ``Gemm``, ``MatMul``). On a trained ECAPA-TDNN (channels 128, 48
speech clips) quantising every supported backbone op gave cosine to fp32 0.92 (min 0.71):
the squeeze-excitation gates and the attentive statistics pooling (``Mul``, ``Add``,
``Sigmoid``) lose too much in 8 bits; weighted ops only gave 0.9996 (min 0.999). On the
MobileFaceNet the two agree (0.9994).

ORT's ``quant_pre_process`` is not run: its symbolic shape inference fails on the exported
normalisation (``Expand``), and the exporter's graph is already optimised. Nor is
``CalibMaxIntermediateOutputs``: in onnxruntime 1.32 it drops every full chunk of collected
ranges instead of merging it (``No data is collected.``, or ranges from the last chunk only);
MinMax calibration keeps only per-tensor minima and maxima per batch anyway.
"""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import onnx
from onnxruntime.quantization import (
    CalibrationDataReader,
    CalibrationMethod,
    QuantFormat,
    QuantType,
    quantize_static,
)
from onnxruntime.transformers.float16 import convert_float_to_float16

from bioverify.errors import ExportError

_SCOPES = "pkg.torch.onnx.name_scopes"
#: the ops int8 quantises (those with weights; see the module docstring)
INT8_OPS = ("Conv", "Gemm", "MatMul")


def _scope(node: onnx.NodeProto) -> list[str]:
    for prop in node.metadata_props:
        if prop.key == _SCOPES:
            try:
                value = ast.literal_eval(prop.value)
            except (ValueError, SyntaxError):
                return []
            return [str(part) for part in value] if isinstance(value, list) else []
    return []


def backbone_nodes(model: onnx.ModelProto) -> tuple[list[str], list[str]]:
    """``(backbone, other)`` node names, by the ``pkg.torch.onnx.name_scopes`` metadata the
    dynamo exporter writes, else by the module path the TorchScript exporter (recurrent
    encoders) puts in node names (``/backbone/lstm/LSTM``); raise :class:`ExportError` if
    no node is marked as the backbone's."""
    backbone: list[str] = []
    other: list[str] = []
    for node in model.graph.node:
        scope = _scope(node) or node.name.split("/")
        (backbone if len(scope) > 1 and scope[1] == "backbone" else other).append(node.name)
    if not backbone:
        raise ExportError(
            "cannot tell the backbone's nodes from the front-end's: the ONNX nodes carry no "
            f"{_SCOPES} metadata and no /backbone/ names (export with "
            f"{__package__}.onnx_export)"
        )
    return backbone, other


def to_fp16(source: Path, target: Path) -> None:
    """Convert the backbone to float16, keeping float32/uint8 inputs and outputs, the
    front-end and the normalisation in their types (for GPUs; on CPU it runs, slowly)."""
    model = onnx.load(str(source))
    _, keep = backbone_nodes(model)
    converted = convert_float_to_float16(model, keep_io_types=True, node_block_list=keep)
    onnx.save(converted, str(target))


@contextmanager
def _root_logger_kept_quiet() -> Iterator[None]:
    """onnxruntime.quantization gives advice through ``logging.warning()``, which installs a
    stderr handler on the root logger for good when it has none; a :class:`NullHandler`
    meanwhile keeps the root logger as the application configured it (or did not)."""
    root = logging.getLogger()
    if root.handlers:
        yield
        return
    handler = logging.NullHandler()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


class _Reader(CalibrationDataReader):
    """Feeds calibration batches to onnxruntime's calibrator."""

    def __init__(self, input_name: str, batches: Sequence[np.ndarray]) -> None:
        self.input_name = input_name
        self.batches: Iterator[np.ndarray] = iter(batches)

    def get_next(self) -> dict[str, np.ndarray] | None:
        batch = next(self.batches, None)
        return None if batch is None else {self.input_name: batch}


def to_int8(source: Path, target: Path, batches: Sequence[np.ndarray]) -> None:
    """Statically quantise the backbone's weighted ops to int8 (QDQ), calibrated on
    ``batches`` of real model inputs."""
    if not batches:
        raise ExportError("int8 quantisation needs calibration samples; none were given")
    model = onnx.load(str(source))
    backbone, _ = backbone_nodes(model)
    with _root_logger_kept_quiet():
        quantize_static(
            model,
            str(target),
            _Reader(model.graph.input[0].name, batches),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            nodes_to_quantize=backbone,
            op_types_to_quantize=list(INT8_OPS),
            calibrate_method=CalibrationMethod.MinMax,
        )


__all__ = ["INT8_OPS", "backbone_nodes", "to_fp16", "to_int8"]
