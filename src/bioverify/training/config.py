"""The settings of a training run: :class:`TrainConfig`, with its defaults and checks —
below the training loop and its parts, which all read it."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from typing import Any

from bioverify.bundle import VOICE_TRIM_MODES
from bioverify.datasets.trials import TrialProtocol
from bioverify.errors import InvalidInput
from bioverify.jsonable import FieldsToDict
from bioverify.training.losses import LOSS_NAMES, MARGIN_LOSSES

OPTIMIZERS = ("sgd", "adamw")
DEVICES = ("auto", "cpu", "cuda")

#: optimiser used when the config names none: by loss kind (margin or triplet)
OPTIMIZER_DEFAULTS = {"margin": "sgd", "triplet": "adamw"}
#: learning rate and weight decay used when the config gives none: by optimiser
LR_DEFAULTS = {"sgd": (0.1, 5e-4), "adamw": (1e-3, 5e-4)}

#: validation trials: the shared protocol's defaults
_VAL_TRIALS = TrialProtocol()


@dataclass
class TrainConfig(FieldsToDict):
    """Everything a training run depends on; saved as ``config.json`` in ``out_dir``.

    Optimiser: ``optimizer`` defaults by loss (:data:`OPTIMIZER_DEFAULTS`), ``lr`` and
    ``weight_decay`` by optimiser (:data:`LR_DEFAULTS`): SGD (momentum 0.9, lr 0.1, weight
    decay 5e-4) for the margin losses, as insightface trains ArcFace; AdamW (lr 1e-3) for
    triplet loss. Measured on CPU (MobileFaceNet width 0.5, ArcFace, batch 64, 2 epochs =
    98 steps on the LFW identities with >= 10 images, split 110/32/16): val EER 38.3 % →
    30.8 % with SGD and 37.3 % → 32.5 % with AdamW, so SGD stays the default.

    Schedule: the learning rate rises linearly over the first ``warmup_fraction`` of all
    steps, then follows a cosine to zero at the end of ``epochs``; the schedule is per epoch
    count, and the time budget ``max_minutes`` (per session, counted from the first step)
    only stops early. Gradients are clipped to a total norm of ``grad_clip`` (5, as
    insightface's arcface_torch; None disables it): without it, the first SGD steps of a
    scale-64 margin loss drove a small MobileFaceNet's BatchNorm statistics to NaN.

    ``steps_per_epoch`` caps every epoch (smoke tests). ``samples_per_identity`` is K of the
    P × K triplet batches. ``amp`` applies on CUDA only: bfloat16 where supported, else
    float16 with gradient scaling. ``head_dim`` adds a projection head (Linear–BN–ReLU–
    Linear) between the encoder and the loss; validation and export use the encoder without
    it. ``face_geometry`` is a :meth:`FaceGeometry.to_dict` (default: the LFW geometry).
    ``init_from`` starts a new run from another run's checkpoint weights (encoder, and the
    head and classifier when the model, loss and train identities are the same) with a fresh
    optimiser and schedule — a warm restart, e.g. to train longer than a finished run's
    cosine schedule; the architecture must match. A voice checkpoint's runtime facts
    (``partials``, ``target_dbfs``: how the model is served, e.g. the converted GE2E
    encoder's) are inherited: the run then trains on one served window per recording and
    validates on the runtime's embedding of whole recordings, so ``chunk_seconds`` and
    ``val_max_seconds`` do not apply (:mod:`~bioverify.training.voice_data`).
    ``num_threads`` sets torch's intra-op threads during the run (default: torch's own
    choice; on 2 cores busy with other work, a tiny MobileFaceNet step took 0.1 s with 1
    thread and 0.3–0.6 s with 2).
    """

    data: list[str]
    split: str
    modality: str
    model: str
    out_dir: str
    loss: str = "arcface"
    embedding_dim: int | None = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    head_dim: int | None = None
    epochs: int = 20
    batch_size: int = 128
    optimizer: str | None = None
    lr: float | None = None
    weight_decay: float | None = None
    warmup_fraction: float = 0.05
    grad_clip: float | None = 5.0
    samples_per_identity: int = 4
    max_minutes: float | None = None
    steps_per_epoch: int | None = None
    num_workers: int = 2
    num_threads: int | None = None
    seed: int = 0
    device: str = "auto"
    amp: bool = True
    prefix_identities: bool = False
    chunk_seconds: float = 2.0
    trim: str = "none"
    val_max_seconds: float = 10.0
    val_max_genuine_per_identity: int = _VAL_TRIALS.max_genuine_per_identity
    val_max_genuine: int = _VAL_TRIALS.max_genuine
    val_min_impostor: int = _VAL_TRIALS.min_impostor
    face_geometry: dict[str, Any] | None = None
    check_content: bool = True
    resume: bool = False
    init_from: str | None = None

    def __post_init__(self) -> None:
        paths: Any = self.data
        self.data = [str(paths)] if isinstance(paths, str | os.PathLike) else list(map(str, paths))
        self.split, self.out_dir = str(self.split), str(self.out_dir)
        if not self.data:
            raise InvalidInput("no training data given; pass at least one dataset")
        if self.modality not in ("face", "voice"):
            raise InvalidInput(f"modality must be face or voice, got {self.modality!r}")
        if self.trim not in VOICE_TRIM_MODES:
            raise InvalidInput(f"trim must be one of {VOICE_TRIM_MODES}, got {self.trim!r}")
        if self.loss not in LOSS_NAMES:
            raise InvalidInput(f"loss must be one of {LOSS_NAMES}, got {self.loss!r}")
        kind = "margin" if self.loss in MARGIN_LOSSES else "triplet"
        self.optimizer = self.optimizer or OPTIMIZER_DEFAULTS[kind]
        if self.optimizer not in OPTIMIZERS:
            raise InvalidInput(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        lr, weight_decay = LR_DEFAULTS[self.optimizer]
        self.lr = lr if self.lr is None else self.lr
        self.weight_decay = weight_decay if self.weight_decay is None else self.weight_decay
        if self.device not in DEVICES:
            raise InvalidInput(f"device must be one of {DEVICES}, got {self.device!r}")
        positive = {
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "lr": self.lr,
            "samples_per_identity": self.samples_per_identity,
            "chunk_seconds": self.chunk_seconds,
            "val_max_seconds": self.val_max_seconds,
            "val_max_genuine_per_identity": self.val_max_genuine_per_identity,
            "val_max_genuine": self.val_max_genuine,
        }
        optional = {
            "embedding_dim": self.embedding_dim,
            "head_dim": self.head_dim,
            "max_minutes": self.max_minutes,
            "steps_per_epoch": self.steps_per_epoch,
            "num_threads": self.num_threads,
            "grad_clip": self.grad_clip,
        }
        positive.update({key: value for key, value in optional.items() if value is not None})
        bad = {key: value for key, value in positive.items() if not value > 0}
        if bad:
            raise InvalidInput(f"these settings must be positive: {bad}")
        if self.weight_decay < 0 or self.num_workers < 0 or self.val_min_impostor < 0:
            raise InvalidInput("weight_decay, num_workers and val_min_impostor must be >= 0")
        if not 0 <= self.warmup_fraction < 1:
            raise InvalidInput(f"warmup_fraction must be in [0, 1), got {self.warmup_fraction}")

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Rebuild a config written by :meth:`to_dict`; unknown keys are refused."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"unknown training settings {unknown}; known: {sorted(known)}")
        try:
            return cls(**data)
        except TypeError as exc:
            raise InvalidInput(f"invalid training config: {exc}") from exc


__all__ = ["DEVICES", "LR_DEFAULTS", "OPTIMIZERS", "OPTIMIZER_DEFAULTS", "TrainConfig"]
