"""A run's checkpoints: what they hold, resuming from ``last.pt``, and starting from another
run's weights (``init_from``).

A resumption restores everything a step depends on: weights, optimiser, schedule, gradient
scaler, progress and the random generators, so that a single-process run with
``num_workers=0`` ends with the same weights whether or not it was interrupted. Under DDP only
rank 0's generator state is saved; the other ranks are reseeded from ``(seed, rank, step)``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bioverify.bundle import VOICE_RUNTIME_KEYS
from bioverify.errors import DataError, InvalidInput, ModelMismatch
from bioverify.training.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from bioverify.training.distributed import Distributed, mixed_seed, seed_everything
from bioverify.training.epochs import RunProgress
from bioverify.training.objective import TrainingParts
from bioverify.training.run_data import SAMPLE_RATE, RunData

if TYPE_CHECKING:
    from bioverify.training.config import TrainConfig

logger = logging.getLogger(__name__)

# config fields that may change between a run and its resumption
_RESUMABLE_CHANGES = frozenset(
    {"data", "split", "out_dir", "epochs", "max_minutes", "num_workers", "num_threads"}
    | {"device", "resume", "check_content", "init_from"}
)
# fields that define the model or its objective: a change is a different model
_MODEL_FIELDS = frozenset(
    {"modality", "model", "embedding_dim", "model_kwargs", "loss", "loss_kwargs", "head_dim"}
)


def save_run(
    path: Path,
    config: TrainConfig,
    parts: TrainingParts,
    data: RunData,
    state: RunProgress,
    metrics: dict[str, Any] | None = None,
) -> None:
    """Write the run's checkpoint to ``path`` (atomically).

    Its keys: ``modality``; ``encoder`` (``config``, ``state_dict``); ``head`` (``dim``,
    ``state_dict``; None without one); ``loss`` (``name``, ``kwargs``, ``num_classes``,
    ``state_dict``); ``optimizer``, ``scheduler`` and ``grad_scaler`` state dicts;
    ``progress`` (a :class:`RunProgress` as a dict); ``rng``; ``config``; ``identities``
    (the train identities in class order); ``face_geometry`` or ``voice`` (``sample_rate``,
    ``chunk_seconds``, ``trim`` and the runtime facts ``partials`` / ``target_dbfs`` it
    trained with, when it has them, so that an export serves it the same way); ``data``
    (``paths``, ``split``, ``split_sha256``, ``split_counts``); ``metrics``, the
    validation that prompted it (empty on Ctrl-C); and for a run started from other
    weights, their origin (:func:`~bioverify.training.run_data.inherited_origin`).
    """
    modality_facts: dict[str, Any]
    if data.geometry is not None:
        modality_facts = {"face_geometry": data.geometry.to_dict()}
    else:
        modality_facts = {
            "voice": {
                "sample_rate": SAMPLE_RATE,
                "chunk_seconds": config.chunk_seconds,
                "trim": config.trim,
                **data.voice_runtime,
            }
        }
    save_checkpoint(
        path,
        {
            "modality": config.modality,
            "encoder": {"config": parts.encoder.config, "state_dict": parts.encoder.state_dict()},
            "head": None
            if parts.head is None
            else {"dim": config.head_dim, "state_dict": parts.head.state_dict()},
            "loss": {
                "name": parts.loss.name,
                "kwargs": parts.loss.kwargs,
                "num_classes": parts.loss.num_classes,
                "state_dict": parts.loss.state_dict(),
            },
            "optimizer": parts.optimizer.state_dict(),
            "scheduler": parts.scheduler.state_dict(),
            "grad_scaler": parts.scaler.state_dict(),
            "progress": asdict(state),
            "rng": rng_state(),
            "config": config.to_dict(),
            "identities": data.train_identities,
            **modality_facts,
            "data": {
                "paths": [str(Path(p).resolve()) for p in config.data],
                "split": str(Path(config.split).resolve()),
                "split_sha256": data.split_sha256,
                "split_counts": data.split.counts,
            },
            "metrics": metrics or {},
            **data.inherited,
        },
    )


def resume_run(
    path: Path,
    config: TrainConfig,
    parts: TrainingParts,
    data: RunData,
    distributed: Distributed,
) -> RunProgress:
    """Restore the checkpoint at ``path`` into ``parts`` and the random generators.

    Returns
    -------
    RunProgress
        Where the checkpointed run was.

    Raises
    ------
    ModelMismatch
        The checkpoint was trained with another model or loss.
    DataError
        It was trained on other train identities or with another split file.
    InvalidInput
        It was trained with other settings that may not change on resume.
    """
    checkpoint = load_checkpoint(path)
    _check_resumable(path, checkpoint, config, data)
    parts.encoder.load_state_dict(checkpoint["encoder"]["state_dict"])
    if parts.head is not None:
        parts.head.load_state_dict(checkpoint["head"]["state_dict"])
    parts.loss.load_state_dict(checkpoint["loss"]["state_dict"])
    parts.optimizer.load_state_dict(checkpoint["optimizer"])
    parts.scheduler.load_state_dict(checkpoint["scheduler"])
    parts.scaler.load_state_dict(checkpoint["grad_scaler"])
    state = RunProgress(**checkpoint["progress"])
    if distributed.main:
        set_rng_state(checkpoint["rng"])
    else:
        seed_everything(mixed_seed(config.seed, distributed.rank, state.global_step))
    logger.info(
        "resuming %s at epoch %d, step %d of it (global step %d)",
        path,
        state.epoch + 1,
        state.step_in_epoch,
        state.global_step,
    )
    return state


def init_from(path: Path, config: TrainConfig, parts: TrainingParts, data: RunData) -> None:
    """Load another run's weights into this fresh run (see ``TrainConfig.init_from``).

    The encoder always; the loss (a margin loss's class centres) when the loss and the train
    identities are the same; the projection head when both runs have one of the same size.

    Raises
    ------
    ModelMismatch
        The checkpoint holds another architecture.
    """
    checkpoint = load_checkpoint(path)
    if checkpoint["encoder"]["config"] != parts.encoder.config:
        raise ModelMismatch(
            f"{path} holds another architecture ({checkpoint['encoder']['config']['name']} "
            f"{checkpoint['encoder']['config']['kwargs']}); --init-from needs the same model"
        )
    parts.encoder.load_state_dict(checkpoint["encoder"]["state_dict"])
    same_classes = checkpoint["identities"] == data.train_identities
    same_loss = checkpoint["loss"]["name"] == parts.loss.name
    if same_classes and same_loss:
        parts.loss.load_state_dict(checkpoint["loss"]["state_dict"])
    head = checkpoint.get("head")
    if parts.head is not None and head is not None and head["dim"] == config.head_dim:
        parts.head.load_state_dict(head["state_dict"])
    logger.info(
        "initialised from %s (encoder%s)",
        path,
        " and classifier" if same_classes and same_loss else " only",
    )


def _check_resumable(
    path: Path, checkpoint: dict[str, Any], config: TrainConfig, data: RunData
) -> None:
    saved = checkpoint["config"]
    current = config.to_dict()
    changed = sorted(
        key for key in current if key not in _RESUMABLE_CHANGES and saved.get(key) != current[key]
    )
    model_changes = [key for key in changed if key in _MODEL_FIELDS]
    if model_changes:
        raise ModelMismatch(
            f"{path} was trained with another model or loss "
            + ", ".join(f"{k}={saved.get(k)!r} (now {current[k]!r})" for k in model_changes)
            + "; resume with the same settings or start a new run in another folder"
        )
    if checkpoint["identities"] != data.train_identities:
        raise DataError(
            f"{path} was trained on other train identities; resume with the same data and "
            "split or start a new run"
        )
    saved_runtime = {
        key: value
        for key, value in (checkpoint.get("voice") or {}).items()
        if key in VOICE_RUNTIME_KEYS
    }
    if saved_runtime != data.voice_runtime:
        raise InvalidInput(
            f"{path} was trained with other voice runtime facts ({saved_runtime}, now "
            f"{data.voice_runtime}); resume with the same --init-from"
        )
    if checkpoint["data"]["split_sha256"] != data.split_sha256:
        raise DataError(
            f"{path} was trained with another split file ({checkpoint['data']['split']}); "
            "resume with the same split"
        )
    if changed:
        raise InvalidInput(
            f"{path} was trained with other settings: "
            + ", ".join(f"{k}={saved.get(k)!r} (now {current[k]!r})" for k in changed)
            + "; only epochs, max_minutes, num_workers, device and data locations may "
            "change on resume"
        )


__all__ = ["init_from", "resume_run", "save_run"]
