"""``bioverify train``: train a face or speaker encoder on the train identities of a split.

Torch and the training code are imported inside the command, so ``bioverify --help`` and the
other commands work without the ``train`` extra. With ``--resume`` the run folder's
``config.json`` supplies every setting not given on the command line.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import click
from click.core import ParameterSource

from bioverify.errors import InvalidInput, MissingDependency

_TRAINING_PACKAGES = frozenset({"torch", "torchvision", "torchaudio", "pytorch_metric_learning"})
# command-line option → TrainConfig field, where the names differ
_FIELD_OF_OPTION = {
    "out": "out_dir",
    "workers": "num_workers",
    "threads": "num_threads",
    "model_arg": "model_kwargs",
    "loss_arg": "loss_kwargs",
}
_REQUIRED = ("data", "split", "modality", "model")


def _key_values(pairs: tuple[str, ...], option: str) -> dict[str, Any]:
    """``key=value`` pairs; a value that parses as JSON (number, true, null…) is taken as such."""
    parsed: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"{option} takes key=value, got {pair!r}")
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            value = text
        parsed[key.strip()] = value
    return parsed


def _settings(ctx: click.Context, options: dict[str, Any]) -> dict[str, Any]:
    """TrainConfig fields from the options given on the command line (defaults left out)."""
    settings: dict[str, Any] = {}
    for name, value in options.items():
        if ctx.get_parameter_source(name) in (ParameterSource.DEFAULT, None):
            continue
        if name == "no_content_check":
            settings["check_content"] = not value
            continue
        if name in ("model_arg", "loss_arg"):
            value = _key_values(value, f"--{name.replace('_', '-')}")
        elif name == "data":
            value = [str(path) for path in value]
        elif isinstance(value, Path):
            value = str(value)
        settings[_FIELD_OF_OPTION.get(name, name)] = value
    return settings


@click.command("train")
@click.option(
    "--data",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Dataset folder or CSV manifest; repeat for several.",
)
@click.option("--split", type=click.Path(dir_okay=False, path_type=Path), help="Split JSON.")
@click.option("--modality", type=click.Choice(["face", "voice"]))
@click.option("--model", help="Encoder name, e.g. mobilefacenet, iresnet18, ecapa_tdnn.")
@click.option(
    "--loss",
    type=click.Choice(["arcface", "cosface", "subcenter_arcface", "triplet"]),
    help="Default arcface.",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Run folder (config, metrics, checkpoints).",
)
@click.option("--epochs", type=click.IntRange(min=1), help="Default 20.")
@click.option("--batch-size", type=click.IntRange(min=1), help="Default 128.")
@click.option("--lr", type=float, help="Default 0.1 (SGD, margin losses) or 1e-3 (AdamW).")
@click.option("--weight-decay", type=float, help="Default 5e-4.")
@click.option(
    "--optimizer",
    type=click.Choice(["sgd", "adamw"]),
    help="Default sgd for margin losses, adamw for triplet.",
)
@click.option("--max-minutes", type=float, help="Stop when this much time is spent.")
@click.option("--resume", is_flag=True, help="Continue the run in --out from last.pt.")
@click.option(
    "--init-from",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Start from another run's checkpoint weights (same model), fresh schedule.",
)
@click.option("--embedding-dim", type=click.IntRange(min=1), help="Default: the model's.")
@click.option("--model-arg", multiple=True, help="Model setting key=value; repeatable.")
@click.option(
    "--loss-arg",
    multiple=True,
    help="Loss setting key=value, e.g. margin=0.5 (radians for ArcFace), scale=64, "
    "mining=semihard; repeatable.",
)
@click.option("--head-dim", type=click.IntRange(min=1), help="Add a projection head.")
@click.option(
    "--samples-per-identity", type=click.IntRange(min=1), help="K of triplet P×K batches (4)."
)
@click.option("--workers", type=click.IntRange(min=0), help="Data loader workers (2).")
@click.option("--threads", type=click.IntRange(min=1), help="Torch CPU threads (default: torch's).")
@click.option("--seed", type=click.IntRange(min=0), help="Default 0.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), help="Default auto.")
@click.option("--amp/--no-amp", default=True, help="Mixed precision on CUDA.")
@click.option(
    "--steps-per-epoch", type=click.IntRange(min=1), help="Cap every epoch (smoke tests)."
)
@click.option("--chunk-seconds", type=float, help="Voice training chunk length (2.0).")
@click.option(
    "--trim",
    type=click.Choice(["none", "ends", "all"]),
    help="Voice: what the runtime's energy VAD cuts from every recording before training "
    "(none); the bundle records it so the runtime cuts the same.",
)
@click.option(
    "--prefix-identities",
    is_flag=True,
    help="Identities are <dataset>/<identity> (as the split was made).",
)
@click.option("--no-content-check", is_flag=True, help="Skip hashing files to check the split.")
@click.pass_context
def train(ctx: click.Context, **options: Any) -> None:
    """Train an encoder on the train identities of --split; validate by EER every epoch."""
    try:
        from tqdm.contrib.logging import logging_redirect_tqdm

        from bioverify.training.config import TrainConfig
        from bioverify.training.trainer import train as run_training
    except ModuleNotFoundError as exc:
        if exc.name not in _TRAINING_PACKAGES:
            raise
        raise MissingDependency(
            f'training needs {exc.name}, which is not installed: pip install "bioverify[train]"'
        ) from exc
    settings = _settings(ctx, options)
    out: Path = options["out"]
    saved = out / "config.json"
    if options["resume"] and saved.is_file():
        try:
            base = json.loads(saved.read_text(encoding="utf-8"))
        except (OSError, ValueError, RecursionError) as exc:
            raise InvalidInput(f"{saved}: cannot read the run's config ({exc})") from exc
        settings = {**base, **settings}
    missing = [f"--{name}" for name in _REQUIRED if not settings.get(name)]
    if missing:
        raise click.UsageError(f"missing {', '.join(missing)} (needed unless resuming a run)")
    config = TrainConfig.from_dict(settings)

    package_logger = logging.getLogger("bioverify")
    if not package_logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(message)s"))
        package_logger.addHandler(handler)
        package_logger.setLevel(logging.INFO)
    with logging_redirect_tqdm(loggers=[package_logger]):
        result = run_training(config)
    if result.best_val_eer is None:
        click.echo(f"no epoch was validated; run dir: {result.out_dir}")
        return
    ended = "stopped by --max-minutes" if result.stopped_early else "completed"
    click.echo(
        f"{ended} after {result.epochs_completed} epoch(s) ({result.global_step} steps); "
        f"best val EER {100 * result.best_val_eer:.2f} % at epoch {result.best_epoch}"
    )
    click.echo(f"run dir: {result.out_dir}")
