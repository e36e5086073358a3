"""Face crop geometry and the torch face dataset."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from pytorch_metric_learning.samplers import MPerClassSampler
from torch.utils.data import DataLoader

from bioverify.datasets.inventory import Sample
from bioverify.errors import DataError, InvalidInput
from bioverify.face_geometry import FaceGeometry, crop_aligned
from bioverify.media import read_image
from bioverify.training.batches import Unreadable, collate_skipping_unreadable
from bioverify.training.face_data import FaceDataset

GEOMETRY = FaceGeometry()


def _x_gradient(size: int = 250) -> np.ndarray:
    return np.tile(np.arange(size, dtype=np.uint8), (size, 1))


def test_geometry_dict_roundtrip_through_json() -> None:
    text = json.dumps(GEOMETRY.to_dict())
    assert FaceGeometry.from_dict(json.loads(text)) == GEOMETRY
    assert json.loads(text) == {
        "frame_size": [250, 250],
        "crop_box": [57, 49, 136, 136],
        "output_size": 112,
        "colour": "gray",
        "interpolation": "area",
    }


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"crop_box": [200, 49, 136, 136]}, "must lie inside"),
        ({"colour": "sepia"}, "colour must be one of"),
        ({"output_size": 112.0}, "malformed value"),
        ({"crop_box": [1, 2, 3]}, "malformed value"),
        ({"extra": 1}, "exactly the keys"),
    ],
)
def test_geometry_from_dict_rejects_bad_values(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        FaceGeometry.from_dict(GEOMETRY.to_dict() | change)


def test_crop_takes_the_box_columns_and_rows() -> None:
    out = crop_aligned(_x_gradient(), GEOMETRY)
    assert out.shape == (112, 112, 3) and out.dtype == np.uint8
    # columns 57..192 area-averaged to 112: mean column index (57 + 192) / 2, increasing
    assert abs(out[..., 0].mean() - 124.5) < 0.5
    assert out[0, 0, 0] < 60 and out[0, -1, 0] > 189
    assert np.all(np.diff(out[0, :, 0].astype(int)) >= 0)
    rows = crop_aligned(_x_gradient().T.copy(), GEOMETRY)
    assert abs(rows[..., 0].mean() - (49 + 184) / 2) < 0.5
    # gray mode: three identical channels
    assert np.array_equal(out[..., 0], out[..., 1]) and np.array_equal(out[..., 0], out[..., 2])


def test_crop_scales_box_with_the_image() -> None:
    small = crop_aligned(_x_gradient(), GEOMETRY).astype(int)
    big_image = cv2.resize(_x_gradient(), (500, 500), interpolation=cv2.INTER_NEAREST)
    big = crop_aligned(big_image, GEOMETRY).astype(int)
    assert np.abs(big - small).max() <= 1


def test_gray_and_rgb_colour_modes() -> None:
    rgb = np.zeros((250, 250, 3), np.uint8)
    rgb[...] = (200, 100, 50)
    gray = crop_aligned(rgb, GEOMETRY)
    expected = 0.299 * 200 + 0.587 * 100 + 0.114 * 50
    assert np.all(np.abs(gray.astype(float) - expected) <= 1)
    colour = crop_aligned(rgb, FaceGeometry(colour="rgb"))
    assert colour[50, 50].tolist() == [200, 100, 50]


@pytest.mark.parametrize(
    ("image", "message"),
    [
        (np.zeros((250, 300), np.uint8), "align the face"),
        (np.zeros((250, 250), np.float32), "uint8"),
        (np.zeros((250, 250, 4), np.uint8), r"\[H, W, 3\]"),
    ],
)
def test_crop_rejects_bad_images(image: np.ndarray, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        crop_aligned(image, GEOMETRY)


def _faces(root: Path) -> list[Sample]:
    rng = np.random.default_rng(0)
    samples = []
    for identity in ("ann", "ben", "cy"):
        for k in range(3):
            path = root / identity / f"{k}.jpg"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), rng.integers(0, 256, (250, 250), dtype=np.uint8))
            samples.append(Sample(path, identity, "faces"))
    return samples


LABELS = {"ann": 0, "ben": 1, "cy": 2}


def test_eval_item_is_exactly_the_runtime_crop(tmp_path: Path) -> None:
    samples = _faces(tmp_path)
    dataset = FaceDataset(samples, LABELS, GEOMETRY, train=False)
    assert len(dataset) == 9 and dataset.labels == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    for index in (0, 4, 8):
        image, label = dataset[index]
        assert image.dtype == torch.uint8 and image.shape == (112, 112, 3)
        assert label == dataset.labels[index]
        expected = crop_aligned(read_image(samples[index].path), GEOMETRY)
        assert np.array_equal(image.numpy(), expected)


def test_training_items_are_augmented_and_stay_gray(tmp_path: Path) -> None:
    samples = _faces(tmp_path)
    plain = FaceDataset(samples, LABELS, GEOMETRY, train=False)[0][0]
    dataset = FaceDataset(samples, LABELS, GEOMETRY, train=True)
    torch.manual_seed(0)
    draws = [dataset[0][0] for _ in range(5)]
    torch.manual_seed(0)
    assert torch.equal(dataset[0][0], draws[0])  # reproducible under a seed
    for image in draws:
        assert image.dtype == torch.uint8 and image.shape == (112, 112, 3)
        assert torch.equal(image[..., 0], image[..., 1]) and torch.equal(
            image[..., 0], image[..., 2]
        )
    assert sum(not torch.equal(image, plain) for image in draws) == 5


def test_colour_crops_are_sometimes_gray_blurred_or_compressed() -> None:
    """The augmentation covers what users bring: grayscale photos, blur, JPEG."""
    from bioverify.training.face_data import face_augmentation

    rng = np.random.default_rng(0)
    smooth = cv2.GaussianBlur(rng.integers(0, 256, (112, 112, 3), dtype=np.uint8), (0, 0), 3)
    crop = torch.from_numpy(smooth).permute(2, 0, 1).contiguous()
    augment = face_augmentation()
    torch.manual_seed(0)
    draws = [augment(crop) for _ in range(40)]
    assert all(d.dtype == torch.uint8 and d.shape == crop.shape for d in draws)
    gray = [torch.equal(d[0], d[1]) and torch.equal(d[0], d[2]) for d in draws]
    assert 2 <= sum(gray) <= 20  # p = 0.2
    assert not any(torch.equal(d, crop) for d in draws)


def test_unreadable_image_is_reported_not_raised(tmp_path: Path) -> None:
    samples = _faces(tmp_path)
    samples[1].path.write_bytes(b"corrupt")
    dataset = FaceDataset(samples, LABELS, GEOMETRY, train=False)
    item = dataset[1]
    assert isinstance(item, Unreadable) and item.path == str(samples[1].path)
    loader = DataLoader(dataset, batch_size=3, collate_fn=collate_skipping_unreadable)
    batch = next(iter(loader))
    assert batch.inputs.shape == (2, 112, 112, 3)
    assert batch.labels.tolist() == [0, 0]
    assert [u.path for u in batch.unreadable] == [str(samples[1].path)]


def test_unlabelled_identity_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no label"):
        FaceDataset(_faces(tmp_path), {"ann": 0}, GEOMETRY, train=True)


def test_labels_drive_m_per_class_sampler(tmp_path: Path) -> None:
    dataset = FaceDataset(_faces(tmp_path), LABELS, GEOMETRY, train=True)
    sampler = MPerClassSampler(dataset.labels, m=2, batch_size=6, length_before_new_iter=6)
    indices = list(sampler)
    assert sorted(dataset.labels[i] for i in indices) == [0, 0, 1, 1, 2, 2]
