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
  lowest so far (checkpoints: :mod:`bioverify.training.checkpoint`).

Validation embeds every val sample with the encoder alone (no projection head): faces with
the evaluation crop, voices as whole recordings up to ``val_max_seconds`` (one at a time),
and scores the same trials every epoch (:class:`bioverify.datasets.TrialProtocol`
with the run's seed). Test identities are never read.

Reproducibility: each epoch's sample order is a function of ``(seed, epoch, rank)`` alone,
and the data loaders draw their worker seeds from their own generator, so a single-process
run with ``num_workers=0`` that is interrupted (Ctrl-C or the time budget) and resumed ends
with the same weights as an uninterrupted one. A mid-epoch checkpoint records how many steps
of the epoch were done; resuming skips those batches (by index, without decoding them) and
continues at the next step. Under DDP only rank 0's generator state is saved; the other ranks
are reseeded from ``(seed, rank, step)`` on resume.

Distributed: launched by ``torchrun`` (``WORLD_SIZE`` > 1) each process trains on its own
shard of every epoch (``DistributedSampler`` for the margin losses; for triplet loss each
rank draws its own P × K batches with a rank-specific seed, so mining sees only the local
batch). Gradients of the encoder, head and classifier are averaged by DDP. Only rank 0
validates and writes files; rank 0's clock decides the time budget and its decision is
broadcast every step so that all ranks stop together.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from bioverify.bundle import VOICE_TRIM_MODES
from bioverify.calibration.roc import summarize
from bioverify.calibration.scoring import score_trials
from bioverify.datasets.inventory import scan_datasets
from bioverify.datasets.splits import Split, load_split
from bioverify.datasets.trials import TrialProtocol
from bioverify.errors import DataError, InvalidInput, ModelMismatch
from bioverify.face_geometry import FaceGeometry
from bioverify.progress import Progress, progress_iter
from bioverify.training.batches import Batch, Unreadable, collate_skipping_unreadable
from bioverify.training.checkpoint import (
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from bioverify.training.losses import LOSS_NAMES, MARGIN_LOSSES, build_loss, identity_batches
from bioverify.training.models import build_encoder, default_input_size

logger = logging.getLogger(__name__)

OPTIMIZERS = ("sgd", "adamw")
DEVICES = ("auto", "cpu", "cuda")
SAMPLE_RATE = 16000
FAR_TARGETS = (1e-2, 1e-3)

#: optimiser, learning rate and weight decay used when the config leaves them out
#: optimiser used when the config names none: by loss kind (margin or triplet)
OPTIMIZER_DEFAULTS = {"margin": "sgd", "triplet": "adamw"}
#: learning rate and weight decay used when the config gives none: by optimiser
LR_DEFAULTS = {"sgd": (0.1, 5e-4), "adamw": (1e-3, 5e-4)}

# config fields that may change between a run and its resumption
_RESUMABLE_CHANGES = frozenset(
    {"data", "split", "out_dir", "epochs", "max_minutes", "num_workers", "num_threads"}
    | {"device", "resume", "check_content", "init_from"}
)
# fields that define the model or its objective: a change is a different model
_MODEL_FIELDS = frozenset(
    {"modality", "model", "embedding_dim", "model_kwargs", "loss", "loss_kwargs", "head_dim"}
)

StepCallback = Callable[[int, float], None]


#: validation trials: the shared protocol's defaults
_VAL_TRIALS = TrialProtocol()


@dataclass
class TrainConfig:
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
    cosine schedule; the architecture must match. ``num_threads`` sets torch's intra-op
    threads during the run (default: torch's own choice; on 2 cores busy with other work, a
    tiny MobileFaceNet step took 0.1 s with 1 thread and 0.3–0.6 s with 2).
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

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)

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


class _Objective(nn.Module):
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
class _Progress:
    """Where the run is: completed epochs, steps into the next, and its running sums."""

    epoch: int = 0
    step_in_epoch: int = 0
    global_step: int = 0
    loss_sum: float = 0.0
    samples: int = 0
    seconds: float = 0.0
    best_val_eer: float | None = None
    best_epoch: int | None = None

    def start_epoch(self) -> None:
        self.step_in_epoch, self.loss_sum, self.samples, self.seconds = 0, 0.0, 0, 0.0


@dataclass
class _Distributed:
    world_size: int
    rank: int
    local_rank: int

    @property
    def active(self) -> bool:
        return self.world_size > 1

    @property
    def main(self) -> bool:
        return self.rank == 0


def train(
    config: TrainConfig, on_step: StepCallback | None = None, progress: bool = True
) -> TrainResult:
    """Train an encoder as ``config`` says; see the module docstring for what is written.

    ``on_step(global_step, loss)`` is called after every optimiser step (a
    ``KeyboardInterrupt`` raised there is handled like Ctrl-C). On ``KeyboardInterrupt``
    rank 0 saves ``last.pt`` at the last completed step and the interrupt is re-raised.
    Data and split problems raise :class:`DataError`; a resume whose checkpoint was made with
    another model, loss or data raises :class:`ModelMismatch` or :class:`DataError`.
    """
    distributed = _start_distributed()
    threads = torch.get_num_threads()
    if config.num_threads is not None:
        torch.set_num_threads(config.num_threads)
    try:
        return _Run(config, distributed, on_step, progress).fit()
    finally:
        torch.set_num_threads(threads)
        if distributed.active and dist.is_initialized():
            dist.destroy_process_group()


def _start_distributed() -> _Distributed:
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return _Distributed(1, 0, 0)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")
    return _Distributed(world_size, rank, local_rank)


def _device(choice: str, distributed: _Distributed) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise InvalidInput("device cuda was asked for but no CUDA device is available")
    if choice == "cpu" or not torch.cuda.is_available():
        return torch.device("cpu")
    torch.cuda.set_device(distributed.local_rank)
    return torch.device("cuda", distributed.local_rank)


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _mixed_seed(*parts: int) -> int:
    """A 63-bit seed from several integers (run seed, epoch, rank…)."""
    return (
        int(np.random.SeedSequence(list(parts)).generate_state(2, np.uint32).view(np.uint64)[0])
        >> 1
    )


def _loader_generator(seed: int) -> torch.Generator:
    # DataLoader draws its worker base seed from this, not from the global generator
    return torch.Generator().manual_seed(seed)


def _file_sha256(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


class _Run:
    """One training session (a fresh run or a resumption)."""

    def __init__(
        self,
        config: TrainConfig,
        distributed: _Distributed,
        on_step: StepCallback | None,
        progress: bool,
    ) -> None:
        self.config = config
        self.distributed = distributed
        self.on_step = on_step
        self.progress = progress and distributed.main
        self.out_dir = Path(config.out_dir)
        self.device = _device(config.device, distributed)
        _seed_everything(_mixed_seed(config.seed, distributed.rank))
        self._load_data()
        self._build_model()
        self.state = _Progress()
        self.unreadable: set[str] = set()
        self.session_metrics: list[dict[str, Any]] = []
        self.validation_seconds = 0.0

    # ----------------------------------------------------------------- setup
    def _load_data(self) -> None:
        config = self.config
        inventory = scan_datasets(
            config.data,
            config.modality,
            prefix_identities=config.prefix_identities,
            progress=self.progress,
        )
        split_path = Path(config.split)
        self.split: Split = load_split(
            split_path,
            inventory,
            check_content=config.check_content and self.distributed.main,
            progress=self.progress,
        )
        self.split_sha256 = _file_sha256(split_path)
        self.label_map = self.split.label_map()
        train_samples = self.split.samples(inventory, "train")
        val_samples = self.split.samples(inventory, "val")
        val_counts = Counter(sample.identity for sample in val_samples)
        if len(val_counts) < 2 or max(val_counts.values(), default=0) < 2:
            raise DataError(
                f"{split_path}: validation needs at least 2 val identities, one with 2 samples; "
                f"the split has {len(val_counts)} val identities — remake it with a larger "
                "--val-fraction"
            )
        if len(self.label_map) < 2:
            raise DataError(f"{split_path}: training needs at least 2 train identities")
        self.val_identities = sorted(val_counts)
        val_map = {identity: i for i, identity in enumerate(self.val_identities)}
        self.geometry: FaceGeometry | None = None
        self.train_set: Dataset[Any]
        self.val_set: Dataset[Any]
        if config.modality == "face":
            from bioverify.training.face_data import FaceDataset

            self.geometry = _face_geometry(config)
            self.train_set = FaceDataset(train_samples, self.label_map, self.geometry, train=True)
            self.val_set = FaceDataset(val_samples, val_map, self.geometry, train=False)
            self.val_batch_size = config.batch_size
        else:
            from bioverify.training.voice_data import VoiceDataset

            train_voices = VoiceDataset(
                train_samples,
                self.label_map,
                sample_rate=SAMPLE_RATE,
                chunk_seconds=config.chunk_seconds,
                train=True,
                trim=config.trim,
            )
            val_voices = VoiceDataset(
                val_samples,
                val_map,
                sample_rate=SAMPLE_RATE,
                train=False,
                eval_mode="full",
                max_eval_seconds=config.val_max_seconds,
                trim=config.trim,
            )
            # decoded once here, shared with the loader workers instead of decoded per epoch
            for dataset in (train_voices, val_voices):
                for item in dataset.preload(progress=self.progress):
                    self._note_unreadable(item)
            self.train_set, self.val_set = train_voices, val_voices
            self.val_batch_size = 1
        self.train_labels: list[int] = list(self.train_set.labels)
        self.train_steps = self._steps_per_epoch()

    def _build_model(self) -> None:
        config = self.config
        self.encoder = build_encoder(
            config.modality, config.model, config.embedding_dim, **config.model_kwargs
        )
        embedding_dim = self.encoder.embedding_dim
        self.head = ProjectionHead(embedding_dim, config.head_dim) if config.head_dim else None
        self.loss = build_loss(
            config.loss, config.head_dim or embedding_dim, len(self.label_map), **config.loss_kwargs
        )
        objective = _Objective(self.encoder, self.head, self.loss).to(self.device)
        if self.device.type == "cuda" and config.modality == "face":
            objective = objective.to(memory_format=torch.channels_last)
        self.objective = objective
        self.model: nn.Module = objective
        if self.distributed.active:
            device_ids = [self.device.index] if self.device.type == "cuda" else None
            self.model = DistributedDataParallel(objective, device_ids=device_ids)
        parameters = list(objective.parameters())
        assert config.lr is not None and config.weight_decay is not None
        self.optimizer: torch.optim.Optimizer
        if config.optimizer == "sgd":
            self.optimizer = torch.optim.SGD(
                parameters, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay
            )
        else:
            self.optimizer = torch.optim.AdamW(
                parameters, lr=config.lr, weight_decay=config.weight_decay
            )
        total = config.epochs * self.train_steps
        warmup = max(1, round(config.warmup_fraction * total)) if config.warmup_fraction else 0
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(
            self.optimizer, lambda step: _warmup_cosine(step, warmup, total)
        )
        use_amp = config.amp and self.device.type == "cuda"
        self.amp_dtype: torch.dtype | None = None
        if use_amp:
            self.amp_dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.amp_dtype == torch.float16)

    def _steps_per_epoch(self) -> int:
        config, world = self.config, self.distributed.world_size
        steps = len(self.train_labels) // world // config.batch_size
        if steps == 0:
            raise DataError(
                f"{len(self.train_labels)} training samples over {world} process(es) do not "
                f"fill one batch of {config.batch_size}; lower --batch-size"
            )
        return min(steps, config.steps_per_epoch) if config.steps_per_epoch else steps

    def _epoch_batches(self, epoch: int) -> list[list[int]]:
        """Index batches of one epoch for this rank: a function of (seed, epoch, rank)."""
        config, distributed = self.config, self.distributed
        if self.loss.needs_identity_batches:
            per_rank = len(self.train_labels) // distributed.world_size
            batches = identity_batches(
                self.train_labels,
                config.samples_per_identity,
                config.batch_size,
                per_rank,
                _mixed_seed(config.seed, epoch, distributed.rank),
            )
        else:
            sampler: DistributedSampler[int] = DistributedSampler(
                self.train_set,
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
        return batches[: self.train_steps]

    def _loader(
        self, dataset: Dataset[Any], batches: list[list[int]], seed: int
    ) -> DataLoader[Any]:
        return DataLoader(
            dataset,
            batch_sampler=batches,
            num_workers=self.config.num_workers,
            collate_fn=collate_skipping_unreadable,
            pin_memory=self.device.type == "cuda",
            generator=_loader_generator(seed),
        )

    # ------------------------------------------------------------ the loop
    def fit(self) -> TrainResult:
        config = self.config
        if config.resume:
            self._resume()
        elif (self.out_dir / "last.pt").exists():
            raise InvalidInput(
                f"{self.out_dir} already holds a run (last.pt); pass resume (--resume) to "
                "continue it or choose another output folder"
            )
        elif config.init_from:
            self._init_from(Path(config.init_from))
        if self.distributed.main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / "config.json").write_text(
                json.dumps(config.to_dict(), indent=2) + "\n", encoding="utf-8"
            )
        started = time.monotonic()
        validated = False
        try:
            while self.state.epoch < config.epochs:
                # a budget spent at an epoch boundary stops here, not one step later; every
                # session trains at least one step
                if validated and self._out_of_time(started):
                    break
                out_of_time = self._train_epoch(started)
                self._end_epoch(complete=self.state.step_in_epoch >= self.train_steps)
                validated = True
                if out_of_time:
                    break
        except KeyboardInterrupt:
            if self.distributed.main:
                self._save(self.out_dir / "last.pt")
                logger.warning(
                    "interrupted: saved %s at epoch %d, step %d of it; continue with --resume",
                    self.out_dir / "last.pt",
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
            encoder=self.encoder,
        )

    def _train_epoch(self, started: float) -> bool:
        """Train the rest of the current epoch; True once the time budget is spent."""
        config, state = self.config, self.state
        batches = self._epoch_batches(state.epoch)[state.step_in_epoch :]
        loader = self._loader(self.train_set, batches, _mixed_seed(config.seed, state.epoch))
        self.model.train()
        bar = Progress(
            total=self.train_steps,
            initial=state.step_in_epoch,
            desc=f"epoch {state.epoch + 1}/{config.epochs}",
            unit="step",
            enabled=self.progress,
        )
        stop = False
        with bar:
            tick = time.monotonic()
            for batch in loader:
                self._step(batch)
                now = time.monotonic()
                state.seconds += now - tick
                tick = now
                mean_loss = state.loss_sum / max(state.samples, 1)
                rate = state.samples * self.distributed.world_size / max(state.seconds, 1e-9)
                bar.set_postfix(loss=f"{mean_loss:.3f}", samples_s=f"{rate:.1f}")
                bar.update(1)
                if self.on_step is not None:
                    self.on_step(state.global_step, mean_loss)
                stop = self._out_of_time(started)
                if stop:
                    break
        return stop

    def _step(self, batch: Batch) -> None:
        state = self.state
        for item in batch.unreadable:
            self._note_unreadable(item)
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
        with torch.autocast(
            self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None
        ):
            loss = self.model(inputs, labels)
        value = float(loss.detach())
        if not math.isfinite(value):
            raise InvalidInput(
                f"training diverged: the loss is {value} at step {state.global_step + 1}; "
                f"lower the learning rate (now {self.config.lr}) or the loss scale"
            )
        self.optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        if self.config.grad_clip is not None:
            self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(self.objective.parameters(), self.config.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.scheduler.step()
        count = int(labels.numel())
        state.loss_sum += value * count
        state.samples += count
        state.step_in_epoch += 1
        state.global_step += 1

    def _out_of_time(self, started: float) -> bool:
        """Rank 0 decides whether the budget (keeping room for one validation) is spent."""
        if self.config.max_minutes is None:
            return False
        elapsed = time.monotonic() - started + self.validation_seconds
        spent = elapsed >= self.config.max_minutes * 60
        if not self.distributed.active:
            return spent
        flag = torch.tensor([1.0 if spent else 0.0], device=self.device)
        dist.broadcast(flag, src=0)
        return bool(flag.item())

    def _end_epoch(self, complete: bool) -> None:
        state = self.state
        epoch_number = state.epoch + 1
        if self.distributed.main:
            metrics = self._metrics(epoch_number, complete)
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
            dist.barrier()

    def _metrics(self, epoch_number: int, complete: bool) -> dict[str, Any]:
        state = self.state
        began = time.monotonic()
        summary, val_unreadable = self._validate()
        self.validation_seconds = time.monotonic() - began
        values = summary.to_dict()
        world = self.distributed.world_size
        return {
            "epoch": epoch_number,
            "complete": complete,
            "step": state.global_step,
            "loss": state.loss_sum / max(state.samples, 1),
            "lr": self.optimizer.param_groups[0]["lr"],
            "val_eer": values.pop("eer"),
            "val_eer_threshold": values.pop("eer_threshold"),
            **values,
            "samples_per_s": state.samples * world / max(state.seconds, 1e-9),
            "seconds": state.seconds,
            "val_seconds": self.validation_seconds,
            "val_unreadable": val_unreadable,
            "train_unreadable": len(self.unreadable),
            "time": datetime.now(UTC).isoformat(timespec="seconds"),
        }

    @torch.no_grad()
    def _validate(self) -> tuple[Any, int]:
        """EER and TAR@FAR of the encoder on the val identities' trials."""
        config = self.config
        encoder = self.encoder
        indices = list(range(len(self.val_set)))  # type: ignore[arg-type]
        batches = [
            indices[start : start + self.val_batch_size]
            for start in range(0, len(indices), self.val_batch_size)
        ]
        embeddings: list[np.ndarray] = []
        labels: list[np.ndarray] = []
        unreadable = 0
        with _eval_mode(encoder):
            loader = self._loader(self.val_set, batches, config.seed)
            for batch in progress_iter(loader, "validating", "batch", enabled=self.progress):
                unreadable += len(batch.unreadable)
                if batch.labels.numel() == 0:
                    continue
                with torch.autocast(
                    self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None
                ):
                    output = encoder(batch.inputs.to(self.device, non_blocking=True))
                embeddings.append(output.float().cpu().numpy())
                labels.append(batch.labels.numpy())
        identities = np.concatenate(labels)
        protocol = TrialProtocol(
            max_genuine_per_identity=config.val_max_genuine_per_identity,
            max_genuine=config.val_max_genuine,
            min_impostor=config.val_min_impostor,
            seed=config.seed,
        )
        trials = protocol.trials([self.val_identities[label] for label in identities])
        scores = score_trials(np.concatenate(embeddings), trials)
        return summarize(scores, trials.genuine, FAR_TARGETS), unreadable

    def _note_unreadable(self, item: Unreadable) -> None:
        if item.path not in self.unreadable:
            self.unreadable.add(item.path)
            logger.warning("skipping unreadable file %s: %s", item.path, item.reason)

    # ----------------------------------------------------- checkpoints
    def _save(self, path: Path, metrics: dict[str, Any] | None = None) -> None:
        config, state = self.config, self.state
        modality_facts: dict[str, Any]
        if self.geometry is not None:
            modality_facts = {"face_geometry": self.geometry.to_dict()}
        else:
            modality_facts = {
                "voice": {
                    "sample_rate": SAMPLE_RATE,
                    "chunk_seconds": config.chunk_seconds,
                    "trim": config.trim,
                }
            }
        save_checkpoint(
            path,
            {
                "modality": config.modality,
                "encoder": {"config": self.encoder.config, "state_dict": self.encoder.state_dict()},
                "head": None
                if self.head is None
                else {"dim": config.head_dim, "state_dict": self.head.state_dict()},
                "loss": {
                    "name": self.loss.name,
                    "kwargs": self.loss.kwargs,
                    "num_classes": self.loss.num_classes,
                    "state_dict": self.loss.state_dict(),
                },
                "optimizer": self.optimizer.state_dict(),
                "scheduler": self.scheduler.state_dict(),
                "grad_scaler": self.scaler.state_dict(),
                "progress": asdict(state),
                "rng": rng_state(),
                "config": config.to_dict(),
                "identities": sorted(self.label_map, key=self.label_map.__getitem__),
                **modality_facts,
                "data": {
                    "paths": [str(Path(p).resolve()) for p in config.data],
                    "split": str(Path(config.split).resolve()),
                    "split_sha256": self.split_sha256,
                    "split_counts": self.split.counts,
                },
                "metrics": metrics or {},
            },
        )

    def _resume(self) -> None:
        path = self.out_dir / "last.pt"
        checkpoint = load_checkpoint(path)
        self._check_resumable(path, checkpoint)
        self.encoder.load_state_dict(checkpoint["encoder"]["state_dict"])
        if self.head is not None:
            self.head.load_state_dict(checkpoint["head"]["state_dict"])
        self.loss.load_state_dict(checkpoint["loss"]["state_dict"])
        self.optimizer.load_state_dict(checkpoint["optimizer"])
        self.scheduler.load_state_dict(checkpoint["scheduler"])
        self.scaler.load_state_dict(checkpoint["grad_scaler"])
        self.state = _Progress(**checkpoint["progress"])
        if self.distributed.main:
            set_rng_state(checkpoint["rng"])
        else:
            _seed_everything(
                _mixed_seed(self.config.seed, self.distributed.rank, self.state.global_step)
            )
        logger.info(
            "resuming %s at epoch %d, step %d of it (global step %d)",
            path,
            self.state.epoch + 1,
            self.state.step_in_epoch,
            self.state.global_step,
        )

    def _init_from(self, path: Path) -> None:
        """Load another run's weights into this fresh run (see ``TrainConfig.init_from``)."""
        checkpoint = load_checkpoint(path)
        if checkpoint["encoder"]["config"] != self.encoder.config:
            raise ModelMismatch(
                f"{path} holds another architecture ({checkpoint['encoder']['config']['name']} "
                f"{checkpoint['encoder']['config']['kwargs']}); --init-from needs the same model"
            )
        self.encoder.load_state_dict(checkpoint["encoder"]["state_dict"])
        same_classes = checkpoint["identities"] == sorted(
            self.label_map, key=self.label_map.__getitem__
        )
        same_loss = checkpoint["loss"]["name"] == self.loss.name
        if same_classes and same_loss:
            self.loss.load_state_dict(checkpoint["loss"]["state_dict"])
        head = checkpoint.get("head")
        if self.head is not None and head is not None and head["dim"] == self.config.head_dim:
            self.head.load_state_dict(head["state_dict"])
        logger.info(
            "initialised from %s (encoder%s)",
            path,
            " and classifier" if same_classes and same_loss else " only",
        )

    def _check_resumable(self, path: Path, checkpoint: dict[str, Any]) -> None:
        saved = checkpoint["config"]
        current = self.config.to_dict()
        changed = sorted(
            key
            for key in current
            if key not in _RESUMABLE_CHANGES and saved.get(key) != current[key]
        )
        model_changes = [key for key in changed if key in _MODEL_FIELDS]
        if model_changes:
            raise ModelMismatch(
                f"{path} was trained with another model or loss "
                + ", ".join(f"{k}={saved.get(k)!r} (now {current[k]!r})" for k in model_changes)
                + "; resume with the same settings or start a new run in another folder"
            )
        if checkpoint["identities"] != sorted(self.label_map, key=self.label_map.__getitem__):
            raise DataError(
                f"{path} was trained on other train identities; resume with the same data and "
                "split or start a new run"
            )
        if checkpoint["data"]["split_sha256"] != self.split_sha256:
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


def _face_geometry(config: TrainConfig) -> FaceGeometry:
    """The crop geometry: ``config.face_geometry``, else that of the ``init_from``
    checkpoint (a converted model's alignment is part of it), else the LFW default at the
    model's ``input_size``; the crop must be the size the backbone takes."""
    input_size = config.model_kwargs.get("input_size", default_input_size(config.model))
    stored = config.face_geometry
    if stored is None and config.init_from:
        stored = load_checkpoint(Path(config.init_from)).get("face_geometry")
    if stored is None:
        return FaceGeometry(output_size=input_size)
    geometry = FaceGeometry.from_dict(stored)
    if geometry.output_size != input_size:
        raise InvalidInput(
            f"face_geometry output_size {geometry.output_size} differs from the model's "
            f"input_size {input_size}"
        )
    return geometry


def _warmup_cosine(step: int, warmup: int, total: int) -> float:
    """Learning-rate factor: linear warm-up over ``warmup`` steps, then cosine to 0 at
    ``total``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min((step - warmup) / max(total - warmup, 1), 1.0)
    return 0.5 * (1.0 + math.cos(math.pi * progress))


@contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


__all__ = [
    "DEVICES",
    "LR_DEFAULTS",
    "OPTIMIZERS",
    "OPTIMIZER_DEFAULTS",
    "ProjectionHead",
    "TrainConfig",
    "TrainResult",
    "train",
]
