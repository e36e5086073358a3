"""The learning-rate schedule: a linear warm-up, then a cosine to zero at the last step."""

from __future__ import annotations

import math

import torch


def warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then cosine to 0 at
    ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


def warmup_cosine_schedule(
    optimizer: torch.optim.Optimizer, total: int, warmup_fraction: float
) -> torch.optim.lr_scheduler.LambdaLR:
    """The :func:`warmup_cosine` schedule of ``optimizer``, stepped once per optimiser step.

    Parameters
    ----------
    optimizer : torch.optim.Optimizer
        Its learning rates are the peak ones.
    total : int
        Steps of the whole run (every epoch), where the cosine reaches zero.
    warmup_fraction : float
        Share of ``total`` spent warming up (at least one step unless 0).
    """
    warmup = max(1, round(warmup_fraction * total)) if warmup_fraction else 0
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: warmup_cosine(step, warmup, total)
    )


__all__ = ["warmup_cosine", "warmup_cosine_schedule"]
