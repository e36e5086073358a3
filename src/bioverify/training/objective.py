"""What a run trains and how: the encoder, projection head and loss as one module, its
optimiser, learning-rate schedule and mixed precision.

Optimisers: SGD with momentum 0.9, or AdamW; both with the config's learning rate and weight
decay, over the encoder, head and loss (the margin losses' class centres) together. AMP
applies on CUDA only: bfloat16 where supported, else float16 with gradient scaling.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from bioverify.training.distributed import Distributed
from bioverify.training.losses import LossModule, build_loss
from bioverify.training.models.encoder import Encoder
from bioverify.training.schedule import warmup_cosine_schedule

if TYPE_CHECKING:
    from bioverify.training.config import TrainConfig


class ProjectionHead(nn.Module):
    """Linear–BatchNorm–ReLU–Linear from the embedding to the loss space (dropped at export)."""

    def __init__(self, embedding_dim: int, out_dim: int) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Linear(embedding_dim, embedding_dim),
            nn.BatchNorm1d(embedding_dim),
            nn.ReLU(inplace=True),
            nn.Linear(embedding_dim, out_dim),
        )

    def forward(self, embeddings: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.layers(embeddings)
        return out


class Objective(nn.Module):
    """Encoder → optional head → loss in one module, so DDP averages every gradient."""

    def __init__(self, encoder: nn.Module, head: nn.Module | None, loss: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = head
        self.loss = loss

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        embeddings = self.encoder(inputs)
        if self.head is not None:
            embeddings = self.head(embeddings)
        with torch.autocast(embeddings.device.type, enabled=False):
            value: torch.Tensor = self.loss(embeddings.float(), labels)
        return value


@dataclass
class TrainingParts:
    """Everything a training step updates.

    Attributes
    ----------
    encoder, head, loss
        The modules, as checkpoints store them (``head`` is None without ``head_dim``).
    objective : Objective
        The three as one module, on the run's device.
    model : nn.Module
        What the step calls: ``objective``, wrapped in DDP when several processes train.
    optimizer, scheduler, scaler
        The optimiser, its per-step schedule and the AMP gradient scaler (a no-op unless
        float16).
    amp_dtype : torch.dtype or None
        The autocast type, None for full precision.
    """

    encoder: Encoder
    head: ProjectionHead | None
    loss: LossModule
    objective: Objective
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None


def build_training_parts(
    config: TrainConfig,
    encoder: Encoder,
    num_classes: int,
    total_steps: int,
    device: torch.device,
    distributed: Distributed,
) -> TrainingParts:
    """Wrap a new ``encoder`` with the head, loss, optimiser and schedule ``config`` says.

    Parameters
    ----------
    config : TrainConfig
        The run's settings (defaults resolved).
    encoder : Encoder
        The freshly built encoder; the head and loss are built after it, in this order, from
        the global generators.
    num_classes : int
        Train identities, the classes of a margin loss.
    total_steps : int
        Optimiser steps of the whole run, the length of the schedule.
    device : torch.device
        Where to train (faces use channels-last memory on CUDA).
    distributed : Distributed
        With several processes the objective is wrapped in ``DistributedDataParallel``.
    """
    embedding_dim = encoder.embedding_dim
    head = ProjectionHead(embedding_dim, config.head_dim) if config.head_dim else None
    loss = build_loss(
        config.loss, config.head_dim or embedding_dim, num_classes, **config.loss_kwargs
    )
    objective = Objective(encoder, head, loss).to(device)
    if device.type == "cuda" and config.modality == "face":
        objective = objective.to(memory_format=torch.channels_last)
    model: nn.Module = objective
    if distributed.active:
        device_ids = [device.index] if device.type == "cuda" else None
        model = DistributedDataParallel(objective, device_ids=device_ids)
    parameters = list(objective.parameters())
    assert config.lr is not None and config.weight_decay is not None
    optimizer: torch.optim.Optimizer
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(
            parameters, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay
        )
    else:
        optimizer = torch.optim.AdamW(parameters, lr=config.lr, weight_decay=config.weight_decay)
    amp_dtype: torch.dtype | None = None
    if config.amp and device.type == "cuda":
        amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return TrainingParts(
        encoder=encoder,
        head=head,
        loss=loss,
        objective=objective,
        model=model,
        optimizer=optimizer,
        scheduler=warmup_cosine_schedule(optimizer, total_steps, config.warmup_fraction),
        scaler=torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16),
        amp_dtype=amp_dtype,
    )


__all__ = ["Objective", "ProjectionHead", "TrainingParts", "build_training_parts"]
