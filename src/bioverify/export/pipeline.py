"""Checkpoint → model bundle(s): export, parity check, optional fp16 / int8 variants and
their measurements.

Everything is built in a hidden staging folder beside the output and moved into place only
after every check passed, so a failed export leaves no bundle behind (and an existing one
untouched). The fp32 bundle goes to ``out``; variants are complete bundles of their own in
the sibling folders ``<out>-fp16`` and ``<out>-int8``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bioverify import __version__
from bioverify.atomic import replace_folder
from bioverify.bundle import (
    BUNDLE_FILE,
    MODEL_FILE,
    BundleInfo,
    file_sha256,
    load_bundle,
    write_bundle_json,
)
from bioverify.calibration.summary import VerificationSummary
from bioverify.errors import InvalidInput, ModelError
from bioverify.export.measure import (
    check_discriminates,
    cpu_session,
    embeddings_per_second,
    trial_summary,
)
from bioverify.export.onnx_export import (
    DEFAULT_OPSET,
    export_onnx,
    exporter_for,
    io_spec,
    set_metadata,
)
from bioverify.export.parity import (
    MIN_COSINE,
    Agreement,
    agreement,
    batched,
    check_parity,
    embed_onnx,
    synthetic_batches,
)
from bioverify.export.quantize import to_fp16, to_int8
from bioverify.export.samples import MAX_SAMPLES, RealSamples, load_samples
from bioverify.export.source import TrainedEncoder, load_trained_encoder

logger = logging.getLogger(__name__)

#: warn when a variant's EER exceeds the fp32 model's by more than this (absolute)
EER_TOLERANCE = 0.01
#: warn when a variant's mean cosine to the fp32 model falls below this
COSINE_WARNING = {"fp16": 0.999, "int8": 0.99}
#: real samples per batch (faces; waveforms of different lengths go one by one)
REAL_BATCH = 16
#: batches of real samples added to the torch-vs-onnxruntime parity inputs
PARITY_REAL_BATCHES = 2
#: audio length of the speed measurement's input (faces: one crop)
SPEED_AUDIO_SECONDS = 3.0
#: seconds spent measuring each bundle's speed
TIMING_SECONDS = 1.0


@dataclass(frozen=True)
class VariantReport:
    """One written bundle: where, what, how fast, and how close to its reference (torch for
    fp32, the fp32 model for the variants)."""

    precision: str
    bundle: Path
    model_sha256: str
    size_bytes: int
    embeddings_per_s: float
    reference: str
    agreement: Agreement
    eer: float | None = None
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["bundle"] = str(self.bundle)
        data["warnings"] = list(self.warnings)
        return data


@dataclass(frozen=True)
class ExportReport:
    """What :func:`export_bundle` wrote and measured."""

    name: str
    modality: str
    embedding_dim: int
    exporter: str
    opset: int
    providers: list[str]
    variants: list[VariantReport]
    real_samples: int = 0
    skipped_samples: int = 0
    trials: dict[str, int] = field(default_factory=dict)

    @property
    def parity(self) -> Agreement:
        """fp32 onnxruntime vs torch."""
        return self.variants[0].agreement

    @property
    def warnings(self) -> list[str]:
        return [w for variant in self.variants for w in variant.warnings]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["variants"] = [variant.to_dict() for variant in self.variants]
        data["warnings"] = self.warnings
        return data


def variant_path(out: Path, precision: str) -> Path:
    """The bundle folder of one precision: ``out`` for fp32, ``<out>-<precision>`` else."""
    return out if precision == "fp32" else out.with_name(f"{out.name}-{precision}")


def _check_target(path: Path, overwrite: bool) -> None:
    if not path.exists():
        return
    if not path.is_dir():
        raise InvalidInput(f"{path} exists and is not a folder")
    if not any(path.iterdir()):
        return
    if not (path / BUNDLE_FILE).is_file():
        raise InvalidInput(f"{path} is a non-empty folder without a bundle; refusing to replace it")
    if not overwrite:
        raise InvalidInput(f"{path} already holds a bundle; pass --overwrite to replace it")


def _write_bundle(
    folder: Path, trained: TrainedEncoder, name: str, precision: str, export_facts: dict[str, Any]
) -> BundleInfo:
    """Metadata into ``folder/model.onnx``, then ``bundle.json`` with its sha256."""
    model_input, output = io_spec(
        trained.modality,
        trained.encoder.embedding_dim,
        trained.geometry.output_size if trained.geometry else None,
    )
    info = BundleInfo(
        name=name,
        modality=trained.modality,
        embedding_dim=trained.encoder.embedding_dim,
        precision=precision,
        model_path=(folder / MODEL_FILE).resolve(),
        model_sha256="0" * 64,  # not in the metadata; set once the file is final
        input=model_input,
        output=output,
        preprocessing=trained.preprocessing,
        training={**trained.training, "export": export_facts},
        created=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        bioverify_version=__version__,
    )
    set_metadata(info.model_path, info.metadata_props())
    info = replace(info, model_sha256=file_sha256(info.model_path))
    write_bundle_json(info)
    return info


def _speed_input(trained: TrainedEncoder) -> np.ndarray:
    if trained.geometry is not None:
        size = trained.geometry.output_size
        return np.random.default_rng(0).integers(0, 256, (1, size, size, 3), dtype=np.uint8)
    length = round(SPEED_AUDIO_SECONDS * (trained.sample_rate or 16000))
    return np.clip(np.random.default_rng(0).normal(0, 0.1, (1, length)), -1, 1).astype(np.float32)


def _variant_warnings(
    precision: str, agree: Agreement, eer: float | None, fp32_eer: float | None
) -> tuple[str, ...]:
    warnings = []
    if precision in COSINE_WARNING and agree.mean_cosine < COSINE_WARNING[precision]:
        warnings.append(
            f"{precision}: mean cosine to fp32 is {agree.mean_cosine:.4f} "
            f"(< {COSINE_WARNING[precision]})"
        )
    if eer is not None and fp32_eer is not None and eer - fp32_eer > EER_TOLERANCE:
        warnings.append(
            f"{precision}: EER {100 * eer:.2f} % is {100 * (eer - fp32_eer):.2f} points worse "
            f"than fp32's {100 * fp32_eer:.2f} % (more than {100 * EER_TOLERANCE:.0f})"
        )
    return tuple(warnings)


@dataclass(frozen=True)
class _Measured:
    """A model file in the staging folder and what was measured on it."""

    model: Path
    embeddings_per_s: float
    agreement: Agreement
    summary: VerificationSummary | None
    providers: list[str]
    #: embeddings of the distinct probe inputs (synthetic, then real parity batches)
    probe_embeddings: np.ndarray
    #: how the variant was quantised (int8 only)
    method: str | None = None


def export_bundle(
    checkpoint: Path | str,
    out: Path | str,
    *,
    fp16: bool = False,
    int8: bool = False,
    calibration_data: Path | str | None = None,
    opset: int = DEFAULT_OPSET,
    name: str | None = None,
    overwrite: bool = False,
    max_samples: int = MAX_SAMPLES,
    threads: int | None = None,
    min_cosine: float = MIN_COSINE,
    timing_seconds: float | None = None,
    flip_fusion: bool | None = None,
    force: bool = False,
) -> ExportReport:
    """Export a ``bioverify train`` checkpoint to a model bundle in ``out``.

    The fp32 model must match the torch encoder to ``min_cosine`` on synthetic inputs in
    batches of 1, 2 and 7 (and several lengths for voice) and on real samples when
    ``calibration_data`` is given, or :class:`~bioverify.errors.ExportError` is raised and
    nothing is written. ``fp16`` / ``int8`` add variant bundles in ``<out>-fp16`` /
    ``<out>-int8``; int8 is calibrated on up to ``max_samples`` samples of
    ``calibration_data`` (required), on which every bundle's EER is also measured. Speed is
    measured in onnxruntime on the CPU with ``threads`` intra-op threads for
    ``timing_seconds`` (default :data:`TIMING_SECONDS`) per bundle. ``flip_fusion``
    (default: on for faces) puts test-time flip fusion in the graph (see
    :class:`~bioverify.training.models.encoder.FlipFusedEncoder`). A model whose
    embeddings collapsed, or whose EER on the real samples is near chance, is refused
    (:func:`~bioverify.export.measure.check_discriminates`) unless ``force``.
    """
    trained = load_trained_encoder(checkpoint, flip_fusion)
    if int8 and calibration_data is None:
        raise InvalidInput(
            "int8 quantisation is calibrated on real samples: pass --calibration-data DIR"
        )
    out = Path(out).absolute()
    precisions = ["fp32"] + ["fp16"] * fp16 + ["int8"] * int8
    targets = {precision: variant_path(out, precision) for precision in precisions}
    for target in targets.values():
        _check_target(target, overwrite)
    real = load_samples(calibration_data, trained, max_samples) if calibration_data else None
    seconds = TIMING_SECONDS if timing_seconds is None else timing_seconds
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.export-", dir=out.parent))
    try:
        measured = _measure(trained, staging, precisions, real, opset, threads, min_cosine, seconds)
        if not force:
            check_discriminates(measured["fp32"].probe_embeddings, measured["fp32"].summary)
        variants = _write(trained, name or trained.name, measured, real, opset, targets)
        for precision in precisions:
            replace_folder(measured[precision].model.parent, targets[precision])
    except OSError as exc:
        raise ModelError(
            f"{out}: cannot write the bundle ({exc.strerror or exc}); each bundle folder "
            "is either replaced whole or left as it was"
        ) from exc
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for target in targets.values():
        load_bundle(target)  # the installed bundle reads back, sha256 included
    summary = measured["fp32"].summary
    return ExportReport(
        name=name or trained.name,
        modality=trained.modality,
        embedding_dim=trained.encoder.embedding_dim,
        exporter=exporter_for(trained.encoder),
        opset=opset,
        providers=measured["fp32"].providers,
        variants=variants,
        real_samples=len(real) if real else 0,
        skipped_samples=len(real.skipped) if real else 0,
        trials={"genuine": summary.n_genuine, "impostor": summary.n_impostor} if summary else {},
    )


def _measure(
    trained: TrainedEncoder,
    staging: Path,
    precisions: list[str],
    real: RealSamples | None,
    opset: int,
    threads: int | None,
    min_cosine: float,
    seconds: float,
) -> dict[str, _Measured]:
    """Export fp32 (parity-checked), convert the variants, measure each."""
    image_size = trained.geometry.output_size if trained.geometry else None
    real_batches = batched(real.inputs, REAL_BATCH) if real else []
    probe = synthetic_batches(trained.modality, image_size, trained.sample_rate or 16000)
    probe += real_batches[:PARITY_REAL_BATCHES]
    speed_input = _speed_input(trained)
    measured: dict[str, _Measured] = {}
    reference: np.ndarray | None = None
    for precision in precisions:
        model = staging / precision / MODEL_FILE
        model.parent.mkdir()
        fp32_model = staging / "fp32" / MODEL_FILE
        method = None
        if precision == "fp32":
            export_onnx(trained.encoder, model, image_size, opset)
        elif precision == "fp16":
            to_fp16(fp32_model, model)
        else:
            method = to_int8(fp32_model, model, real_batches)
        session = cpu_session(model, threads)
        if reference is None:
            agree = check_parity(trained.encoder, session, probe, min_cosine)
            logger.info("parity onnxruntime vs torch: min cosine %.7f", agree.min_cosine)
            embeddings = reference = embed_onnx(session, probe + real_batches)
        else:
            embeddings = embed_onnx(session, probe + real_batches)
            agree = agreement(reference, embeddings)
        measured[precision] = _Measured(
            model=model,
            embeddings_per_s=embeddings_per_second(session, speed_input, seconds),
            agreement=agree,
            summary=trial_summary(embeddings[-len(real) :], real.identities) if real else None,
            providers=list(session.get_providers()),
            probe_embeddings=embeddings[: sum(len(b) for b in probe)],
            method=method,
        )
    return measured


def _stable(measured: float) -> float:
    """A measured cosine as the graph's metadata holds it: to 6 decimals, so that the same
    checkpoint gives the same bytes (the last digits vary with threads and load)."""
    return round(measured, 6)


def _write(
    trained: TrainedEncoder,
    name: str,
    measured: dict[str, _Measured],
    real: RealSamples | None,
    opset: int,
    targets: dict[str, Path],
) -> list[VariantReport]:
    """Metadata and ``bundle.json`` for every measured model; one report each."""
    fp32 = measured["fp32"]
    facts: dict[str, Any] = {
        "exporter": exporter_for(trained.encoder),
        "opset": opset,
        "torch_version": torch.__version__,
        "parity_min_cosine": _stable(fp32.agreement.min_cosine),
    }
    fp32_info = _write_bundle(fp32.model.parent, trained, name, "fp32", facts)
    fp32_eer = fp32.summary.eer if fp32.summary else None
    reports: list[VariantReport] = []
    for precision, result in measured.items():
        eer = result.summary.eer if result.summary else None
        warnings: tuple[str, ...] = ()
        info = fp32_info
        if precision != "fp32":
            agree = result.agreement
            variant_facts = {
                **facts,
                "converted_from_sha256": fp32_info.model_sha256,
                "cosine_to_fp32": {
                    "mean": _stable(agree.mean_cosine),
                    "min": _stable(agree.min_cosine),
                },
            }
            if precision == "int8" and real is not None:
                variant_facts["calibration"] = {
                    "data": str(real.source.resolve()),
                    "samples": len(real),
                    "method": result.method,
                }
            info = _write_bundle(
                result.model.parent, trained, f"{name}-{precision}", precision, variant_facts
            )
            warnings = _variant_warnings(precision, agree, eer, fp32_eer)
        reports.append(
            VariantReport(
                precision=precision,
                bundle=targets[precision],
                model_sha256=info.model_sha256,
                size_bytes=info.model_path.stat().st_size,
                embeddings_per_s=result.embeddings_per_s,
                reference="torch" if precision == "fp32" else "fp32",
                agreement=result.agreement,
                eer=eer,
                warnings=warnings,
            )
        )
    return reports


__all__ = [
    "COSINE_WARNING",
    "EER_TOLERANCE",
    "ExportReport",
    "VariantReport",
    "export_bundle",
    "variant_path",
]
