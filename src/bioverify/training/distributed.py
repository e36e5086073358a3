"""The training processes: which rank this one is under ``torchrun``, its device, and seeding.

Launched by ``torchrun`` (``WORLD_SIZE`` > 1) each process joins the process group (NCCL on
CUDA, else gloo) and trains on its own device; a plain launch is a world of one.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from bioverify.errors import InvalidInput


@dataclass
class Distributed:
    """This process's place among the training processes.

    Attributes
    ----------
    world_size : int
        How many processes train together (1 without ``torchrun``).
    rank : int
        This process's global rank; rank 0 validates and writes the run's files.
    local_rank : int
        Its rank on this machine, which picks its CUDA device.
    """

    world_size: int
    rank: int
    local_rank: int

    @property
    def active(self) -> bool:
        """Whether several processes train together."""
        return self.world_size > 1

    @property
    def main(self) -> bool:
        """Whether this is rank 0."""
        return self.rank == 0


def start_distributed() -> Distributed:
    """Join the process group when ``torchrun`` launched several processes.

    Returns
    -------
    Distributed
        This process's place, from ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return Distributed(1, 0, 0)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return Distributed(world_size, rank, local_rank)


def stop_distributed(distributed: Distributed) -> None:
    """Leave the process group that :func:`start_distributed` joined, if any."""
    if distributed.active and dist.is_initialized():
        dist.destroy_process_group()


def pick_device(choice: str, distributed: Distributed) -> torch.device:
    """The device to train on.

    Parameters
    ----------
    choice : str
        ``"auto"`` (CUDA when available), ``"cpu"`` or ``"cuda"``.
    distributed : Distributed
        Its ``local_rank`` picks the CUDA device, which becomes the current one.

    Raises
    ------
    InvalidInput
        ``"cuda"`` was asked for and no CUDA device is available.
    """
    if choice == "cuda" and not torch.cuda.is_available():
        raise InvalidInput("device cuda was asked for but no CUDA device is available")
    if choice == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    torch.cuda.set_device(distributed.local_rank)
    return torch.device("cuda", distributed.local_rank)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def mixed_seed(*parts: int) -> int:
    """A 63-bit seed from several integers (run seed, epoch, rank…)."""
    return (
        int(np.random.SeedSequence(list(parts)).generate_state(2, np.uint32).view(np.uint64)[0])
        >> 1
    )


def rank0_decides(flag: bool, distributed: Distributed, device: torch.device) -> bool:
    """Rank 0's ``flag``, on every rank (a broadcast when several processes train)."""
    if not distributed.active:
        return flag
    tensor = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.broadcast(tensor, src=0)
    return bool(tensor.item())


__all__ = [
    "Distributed",
    "mixed_seed",
    "pick_device",
    "rank0_decides",
    "seed_everything",
    "start_distributed",
    "stop_distributed",
]
