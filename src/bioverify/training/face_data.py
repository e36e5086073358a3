"""Torch dataset of face crops, with torchvision v2 augmentation for training.

Each item is decoded with :func:`bioverify.media.read_image` and cropped with
:func:`bioverify.face_geometry.crop_aligned` — the same two calls the runtime makes — so an
evaluation item is byte-identical to what the exported model will be fed. Training items
are then augmented on the 112 × 112 crop (CHW uint8): horizontal flip, a small random affine
(±8° rotation, ±4 % translation, 0.95–1.05 scale, black fill) and brightness/contrast jitter
of 0.2. On grayscale (replicated) crops these keep the three channels equal.

A file that cannot be decoded does not stop training: the item is an
:class:`~bioverify.datasets.inventory.Unreadable`, which
:func:`~bioverify.datasets.inventory.collate_skipping_unreadable` drops and reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torchvision.transforms import v2

from bioverify.datasets.inventory import Sample
from bioverify.errors import InvalidInput
from bioverify.face_geometry import FaceGeometry, crop_aligned
from bioverify.media import read_image
from bioverify.training.batches import LabelledDataset, Unreadable


def face_augmentation() -> v2.Compose:
    """The training augmentation, applied to a uint8 CHW tensor."""
    return v2.Compose(
        [
            v2.RandomHorizontalFlip(p=0.5),
            v2.RandomAffine(degrees=8.0, translate=(0.04, 0.04), scale=(0.95, 1.05)),
            v2.ColorJitter(brightness=0.2, contrast=0.2),
        ]
    )


class FaceDataset(LabelledDataset):
    """``(uint8 tensor [S, S, 3] HWC RGB, label)`` per sample, or an :class:`Unreadable`
    (see :class:`~bioverify.training.batches.LabelledDataset`)."""

    def __init__(
        self,
        samples: Sequence[Sample],
        label_map: Mapping[str, int],
        geometry: FaceGeometry,
        train: bool,
    ) -> None:
        super().__init__(samples, label_map)
        self.geometry = geometry
        self.train = train
        self.augment = face_augmentation() if train else None

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int] | Unreadable:
        sample = self.samples[index]
        try:
            crop = crop_aligned(read_image(sample.path), self.geometry)
        except InvalidInput as exc:
            return Unreadable(path=str(sample.path), reason=str(exc))
        image = torch.from_numpy(crop)
        if self.augment is not None:
            image = self.augment(image.permute(2, 0, 1)).permute(1, 2, 0).contiguous()
        return image, self.labels[index]


__all__ = ["FaceDataset", "face_augmentation"]
