"""The epoch loop: which batches each epoch holds, the optimiser step, and the time budget.

Each epoch's sample order is a function of ``(seed, epoch, rank)`` alone: the margin losses
shard a shuffled order with ``DistributedSampler``; for triplet loss each rank draws its own
P × K batches with a rank-specific seed, so mining sees only the local batch. A session that
resumes mid-epoch skips the batches already trained (by index, without decoding them).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.utils.data import DistributedSampler

from bioverify.errors import DataError, InvalidInput
from bioverify.progress import Progress
from bioverify.training.batches import Batch, Unreadable
from bioverify.training.distributed import Distributed, mixed_seed, rank0_decides
from bioverify.training.losses import identity_batches
from bioverify.training.objective import TrainingParts
from bioverify.training.run_data import RunData, make_loader

if TYPE_CHECKING:
    from bioverify.training.config import TrainConfig

StepCallback = Callable[[int, float], None]


@dataclass
class RunProgress:
    """Where the run is: completed epochs, steps into the next, and its running sums.

    Saved in every checkpoint (as a dict) and restored on resume.
    """

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    loss_sum: float = 0.0
    samples: int = 0
    seconds: float = 0.0
    best_val_eer: float | None = None
    best_epoch: int | None = None

    def start_epoch(self) -> None:
        """Reset the per-epoch counters and sums."""
        self.step_in_epoch, self.loss_sum, self.samples, self.seconds = 0, 0.0, 0, 0.0


class TimeBudget:
    """The session's ``max_minutes``, counted from its creation on rank 0's clock.

    ``validation_seconds`` (the last validation's duration) is kept in hand, so that the
    validation that ends the session fits in the budget too.
    """

    def __init__(
        self, max_minutes: float | None, distributed: Distributed, device: torch.device
    ) -> None:
        self.max_minutes = max_minutes
        self.distributed = distributed
        self.device = device
        self.started = time.monotonic()
        self.validation_seconds = 0.0

    def spent(self) -> bool:
        """Whether rank 0 finds the budget spent; every rank gets its answer."""
        if self.max_minutes is None:
            return False
        elapsed = time.monotonic() - self.started + self.validation_seconds
        return rank0_decides(elapsed >= self.max_minutes * 60, self.distributed, self.device)


def steps_per_epoch(samples: int, world_size: int, config: TrainConfig) -> int:
    """Full batches per process in one epoch, capped at ``config.steps_per_epoch``.

    Raises
    ------
    DataError
        ``samples`` do not fill one batch per process.
    """
    steps = samples // world_size // config.batch_size
    if steps == 0:
        raise DataError(
            f"{samples} training samples over {world_size} process(es) do not "
            f"fill one batch of {config.batch_size}; lower --batch-size"
        )
    return min(steps, config.steps_per_epoch) if config.steps_per_epoch else steps


@dataclass
class EpochLoop:
    """Trains epochs, or what is left of one, on this process's share of the data.

    Attributes
    ----------
    config : TrainConfig
        The run's settings.
    data, parts
        The datasets, and the model and optimiser that the steps update.
    distributed : Distributed
        This process's rank, which picks its batches.
    device : torch.device
        Where the model is.
    steps : int
        Steps per epoch (:func:`steps_per_epoch`).
    on_step : callable or None
        Called with the global step and the epoch's mean loss after every optimiser step.
    progress : bool
        Whether to show a progress bar.
    note_unreadable : callable
        Called with every training file that could not be read.
    """

    config: TrainConfig
    data: RunData
    parts: TrainingParts
    distributed: Distributed
    device: torch.device
    steps: int
    on_step: StepCallback | None
    progress: bool
    note_unreadable: Callable[[Unreadable], None]

    def batches(self, epoch: int) -> list[list[int]]:
        """Index batches of one epoch for this rank: a function of (seed, epoch, rank)."""
        config, distributed = self.config, self.distributed
        train_labels = self.data.train_labels
        if self.parts.loss.needs_identity_batches:
            per_rank = len(train_labels) // distributed.world_size
            batches = identity_batches(
                train_labels,
                config.samples_per_identity,
                config.batch_size,
                per_rank,
                mixed_seed(config.seed, epoch, distributed.rank),
            )
        else:
            sampler: DistributedSampler[int] = DistributedSampler(
                self.data.train_set,
                num_replicas=distributed.world_size,
                rank=distributed.rank,
                shuffle=True,
                seed=config.seed,
                drop_last=True,
            )
            sampler.set_epoch(epoch)
            order = list(sampler)
            batches = [
                order[start : start + config.batch_size]
                for start in range(0, len(order) - config.batch_size + 1, config.batch_size)
            ]
        return batches[: self.steps]

    def train_epoch(self, state: RunProgress, budget: TimeBudget) -> bool:
        """Train the rest of the current epoch; True once the time budget is spent."""
        config = self.config
        batches = self.batches(state.epoch)[state.step_in_epoch :]
        loader = make_loader(
            self.data.train_set,
            batches,
            mixed_seed(config.seed, state.epoch),
            config.num_workers,
            self.device,
        )
        self.parts.model.train()
        bar = Progress(
            total=self.steps,
            initial=state.step_in_epoch,
            desc=f"epoch {state.epoch + 1}/{config.epochs}",
            unit="step",
            enabled=self.progress,
        )
        stop = False
        with bar:
            tick = time.monotonic()
            for batch in loader:
                self._step(batch, state)
                now = time.monotonic()
                state.seconds += now - tick
                tick = now
                mean_loss = state.loss_sum / max(state.samples, 1)
                rate = state.samples * self.distributed.world_size / max(state.seconds, 1e-9)
                bar.set_postfix(loss=f"{mean_loss:.3f}", samples_s=f"{rate:.1f}")
                bar.update(1)
                if self.on_step is not None:
                    self.on_step(state.global_step, mean_loss)
                stop = budget.spent()
                if stop:
                    break
        return stop

    def _step(self, batch: Batch, state: RunProgress) -> None:
        parts = self.parts
        for item in batch.unreadable:
            self.note_unreadable(item)
        if batch.labels.numel() < 2:
            if self.distributed.active:
                raise DataError(
                    "a training batch held fewer than 2 readable files; find unreadable files "
                    "with `bioverify split --check-readable` and remove them"
                )
            state.step_in_epoch += 1
            return
        inputs = batch.inputs.to(self.device, non_blocking=True)
        labels = batch.labels.to(self.device, non_blocking=True)
        amp_dtype = parts.amp_dtype
        with torch.autocast(self.device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
            loss = parts.model(inputs, labels)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise InvalidInput(
                f"training diverged: the loss is {value} at step {state.global_step + 1}; "
                f"lower the learning rate (now {self.config.lr}) or the loss scale"
            )
        parts.optimizer.zero_grad(set_to_none=True)
        parts.scaler.scale(loss).backward()
        if self.config.grad_clip is not None:
            parts.scaler.unscale_(parts.optimizer)
            nn.utils.clip_grad_norm_(parts.objective.parameters(), self.config.grad_clip)
        parts.scaler.step(parts.optimizer)
        parts.scaler.update()
        parts.scheduler.step()
        count = int(labels.numel())
        state.loss_sum += value * count
        state.samples += count
        state.step_in_epoch += 1
        state.global_step += 1


__all__ = ["EpochLoop", "RunProgress", "StepCallback", "TimeBudget", "steps_per_epoch"]
