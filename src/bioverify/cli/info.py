"""``bioverify info``: what a model bundle is, whether its calibration belongs to it, and which
onnxruntime providers this machine offers."""

from __future__ import annotations

from typing import Any

import click

from bioverify.bundle import BundleInfo, open_bundle
from bioverify.calibration import Calibration
from bioverify.cli import options
from bioverify.cli.calibration_text import summary_lines
from bioverify.cli.render import echo_json
from bioverify.errors import ModelMismatch


def _bundle(model: str) -> BundleInfo:
    """A bundle path, or a packaged model's name (``face``, ``voice``, ``voice-int8``)."""
    from bioverify.verify.defaults import resolve_model

    return open_bundle(resolve_model(model))


def _input_text(info: BundleInfo) -> str:
    spec = info.input
    shape = ", ".join(str(d) for d in spec.get("shape", []))
    text = f"{spec.get('name')} {spec.get('dtype')} [{shape}]"
    geometry = info.preprocessing.get("face_geometry")
    if isinstance(geometry, dict):
        width, height = geometry.get("frame_size", ["?", "?"])
        text += (
            f"; crop box {tuple(geometry.get('crop_box', ()))} of a {width}x{height} aligned "
            f"frame, {geometry.get('colour')}"
        )
        if info.preprocessing.get("flip_fusion"):
            text += "; mirror image fused in the graph"
    else:
        text += f"; {info.preprocessing.get('sample_rate')} Hz mono"
        partials = info.preprocessing.get("partials")
        if isinstance(partials, dict):
            span = partials.get("frames", 160) * partials.get("hop_length", 160)
            seconds = span / float(info.preprocessing.get("sample_rate") or 16000)
            text += f"; mean of {seconds:g} s partial windows"
    return text


def _training_text(training: dict[str, Any]) -> str:
    model = training.get("model") or {}
    loss = training.get("loss") or {}
    identities = training.get("identities") or {}
    best = training.get("best_val_eer")
    provenance = training.get("provenance")
    if isinstance(provenance, dict):
        sha = str(provenance.get("source_sha256", "?"))[:12]
        return (
            f"{model.get('name', '?')} converted from {provenance.get('source', '?')} "
            f"(sha256 {sha}…), licence {provenance.get('license', '?')} (its text: the "
            "bundle's LICENSE file)"
        )
    parts = [f"{model.get('name', '?')} + {loss.get('name', '?')}"]
    if "train" in identities:
        parts.append(f"{identities['train']:,} training identities")
    epoch, planned = training.get("checkpoint_epoch"), training.get("epochs_planned")
    if epoch is not None:
        parts.append(f"weights of epoch {epoch}" + (f" of {planned}" if planned else ""))
    if isinstance(best, int | float):
        parts.append(f"best val EER {100 * best:.1f} %")
    source = training.get("source")
    if isinstance(source, dict):
        sha = str(source.get("sha256", ""))[:12]
        parts.append(f"converted from {source.get('file', '?')} (sha256 {sha}…)")
    return "; ".join(parts)


def _scores_text(info: BundleInfo) -> str:
    section = info.score_normalization
    if not section:
        return "cosine similarity"
    return (
        f"AS-Norm (top {section['top_k']} cohort scores) against {section['cohort_file']}: "
        f"{section.get('cohort_source', 'source not stated')}; --score-norm none for cosines"
    )


def _calibration(info: BundleInfo) -> tuple[Calibration | None, str]:
    """The bundle's calibration and a line on whether it is bound to this model."""
    path = info.calibration_path
    if path is None:
        return None, "none (bioverify calibrate --model BUNDLE --data DIR --install)"
    from bioverify.verify.score_norm import bundle_key

    calibration = Calibration.load(path)
    try:
        calibration.check_model(info.model_sha256, bundle_key(info))
    except ModelMismatch as exc:
        return calibration, f"{path.name}: NOT for this model: {exc}"
    bound = "bound to this model" if calibration.model_sha256 else "bound to no model"
    return calibration, f"{path.name} ({bound})"


@click.command("info")
@click.argument("model", default="", required=False)
@options.json_output
def info(model: str, as_json: bool) -> None:
    """Describe MODEL (a bundle folder or .zip; `face`, `voice` or `voice-int8` for the packaged
    models; both defaults when left out): what it expects, how it was trained, its
    calibrated operating points, the onnxruntime providers available here, and whether
    CUDA really runs (a test model is run on it)."""
    import onnxruntime

    from bioverify.verify.session import cuda_status

    bundles = [_bundle(model)] if model else [_bundle("face"), _bundle("voice")]
    providers = onnxruntime.get_available_providers()
    cuda = cuda_status()
    if as_json:
        documents = []
        for bundle in bundles:
            calibration, status = _calibration(bundle)
            documents.append(
                {
                    "bundle": str(bundle.folder),
                    **bundle.to_dict(),
                    "calibration_status": status,
                    "calibration": calibration.to_dict() if calibration else None,
                }
            )
        echo_json(
            {
                "models": documents,
                "onnxruntime": onnxruntime.__version__,
                "providers": providers,
                "cuda": {"usable": cuda.usable, "reason": cuda.reason},
            }
        )
        return
    for bundle in bundles:
        calibration, status = _calibration(bundle)
        size = bundle.model_path.stat().st_size / 1e6
        click.echo(
            f"{bundle.name}  ({bundle.modality}, {bundle.embedding_dim}-d, {bundle.precision})"
        )
        click.echo(
            f"  bundle       {bundle.folder}  ({bundle.model_path.name} {size:.2f} MB, "
            f"sha256 {bundle.model_sha256[:12]}… verified)"
        )
        click.echo(f"  input        {_input_text(bundle)}")
        click.echo(f"  training     {_training_text(bundle.training)}")
        click.echo(f"  scores       {_scores_text(bundle)}")
        click.echo(f"  calibration  {status}")
        if calibration is not None:
            for line in summary_lines(calibration):
                click.echo(f"    {line}")
    click.echo(f"onnxruntime {onnxruntime.__version__}; providers here: {', '.join(providers)}")
    click.echo(f"CUDA         {'usable' if cuda.usable else 'not usable'}: {cuda.reason}")
