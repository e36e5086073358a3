"""A run's data: the datasets scanned, the split loaded and checked, the train and val
datasets built, and the loaders that read them.

Faces are cropped with the run's :class:`FaceGeometry`; voices are decoded once, before the
first epoch, and shared with the loader workers (train: random ``chunk_seconds`` chunks at
16 kHz; val: whole recordings up to ``val_max_seconds``, one at a time). A voice model with
runtime facts (:func:`voice_runtime`: partial windows, level raised to ``target_dbfs``) is
trained on random windows and validated on the windows of whole recordings, as it is
served (:mod:`~bioverify.training.voice_data`). Test identities are never read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch.utils.data import DataLoader, Dataset

from bioverify.bundle import VOICE_RUNTIME_KEYS, file_sha256
from bioverify.datasets.inventory import scan_datasets
from bioverify.datasets.splits import Split, load_split
from bioverify.errors import DataError, InvalidInput
from bioverify.face_geometry import FaceGeometry
from bioverify.training.batches import Unreadable, collate_skipping_unreadable
from bioverify.training.checkpoint import load_checkpoint
from bioverify.training.models import default_input_size
from bioverify.verify.voice_input import PartialWindows

if TYPE_CHECKING:
    from bioverify.training.config import TrainConfig

SAMPLE_RATE = 16000


@dataclass
class RunData:
    """The split and the datasets a run trains and validates on.

    Attributes
    ----------
    split : Split
        The loaded split; ``split_sha256`` is its file's hash (a resume must use the same).
    label_map : dict of str to int
        Class index of each train identity.
    val_identities : list of str
        The val identities, sorted; a val sample's label indexes this list.
    geometry : FaceGeometry or None
        The face crop, None for voices.
    train_set, val_set : Dataset
        The train samples (augmented) and the val samples (evaluation crop or whole
        recordings).
    val_batch_size : int
        The batch size of validation (1 for voices: recordings differ in length).
    train_labels : list of int
        The label of each train sample, in dataset order.
    voice_runtime : dict
        The voice model's runtime facts (:func:`voice_runtime`; empty for faces and for
        voice models without any), which the checkpoints repeat for the export.
    inherited : dict
        What the checkpoints repeat of the ``init_from`` weights' origin
        (:func:`inherited_origin`; empty without ``init_from``).
    """

    split: Split
    split_sha256: str
    label_map: dict[str, int]
    val_identities: list[str]
    geometry: FaceGeometry | None
    train_set: Dataset[Any]
    val_set: Dataset[Any]
    val_batch_size: int
    train_labels: list[int]
    voice_runtime: dict[str, Any]
    inherited: dict[str, Any] = field(default_factory=dict)

    @property
    def train_identities(self) -> list[str]:
        """The train identities in class-index order."""
        return sorted(self.label_map, key=self.label_map.__getitem__)


def load_run_data(
    config: TrainConfig,
    main: bool,
    progress: bool,
    note_unreadable: Callable[[Unreadable], None],
) -> RunData:
    """Scan ``config.data``, load ``config.split`` against it and build the datasets.

    Parameters
    ----------
    config : TrainConfig
        The run's settings.
    main : bool
        Whether this is rank 0, the only one that checks the files' content (when
        ``config.check_content``).
    progress : bool
        Whether to show progress bars.
    note_unreadable : callable
        Called with each voice recording that fails to decode.

    Raises
    ------
    DataError
        The split does not fit the data, has fewer than 2 train identities, or fewer than 2
        val identities with one of them holding 2 samples.
    """
    inventory = scan_datasets(
        config.data, config.modality, prefix_identities=config.prefix_identities, progress=progress
    )
    split_path = Path(config.split)
    split = load_split(
        split_path, inventory, check_content=config.check_content and main, progress=progress
    )
    split_sha256 = file_sha256(split_path)
    label_map = split.label_map()
    train_samples = split.samples(inventory, "train")
    val_samples = split.samples(inventory, "val")
    val_counts = Counter(sample.identity for sample in val_samples)
    if len(val_counts) < 2 or max(val_counts.values(), default=0) < 2:
        raise DataError(
            f"{split_path}: validation needs at least 2 val identities, one with 2 samples; "
            f"the split has {len(val_counts)} val identities — remake it with a larger "
            "--val-fraction"
        )
    if len(label_map) < 2:
        raise DataError(f"{split_path}: training needs at least 2 train identities")
    val_identities = sorted(val_counts)
    val_map = {identity: i for i, identity in enumerate(val_identities)}
    init = init_checkpoint(config)
    geometry: FaceGeometry | None = None
    runtime: dict[str, Any] = {}
    train_set: Dataset[Any]
    val_set: Dataset[Any]
    if config.modality == "face":
        from bioverify.training.face_data import FaceDataset

        geometry = face_geometry(config, init)
        train_set = FaceDataset(train_samples, label_map, geometry, train=True)
        val_set = FaceDataset(val_samples, val_map, geometry, train=False)
        val_batch_size = config.batch_size
    else:
        from bioverify.training.voice_data import VoiceDataset

        runtime = voice_runtime(init)
        partials = PartialWindows.from_dict(runtime["partials"]) if "partials" in runtime else None
        target_dbfs = runtime.get("target_dbfs")
        train_voices = VoiceDataset(
            train_samples,
            label_map,
            sample_rate=SAMPLE_RATE,
            chunk_seconds=config.chunk_seconds,
            train=True,
            trim=config.trim,
            partials=partials,
            target_dbfs=target_dbfs,
        )
        val_voices = VoiceDataset(
            val_samples,
            val_map,
            sample_rate=SAMPLE_RATE,
            train=False,
            eval_mode="full",
            max_eval_seconds=config.val_max_seconds,
            trim=config.trim,
            partials=partials,
            target_dbfs=target_dbfs,
        )
        # decoded once here, shared with the loader workers instead of decoded per epoch
        for dataset in (train_voices, val_voices):
            for item in dataset.preload(progress=progress):
                note_unreadable(item)
        train_set, val_set = train_voices, val_voices
        val_batch_size = 1
    return RunData(
        split=split,
        split_sha256=split_sha256,
        label_map=label_map,
        val_identities=val_identities,
        geometry=geometry,
        train_set=train_set,
        val_set=val_set,
        val_batch_size=val_batch_size,
        train_labels=list(train_set.labels),
        voice_runtime=runtime,
        inherited=inherited_origin(config, init),
    )


def init_checkpoint(config: TrainConfig) -> dict[str, Any]:
    """The ``init_from`` checkpoint, read once for :func:`face_geometry`,
    :func:`voice_runtime` and :func:`inherited_origin`; empty without ``init_from``."""
    return load_checkpoint(Path(config.init_from)) if config.init_from else {}


def face_geometry(config: TrainConfig, init: Mapping[str, Any]) -> FaceGeometry:
    """The crop geometry: ``config.face_geometry``, else that of the ``init_from``
    checkpoint ``init`` (a converted model's alignment is part of it), else the LFW default
    at the model's ``input_size``; the crop must be the size the backbone takes."""
    input_size = config.model_kwargs.get("input_size", default_input_size(config.model))
    stored = config.face_geometry
    if stored is None:
        stored = init.get("face_geometry")
    if stored is None:
        return FaceGeometry(output_size=input_size)
    geometry = FaceGeometry.from_dict(stored)
    if geometry.output_size != input_size:
        raise InvalidInput(
            f"face_geometry output_size {geometry.output_size} differs from the model's "
            f"input_size {input_size}"
        )
    return geometry


def voice_runtime(init: Mapping[str, Any]) -> dict[str, Any]:
    """The runtime facts of the voice model a run trains: the
    :data:`~bioverify.bundle.VOICE_RUNTIME_KEYS` (``partials``, ``target_dbfs``) of the
    ``init_from`` checkpoint ``init``'s ``voice`` section, as the export would write them
    into a bundle; empty without ``init_from`` or when that checkpoint has none (models
    trained from scratch, such as the ECAPA-TDNN recipes). The run trains and validates the
    way they serve the model and its checkpoints carry them on."""
    voice = init.get("voice") or {}
    return {key: voice[key] for key in VOICE_RUNTIME_KEYS if key in voice}


#: checkpoint keys that say where converted weights came from (source file, sha256, licence):
#: ``provenance`` (the voice converter), ``source`` (the face converter)
ORIGIN_KEYS = ("provenance", "source")


def inherited_origin(config: TrainConfig, init: Mapping[str, Any]) -> dict[str, Any]:
    """The origin a run's checkpoints repeat when it starts from other weights: the
    ``init_from`` checkpoint ``init``'s :data:`ORIGIN_KEYS` (a fine-tune of converted
    weights keeps their source file, sha256 and licence, which the export writes into the
    bundle) and ``fine_tuned_from``, that checkpoint's file name and sha256 (or its own
    ``fine_tuned_from`` when it is itself a fine-tune)."""
    if not config.init_from:
        return {}
    path = Path(config.init_from)
    origin = {key: init[key] for key in ORIGIN_KEYS if init.get(key)}
    origin["fine_tuned_from"] = init.get("fine_tuned_from") or {
        "checkpoint": path.name,
        "sha256": file_sha256(path),
    }
    return origin


def make_loader(
    dataset: Dataset[Any],
    batches: list[list[int]],
    seed: int,
    num_workers: int,
    device: torch.device,
) -> DataLoader[Any]:
    """A loader of ``batches`` (lists of indices) of ``dataset``, skipping unreadable files.

    Parameters
    ----------
    dataset : Dataset
        What to read.
    batches : list of list of int
        The batches, in order.
    seed : int
        Seeds the loader's own generator, from which it draws its worker seeds (not from the
        global one, so that a resumed run reads the same augmentations).
    num_workers : int
        Loader processes (0: read in this one).
    device : torch.device
        Batches are pinned for CUDA.
    """
    return DataLoader(
        dataset,
        batch_sampler=batches,
        num_workers=num_workers,
        collate_fn=collate_skipping_unreadable,
        pin_memory=device.type == "cuda",
        generator=torch.Generator().manual_seed(seed),
    )


__all__ = [
    "SAMPLE_RATE",
    "RunData",
    "face_geometry",
    "init_checkpoint",
    "load_run_data",
    "make_loader",
    "voice_runtime",
]
