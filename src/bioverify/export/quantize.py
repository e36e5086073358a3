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

Static QDQ has no recurrent ops: a GE2E LSTM encoder quantised that way kept its three
``LSTM`` nodes, nearly all of its weights, in float (6.20 MB of 6.38, no faster). So the
backbone's stacked ``LSTM`` layers are then quantised *dynamically*
(:func:`onnxruntime.quantization.quantize_dynamic`, onnxruntime's ``DynamicQuantizeLSTM``:
int8 per-channel weights, inputs quantised per call). Not the first layer: it reads the
front-end's features, and a GE2E encoder's mel power spans decades that 8 bits per call
cannot hold — quantised too, the cosine to fp32 on 504 real clips fell to 0.58 (per-tensor
weights); the two stacked layers per-channel kept it at 0.9988 (min 0.997; per-tensor:
0.995, min 0.976), EER 8.15 % vs 8.20 % fp32, 3.1 MB vs 6.4 MB.
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
    quantize_dynamic,
    quantize_static,
)
from onnxruntime.transformers.float16 import convert_float_to_float16

from bioverify.errors import ExportError

_SCOPES = "pkg.torch.onnx.name_scopes"
#: the ops int8 quantises (those with weights; see the module docstring)
INT8_OPS = ("Conv", "Gemm", "MatMul")
#: recurrent ops static quantisation leaves in float; int8 quantises them dynamically
RECURRENT_OPS = ("LSTM",)


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


def _stacked_recurrent_nodes(model: onnx.ModelProto, backbone: set[str]) -> list[str]:
    """The backbone's recurrent nodes that read another recurrent node's output (through
    shape ops only): their inputs are hidden states in [-1, 1] (see the module docstring)."""
    producer = {out: node for node in model.graph.node for out in node.output}

    def fed_by_recurrent(node: onnx.NodeProto) -> bool:
        source = producer.get(node.input[0])
        while source is not None and source.op_type not in RECURRENT_OPS:
            if source.op_type not in ("Squeeze", "Unsqueeze", "Transpose", "Reshape"):
                return False
            source = producer.get(source.input[0])
        return source is not None

    return [
        node.name
        for node in model.graph.node
        if node.name in backbone and node.op_type in RECURRENT_OPS and fed_by_recurrent(node)
    ]


def to_int8(source: Path, target: Path, batches: Sequence[np.ndarray]) -> str:
    """Statically quantise the backbone's weighted ops to int8 (QDQ), calibrated on
    ``batches`` of real model inputs, then its stacked recurrent layers dynamically; return
    how (for the bundle)."""
    if not batches:
        raise ExportError("int8 quantisation needs calibration samples; none were given")
    model = onnx.load(str(source))
    backbone, _ = backbone_nodes(model)
    recurrent = _stacked_recurrent_nodes(model, set(backbone))
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
        if recurrent:
            quantize_dynamic(
                str(target),
                str(target),
                weight_type=QuantType.QInt8,
                nodes_to_quantize=recurrent,
                per_channel=True,
                op_types_to_quantize=list(RECURRENT_OPS),
            )
    method = "MinMax, QDQ, uint8 activations, int8 per-channel weights; backbone Conv/Gemm/MatMul"
    if recurrent:
        method += (
            f"; the recurrent layers after the first ({len(recurrent)}) dynamically (int8 "
            "per-channel weights, activations quantised per call), the first kept in float"
        )
    return method


__all__ = ["INT8_OPS", "RECURRENT_OPS", "backbone_nodes", "to_fp16", "to_int8"]
