"""The training loop: train identities only, validation by EER on val identities every epoch,
checkpoints, resume, time budget, Ctrl-C, AMP on GPU and DistributedDataParallel.

What :func:`train` writes to ``out_dir``:

* ``config.json`` — the :class:`TrainConfig`, defaults resolved;
* ``metrics.jsonl`` — one JSON object per validation: ``epoch`` (1-based), ``complete``
  (false when the epoch was cut short by the time budget), ``step``, ``loss`` (mean over the
  epoch's samples), ``lr``, ``val_eer``, ``val_eer_threshold``, ``tar_at_far_0.01``,
  ``tar_at_far_0.001`` (with ``supported_far_*``, the rule of three), ``n_genuine``,
  ``n_impostor``, ``samples_per_s`` (training throughput, all ranks), ``seconds`` (the
  epoch's training time), ``val_seconds``, ``val_unreadable``, ``train_unreadable`` and
  ``time`` (UTC, ISO 8601);
* ``last.pt`` after every validation and on Ctrl-C, ``best.pt`` whenever the val EER is the
  lowest so far (checkpoints: :mod:`bioverify.training.resume`).

Each epoch's sample order is a function of ``(seed, epoch, rank)`` alone, so a
single-process run with ``num_workers=0`` that is interrupted (Ctrl-C or the time budget) and
resumed ends with the same weights as an uninterrupted one; a mid-epoch checkpoint resumes at
the next step. Launched by ``torchrun`` (``WORLD_SIZE`` > 1) each process trains on its own
shard of every epoch and DDP averages the gradients; only rank 0 validates and writes files,
and its clock decides the time budget for all ranks.

This module holds the settings and the session that ties the parts together: the data
(:mod:`~bioverify.training.run_data`), the model, optimiser and learning-rate schedule
(:mod:`~bioverify.training.objective`, :mod:`~bioverify.training.schedule`), the epoch loop
and time budget (:mod:`~bioverify.training.epochs`), validation on the val identities
(:mod:`~bioverify.training.validation`; test identities are never read), checkpoints and
resume (:mod:`~bioverify.training.resume`) and the processes
(:mod:`~bioverify.training.distributed`).
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch
from torch import nn

from bioverify.errors import InvalidInput
from bioverify.training.batches import Unreadable
from bioverify.training.config import TrainConfig
from bioverify.training.distributed import (
    Distributed,
    mixed_seed,
    pick_device,
    seed_everything,
    start_distributed,
    stop_distributed,
)
from bioverify.training.epochs import (
    EpochLoop,
    RunProgress,
    StepCallback,
    TimeBudget,
    steps_per_epoch,
)
from bioverify.training.models import build_encoder
from bioverify.training.objective import build_training_parts
from bioverify.training.resume import init_from, resume_run, save_run
from bioverify.training.run_data import load_run_data
from bioverify.training.validation import validate

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainResult:
    """How a run ended: the best val EER and where, this session's metrics lines, and the
    trained encoder (as after the last step, not the best epoch: that is ``best.pt``).

    ``stopped_early`` is true when the time budget ended the run before ``epochs``.
    """

    out_dir: Path
    best_val_eer: float | None
    best_epoch: int | None
    epochs_completed: int
    global_step: int
    stopped_early: bool
    metrics: list[dict[str, Any]]
    encoder: nn.Module


def train(
    config: TrainConfig, on_step: StepCallback | None = None, progress: bool = True
) -> TrainResult:
    """Train an encoder as ``config`` says; see the module docstring for what is written.

    Parameters
    ----------
    config : TrainConfig
        The run's settings; with ``resume`` it continues the run in ``out_dir``.
    on_step : callable, optional
        ``on_step(global_step, loss)`` is called after every optimiser step (a
        ``KeyboardInterrupt`` raised there is handled like Ctrl-C).
    progress : bool, default True
        Whether rank 0 shows progress bars.

    Returns
    -------
    TrainResult
        How the session ended, with its metrics and the trained encoder.

    Raises
    ------
    KeyboardInterrupt
        Re-raised after rank 0 saved ``last.pt`` at the last completed step.
    DataError
        Data and split problems, or a resume whose checkpoint was made with other data.
    ModelMismatch
        A resume whose checkpoint was made with another model or loss.
    """
    distributed = start_distributed()
    threads = torch.get_num_threads()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    try:
        return _Run(config, distributed, on_step, progress).fit()
    finally:
        torch.set_num_threads(threads)
        stop_distributed(distributed)


class _Run:
    """One training session (a fresh run or a resumption)."""

    def __init__(
        self,
        config: TrainConfig,
        distributed: Distributed,
        on_step: StepCallback | None,
        progress: bool,
    ) -> None:
        self.config = config
        self.distributed = distributed
        self.progress = progress and distributed.main
        self.out_dir = Path(config.out_dir)
        self.device = pick_device(config.device, distributed)
        self.unreadable: set[str] = set()  # before the data: decoding voices notes failures
        seed_everything(mixed_seed(config.seed, distributed.rank))
        self.data = load_run_data(config, distributed.main, self.progress, self._note_unreadable)
        steps = steps_per_epoch(len(self.data.train_labels), distributed.world_size, config)
        encoder = build_encoder(
            config.modality, config.model, config.embedding_dim, **config.model_kwargs
        )
        classes, total_steps = len(self.data.label_map), config.epochs * steps
        self.parts = build_training_parts(
            config, encoder, classes, total_steps, self.device, distributed
        )
        self.loop = EpochLoop(
            config,
            self.data,
            self.parts,
            distributed,
            self.device,
            steps,
            on_step,
            self.progress,
            self._note_unreadable,
        )
        self.state = RunProgress()
        self.session_metrics: list[dict[str, Any]] = []

    def fit(self) -> TrainResult:
        config, last = self.config, self.out_dir / "last.pt"
        if config.resume:
            self.state = resume_run(last, config, self.parts, self.data, self.distributed)
        elif last.exists():
            raise InvalidInput(
                f"{self.out_dir} already holds a run (last.pt); pass resume (--resume) to "
                "continue it or choose another output folder"
            )
        elif config.init_from:
            init_from(Path(config.init_from), config, self.parts, self.data)
        if self.distributed.main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "config.json").write_text(
                json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8"
            )
        budget = TimeBudget(config.max_minutes, self.distributed, self.device)
        validated = False
        try:
            while self.state.epoch < config.epochs:
                # a budget spent at an epoch boundary stops here, not one step later; every
                # session trains at least one step
                if validated and budget.spent():
                    break
                out_of_time = self.loop.train_epoch(self.state, budget)
                self._end_epoch(self.state.step_in_epoch >= self.loop.steps, budget)
                validated = True
                if out_of_time:
                    break
        except KeyboardInterrupt:
            if self.distributed.main:
                self._save(last)
                logger.warning(
                    "interrupted: saved %s at epoch %d, step %d of it; continue with --resume",
                    last,
                    self.state.epoch + 1,
                    self.state.step_in_epoch,
                )
            raise
        return TrainResult(
            out_dir=self.out_dir,
            best_val_eer=self.state.best_val_eer,
            best_epoch=self.state.best_epoch,
            epochs_completed=self.state.epoch,
            global_step=self.state.global_step,
            stopped_early=self.state.epoch < config.epochs,
            metrics=self.session_metrics,
            encoder=self.parts.encoder,
        )

    def _end_epoch(self, complete: bool, budget: TimeBudget) -> None:
        """Validate (rank 0), count the epoch if ``complete``, save and log the metrics."""
        state = self.state
        epoch_number = state.epoch + 1
        if self.distributed.main:
            metrics = self._metrics(epoch_number, complete, budget)
            improved = state.best_val_eer is None or metrics["val_eer"] < state.best_val_eer
            if improved:
                state.best_val_eer, state.best_epoch = metrics["val_eer"], epoch_number
            if complete:
                state.epoch += 1
                state.start_epoch()
            self._save(self.out_dir / "last.pt", metrics)
            if improved:
                self._save(self.out_dir / "best.pt", metrics)
            with (self.out_dir / "metrics.jsonl").open("a", encoding="utf-8") as out:
                out.write(json.dumps(metrics) + "\n")
            self.session_metrics.append(metrics)
            logger.info(
                "epoch %d%s: loss %.4f, val EER %.4f (best %.4f at epoch %d)",
                epoch_number,
                "" if complete else " (stopped early)",
                metrics["loss"],
                metrics["val_eer"],
                state.best_val_eer,
                state.best_epoch,
            )
        elif complete:
            state.epoch += 1
            state.start_epoch()
        if self.distributed.active:
            torch.distributed.barrier()

    def _metrics(self, epoch_number: int, complete: bool, budget: TimeBudget) -> dict[str, Any]:
        """One ``metrics.jsonl`` line: the epoch's training figures and a validation."""
        state = self.state
        began = time.monotonic()
        parts = self.parts
        summary, val_unreadable = validate(
            parts.encoder, self.data, self.config, self.device, parts.amp_dtype, self.progress
        )
        budget.validation_seconds = time.monotonic() - began
        values = summary.to_dict()
        world = self.distributed.world_size
        return {
            "epoch": epoch_number,
            "complete": complete,
            "step": state.global_step,
            "loss": state.loss_sum / max(state.samples, 1),
            "lr": self.parts.optimizer.param_groups[0]["lr"],
            "val_eer": values.pop("eer"),
            "val_eer_threshold": values.pop("eer_threshold"),
            **values,
            "samples_per_s": state.samples * world / max(state.seconds, 1e-9),
            "seconds": state.seconds,
            "val_seconds": budget.validation_seconds,
            "val_unreadable": val_unreadable,
            "train_unreadable": len(self.unreadable),
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    def _save(self, path: Path, metrics: dict[str, Any] | None = None) -> None:
        save_run(path, self.config, self.parts, self.data, self.state, metrics)

    def _note_unreadable(self, item: Unreadable) -> None:
        if item.path not in self.unreadable:
            self.unreadable.add(item.path)
            logger.warning("skipping unreadable file %s: %s", item.path, item.reason)


__all__ = ["TrainResult", "train"]
