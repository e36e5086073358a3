"""Training objectives: margin-softmax losses and triplet loss with mining, from
pytorch-metric-learning, behind one :func:`build_loss`.

=====================  =====================================================================
name                   what it is (keyword arguments, defaults)
=====================  =====================================================================
``arcface``            additive angular margin, ``cos(θ + m)``: ``margin`` m in **radians**
                       (0.5), ``scale`` s (64)
``cosface``            additive cosine margin, ``cos θ − m``: ``margin`` (0.35), ``scale`` (64)
``subcenter_arcface``  ArcFace with ``sub_centers`` (3) centres per class, the closest one
                       used: tolerant of mislabelled or multi-modal identities
``triplet``            ``TripletMarginLoss`` (``margin`` 0.2 on unit-sphere Euclidean
                       distance) on triplets mined per batch: ``mining="batch_hard"``
                       (hardest positive and negative per anchor) or ``"semihard"``
=====================  =====================================================================

pytorch-metric-learning takes ArcFace margins in degrees; here they are radians like
insightface (``--loss-arg margin=0.5``) and converted. insightface's combined margin
``cos(m1·θ + m2) − m3`` is not offered: pytorch-metric-learning lacks it, and ArcFace and
CosFace cover its two common settings.

Defaults: s = 64 with m = 0.5 rad (ArcFace) or 0.35 (CosFace), the published settings. A
short CPU run (MobileFaceNet width 0.5, SGD, batch 64, 98 steps on the LFW identities with
>= 10 images; the trainer's warm-up and gradient clipping on) reached val EER 38.3 % → 30.8 %
over its 2 epochs with m = 0.5 and 35.3 % → 30.2 % with m = 0.3: a smaller margin helps
early, the gap closes by the end and is within the noise of one seed, so the default stays
the published one (``--loss-arg margin=0.3`` for very short runs).

The classifier weights of the margin losses (``W``: ``[embedding_dim, classes ×
sub_centers]``) are parameters of the returned module: optimise them with the encoder and
save them with it. Triplet batches need several samples per identity; build their order with
:func:`identity_batches` (P identities × K samples).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from pytorch_metric_learning import losses, miners, samplers
from torch import nn

from bioverify.errors import InvalidInput

LOSS_NAMES = ("arcface", "cosface", "subcenter_arcface", "triplet")
#: losses with a trainable classifier (one weight vector per train identity)
MARGIN_LOSSES = ("arcface", "cosface", "subcenter_arcface")
MINING = ("batch_hard", "semihard")

_DEFAULTS: dict[str, dict[str, Any]] = {
    "arcface": {"margin": 0.5, "scale": 64.0},
    "cosface": {"margin": 0.35, "scale": 64.0},
    "subcenter_arcface": {"margin": 0.5, "scale": 64.0, "sub_centers": 3},
    "triplet": {"margin": 0.2, "mining": "batch_hard"},
}


class LossModule(nn.Module):
    """``loss(embeddings [N, D], labels [N]) -> scalar``, with its settings on record.

    ``name`` and ``kwargs`` (every setting, defaults filled in) rebuild the same loss with
    :func:`build_loss`; ``num_classes`` is the number of train identities (0 for triplet).
    """

    def __init__(
        self,
        name: str,
        kwargs: dict[str, Any],
        num_classes: int,
        criterion: nn.Module,
        miner: nn.Module | None,
    ) -> None:
        super().__init__()
        self.name = name
        self.kwargs = kwargs
        self.num_classes = num_classes
        self.criterion = criterion
        self.miner = miner

    @property
    def needs_identity_batches(self) -> bool:
        """True when batches must hold several samples of each identity (triplet mining)."""
        return self.miner is not None

    def forward(self, embeddings: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        # computed in float32: pml casts its classifier to the embeddings' dtype otherwise
        embeddings = embeddings.float()
        if self.miner is None:
            loss: torch.Tensor = self.criterion(embeddings, labels)
            return loss
        triplets = self.miner(embeddings, labels)
        mined: torch.Tensor = self.criterion(embeddings, labels, triplets)
        return mined


def loss_defaults(name: str) -> dict[str, Any]:
    """The default keyword arguments of loss ``name``."""
    _check_name(name)
    return dict(_DEFAULTS[name])


def build_loss(name: str, embedding_dim: int, num_classes: int, **kwargs: Any) -> LossModule:
    """Build loss ``name`` (one of :data:`LOSS_NAMES`) for ``num_classes`` train identities.

    Unknown or out-of-range keyword arguments raise :class:`InvalidInput` naming the accepted
    ones. ArcFace margins are in radians.
    """
    _check_name(name)
    if embedding_dim < 1:
        raise InvalidInput(f"embedding_dim must be positive, got {embedding_dim}")
    settings = _settings(name, kwargs)
    if name in MARGIN_LOSSES and num_classes < 2:
        raise InvalidInput(
            f"{name} needs at least 2 train identities, got {num_classes}; check the split"
        )
    miner: nn.Module | None = None
    criterion: nn.Module
    if name == "arcface":
        criterion = losses.ArcFaceLoss(
            num_classes,
            embedding_dim,
            margin=math.degrees(settings["margin"]),
            scale=settings["scale"],
        )
    elif name == "subcenter_arcface":
        criterion = losses.SubCenterArcFaceLoss(
            num_classes=num_classes,
            embedding_size=embedding_dim,
            margin=math.degrees(settings["margin"]),
            scale=settings["scale"],
            sub_centers=settings["sub_centers"],
        )
    elif name == "cosface":
        criterion = losses.CosFaceLoss(
            num_classes, embedding_dim, margin=settings["margin"], scale=settings["scale"]
        )
    else:
        criterion = losses.TripletMarginLoss(margin=settings["margin"])
        if settings["mining"] == "batch_hard":
            miner = miners.BatchHardMiner()
        else:
            miner = miners.TripletMarginMiner(
                margin=settings["margin"], type_of_triplets="semihard"
            )
    classes = num_classes if name in MARGIN_LOSSES else 0
    return LossModule(name, settings, classes, criterion, miner)


def _check_name(name: str) -> None:
    if name not in LOSS_NAMES:
        raise InvalidInput(f"loss must be one of {LOSS_NAMES}, got {name!r}")


def _settings(name: str, kwargs: Mapping[str, Any]) -> dict[str, Any]:
    settings = dict(_DEFAULTS[name])
    unknown = sorted(set(kwargs) - set(settings))
    if unknown:
        raise InvalidInput(f"{name} does not take {unknown}; its arguments are {sorted(settings)}")
    settings.update(kwargs)
    margin = _number(name, "margin", settings["margin"])
    if name in ("arcface", "subcenter_arcface") and not 0 < margin < math.pi / 2:
        raise InvalidInput(f"{name} margin is in radians and must be in (0, π/2), got {margin}")
    if name in ("cosface", "triplet") and not 0 < margin < 2:
        raise InvalidInput(f"{name} margin must be in (0, 2), got {margin}")
    settings["margin"] = margin
    if "scale" in settings:
        settings["scale"] = _number(name, "scale", settings["scale"])
        if settings["scale"] <= 0:
            raise InvalidInput(f"{name} scale must be positive, got {settings['scale']}")
    if "sub_centers" in settings:
        sub_centers = settings["sub_centers"]
        if isinstance(sub_centers, bool) or not isinstance(sub_centers, int) or sub_centers < 1:
            raise InvalidInput(f"sub_centers must be a positive integer, got {sub_centers!r}")
    if "mining" in settings and settings["mining"] not in MINING:
        raise InvalidInput(f"triplet mining must be one of {MINING}, got {settings['mining']!r}")
    return settings


def _number(name: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{name} {key} must be a finite number, got {value!r}")
    return float(value)


def identity_batches(
    labels: Sequence[int], samples_per_identity: int, batch_size: int, length: int, seed: int
) -> list[list[int]]:
    """``length // batch_size`` batches of dataset indices, each P identities × K samples.

    ``batch_size // samples_per_identity`` distinct identities per batch,
    ``samples_per_identity`` samples each (drawn with replacement when an identity has
    fewer), by :class:`pytorch_metric_learning.samplers.MPerClassSampler`. That
    sampler draws from numpy's global generator; it is seeded with ``seed`` here and restored
    afterwards, so the order is a function of ``seed`` alone.
    """
    if samples_per_identity < 1 or batch_size % samples_per_identity:
        raise InvalidInput(
            f"batch size {batch_size} must be a multiple of samples per identity "
            f"{samples_per_identity}"
        )
    identities = len(set(labels))
    if identities * samples_per_identity < batch_size:
        raise InvalidInput(
            f"a batch of {batch_size} needs {batch_size // samples_per_identity} identities "
            f"with {samples_per_identity} samples each, but training has only {identities} "
            "identities; lower the batch size"
        )
    length = max(length - length % batch_size, batch_size)
    sampler = samplers.MPerClassSampler(
        list(labels), m=samples_per_identity, batch_size=batch_size, length_before_new_iter=length
    )
    saved = np.random.get_state()
    try:
        np.random.seed(seed % 2**32)
        order = [int(index) for index in sampler]
    finally:
        np.random.set_state(saved)
    return [order[start : start + batch_size] for start in range(0, len(order), batch_size)]


__all__ = [
    "LOSS_NAMES",
    "MARGIN_LOSSES",
    "MINING",
    "LossModule",
    "build_loss",
    "identity_batches",
    "loss_defaults",
]
