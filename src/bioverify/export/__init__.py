"""Export: a training checkpoint → a model bundle (``model.onnx`` + ``bundle.json``).

Needs the ``train`` extra (torch, onnx, onnxscript). Modules:

* :mod:`~bioverify.export.source` — checkpoint → encoder (projection head dropped) + facts
* :mod:`~bioverify.export.onnx_export` — encoder → single-file ONNX, dynamic axes checked
* :mod:`~bioverify.export.parity` — torch vs onnxruntime on batches of 1, 2 and 7
* :mod:`~bioverify.export.samples` — real calibration samples, decoded as the model expects
* :mod:`~bioverify.export.quantize` — fp16 and static int8 variants (backbone only)
* :mod:`~bioverify.export.measure` — speed and EER of a variant
* :mod:`~bioverify.export.pipeline` — :func:`export_bundle`, which ties them together
"""

from __future__ import annotations

from bioverify.export.pipeline import ExportReport, VariantReport, export_bundle, variant_path

__all__ = ["ExportReport", "VariantReport", "export_bundle", "variant_path"]
