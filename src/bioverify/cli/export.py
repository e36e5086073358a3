"""``bioverify export``: a training checkpoint → a model bundle (+ fp16 / int8 variants).

Torch and the export code are imported inside the command, so ``bioverify --help`` and the
runtime commands work without the ``train`` extra.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from bioverify.cli import options
from bioverify.errors import MissingDependency

_EXPORT_PACKAGES = frozenset(
    {"torch", "torchvision", "torchaudio", "onnx", "onnxscript", "onnxruntime"}
)


def _size(n_bytes: int) -> str:
    return f"{n_bytes / 1e6:.2f} MB" if n_bytes >= 1e5 else f"{n_bytes / 1e3:.1f} kB"


@click.command("export")
@click.argument("checkpoint", type=click.Path(path_type=Path))
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Bundle folder to write (variants go to <out>-fp16, <out>-int8).",
)
@click.option("--fp16", is_flag=True, help="Also write a float16 variant (for GPUs).")
@click.option("--int8", is_flag=True, help="Also write an int8 variant (needs --calibration-data).")
@click.option(
    "--calibration-data",
    type=click.Path(exists=True, path_type=Path),
    help="Identity folders (or a CSV manifest) of real samples: int8 calibration, parity, EER.",
)
@options.count(
    "--calibration-samples",
    minimum=1,
    default=256,
    help="Samples decoded from --calibration-data at most.",
)
@click.option(
    "--flip-fusion/--no-flip-fusion",
    default=None,
    help="Faces: embed each image and its mirror image in the graph and fuse them (default "
    "on for faces: about 1 point lower EER for twice the compute).",
)
@options.count("--opset", minimum=18, default=20)
@click.option("--name", help="Bundle name (default <modality>-<model>-<loss>).")
@click.option("--overwrite", is_flag=True, help="Replace existing bundles in the output folders.")
@click.option(
    "--threads", type=click.IntRange(min=1), help="CPU threads for torch and onnxruntime."
)
@click.option(
    "--force",
    is_flag=True,
    help="Export even a model whose embeddings collapsed or whose EER on --calibration-data "
    "is near chance, which is otherwise refused.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def export(
    checkpoint: Path,
    out: Path,
    fp16: bool,
    int8: bool,
    calibration_data: Path | None,
    calibration_samples: int,
    flip_fusion: bool | None,
    opset: int,
    name: str | None,
    overwrite: bool,
    threads: int | None,
    force: bool,
    as_json: bool,
) -> None:
    """Export CHECKPOINT (best.pt / last.pt of `bioverify train`) to an ONNX model bundle,
    checked for parity with torch (cosine >= 0.9999)."""
    try:
        import onnxruntime
        import torch

        from bioverify.export import export_bundle
    except ModuleNotFoundError as exc:
        if exc.name not in _EXPORT_PACKAGES:
            raise
        extra = "cpu" if exc.name == "onnxruntime" else "train"
        raise MissingDependency(
            f'export needs {exc.name}, which is not installed: pip install "bioverify[{extra}]"'
        ) from exc
    if threads:
        torch.set_num_threads(threads)
    report = export_bundle(
        checkpoint,
        out,
        fp16=fp16,
        int8=int8,
        calibration_data=calibration_data,
        opset=opset,
        name=name,
        overwrite=overwrite,
        max_samples=calibration_samples,
        threads=threads,
        flip_fusion=flip_fusion,
        force=force,
    )
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2, default=str))
        return
    click.echo(
        f"exported {report.name} ({report.modality}, {report.embedding_dim}-d) with "
        f"{report.exporter}, opset {report.opset}"
    )
    parity = report.parity
    click.echo(
        f"parity onnxruntime vs torch: min cosine {parity.min_cosine:.7f} over "
        f"{parity.embeddings} embeddings (batches 1, 2, 7)"
    )
    if report.real_samples:
        skipped = f", {report.skipped_samples} unreadable skipped" if report.skipped_samples else ""
        trials = (
            f"; EER on {report.trials['genuine']} genuine / {report.trials['impostor']} "
            "impostor trials"
            if report.trials
            else ""
        )
        click.echo(f"real samples: {report.real_samples}{skipped}{trials}")
    for variant in report.variants:
        line = (
            f"{variant.precision:5s} {variant.bundle}  {_size(variant.size_bytes)}  "
            f"sha256 {variant.model_sha256[:12]}  {variant.embeddings_per_s:.1f} emb/s"
        )
        if variant.reference != "torch":
            line += (
                f"  cosine vs fp32 mean {variant.agreement.mean_cosine:.4f} "
                f"min {variant.agreement.min_cosine:.4f}"
            )
        if variant.eer is not None:
            line += f"  EER {100 * variant.eer:.2f} %"
        click.echo(line)
    click.echo(
        f"measured on: {', '.join(report.providers)} (onnxruntime {onnxruntime.__version__}, "
        "batch 1)"
    )
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
