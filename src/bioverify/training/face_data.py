"""Torch dataset of face crops, with torchvision v2 augmentation for training.

Each item is decoded with :func:`bioverify.media.read_image` and cropped with
:func:`bioverify.face_geometry.crop_aligned` — the same two calls the runtime makes — so an
evaluation item is byte-identical to what the exported model will be fed. Training items
are then augmented on the crop (CHW uint8) for the conditions users bring: horizontal flip,
a small random affine (±8° rotation, ±4 % translation, 0.95–1.05 scale, black fill),
brightness/contrast jitter of 0.2 and saturation/hue jitter of 0.1/0.02, grayscale (one crop in
five), Gaussian blur (σ 0.5–2.5 px, one in five) and JPEG compression (quality 15–90, one
in three). On grayscale (replicated) crops these keep the three channels equal.

A file that cannot be decoded does not stop training: the item is an
:class:`~bioverify.datasets.inventory.Unreadable`, which
:func:`~bioverify.datasets.inventory.collate_skipping_unreadable` drops and reports.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import cv2
import numpy as np
import torch
from torchvision.transforms import v2

from bioverify.datasets.inventory import Sample
from bioverify.errors import InvalidInput
from bioverify.face_geometry import FaceGeometry, crop_aligned
from bioverify.media import read_image
from bioverify.training.batches import LabelledDataset, Unreadable


class JpegRoundTrip(torch.nn.Module):
    """JPEG compression at a quality drawn uniformly from ``low``…``high`` (torch's
    generator), through OpenCV: torchvision's own ``v2.JPEG`` relies on image codecs it
    deprecated in 0.29. Takes and returns a uint8 CHW tensor (RGB)."""

    def __init__(self, low: int, high: int) -> None:
        super().__init__()
        self.low, self.high = low, high

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        quality = int(torch.randint(self.low, self.high + 1, ()))
        pixels = np.ascontiguousarray(image.permute(1, 2, 0).numpy()[..., ::-1])  # BGR
        _, encoded = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
        decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
        if decoded is None:  # OpenCV could not read back what it wrote: leave the crop be
            return image
        rgb = np.ascontiguousarray(decoded[..., ::-1])
        return torch.from_numpy(rgb).permute(2, 0, 1).contiguous()


def face_augmentation() -> v2.Compose:
    """The training augmentation, applied to a uint8 CHW tensor."""
    return v2.Compose(
        [
            v2.RandomHorizontalFlip(p=0.5),
            v2.RandomAffine(degrees=8.0, translate=(0.04, 0.04), scale=(0.95, 1.05)),
            v2.ColorJitter(brightness=0.2, contrast=0.2, saturation=0.1, hue=0.02),
            v2.RandomGrayscale(p=0.2),
            v2.RandomApply([v2.GaussianBlur(kernel_size=9, sigma=(0.5, 2.5))], p=0.2),
            v2.RandomApply([JpegRoundTrip(15, 90)], p=1 / 3),
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
