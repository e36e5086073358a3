"""What the trainer's torch datasets share: identity labels for samples, the base class of
the face and voice datasets, and a ``collate_fn`` that drops the files a dataset could not
decode (:class:`Unreadable`) instead of stopping training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

import torch
from torch.utils.data import Dataset

from bioverify.datasets.inventory import Sample
from bioverify.errors import DataError, InvalidInput


@dataclass(frozen=True)
class Unreadable:
    """What a torch dataset returns for a file it could not decode (instead of raising)."""

    path: str
    reason: str


class Batch(NamedTuple):
    """A collated batch: stacked inputs, int64 labels, and the items that were dropped."""

    inputs: torch.Tensor
    labels: torch.Tensor
    unreadable: list[Unreadable]


def sample_labels(samples: Sequence[Sample], label_map: Mapping[str, int]) -> list[int]:
    """The label of each sample's identity, in order; :class:`DataError` when ``label_map``
    lacks some of the samples' identities."""
    unlabelled = sorted({s.identity for s in samples} - set(label_map))
    if unlabelled:
        raise DataError(
            f"{len(unlabelled)} identities have no label (e.g. {unlabelled[:5]}); build "
            "the label map from the same identities as the samples"
        )
    return [label_map[s.identity] for s in samples]


class LabelledDataset(Dataset[tuple[torch.Tensor, int] | Unreadable]):
    """``(tensor, label)`` per sample, or an :class:`Unreadable` for a file that failed to
    decode; subclasses say what the tensor is (``__getitem__``).

    ``label_map`` must give a label for every sample's identity; :attr:`labels` lists the
    label of each item, in order, for samplers such as
    :class:`pytorch_metric_learning.samplers.MPerClassSampler`.
    """

    def __init__(self, samples: Sequence[Sample], label_map: Mapping[str, int]) -> None:
        self.samples = list(samples)
        self.labels: list[int] = sample_labels(self.samples, label_map)

    def __len__(self) -> int:
        return len(self.samples)


def collate_skipping_unreadable(items: Sequence[tuple[torch.Tensor, int] | Unreadable]) -> Batch:
    """``collate_fn`` for the face and voice datasets: drop :class:`Unreadable` items.

    The remaining inputs are stacked (they must share a shape: for whole-utterance voice
    evaluation use ``batch_size=1``). When every item was unreadable, ``inputs`` and
    ``labels`` are empty tensors; the trainer logs ``unreadable`` and moves on.
    """
    unreadable = [item for item in items if isinstance(item, Unreadable)]
    good = [item for item in items if not isinstance(item, Unreadable)]
    if not good:
        return Batch(torch.empty(0), torch.empty(0, dtype=torch.int64), unreadable)
    shapes = {tuple(tensor.shape) for tensor, _ in good}
    if len(shapes) > 1:
        raise InvalidInput(
            f"cannot batch inputs of different shapes {sorted(shapes)}; use fixed-length "
            "chunks or batch_size=1"
        )
    inputs = torch.stack([tensor for tensor, _ in good])
    labels = torch.tensor([label for _, label in good], dtype=torch.int64)
    return Batch(inputs, labels, unreadable)


__all__ = [
    "Batch",
    "LabelledDataset",
    "Unreadable",
    "collate_skipping_unreadable",
    "sample_labels",
]
