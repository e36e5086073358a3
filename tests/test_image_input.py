"""Image inputs at run time: every input kind, odd formats, EXIF, the pixel limit, headers."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import cv2
import numpy as np
import pytest

from bioverify.errors import InvalidInput
from bioverify.verify.image_header import image_size
from bioverify.verify.image_input import load_image


def _encode(image_bgr: np.ndarray, ext: str) -> bytes:
    ok, buffer = cv2.imencode(ext, image_bgr)
    assert ok
    return buffer.tobytes()


def _with_exif_orientation(jpeg: bytes, orientation: int) -> bytes:
    """Insert an APP1/EXIF segment holding only an Orientation tag after the JPEG's SOI."""
    tiff = (
        b"MM\x00\x2a"
        + struct.pack(">I", 8)
        + struct.pack(">H", 1)
        + struct.pack(">HHIHH", 0x0112, 3, 1, orientation, 0)
        + struct.pack(">I", 0)
    )
    payload = b"Exif\x00\x00" + tiff
    return jpeg[:2] + b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload + jpeg[2:]


def test_exif_orientation_is_applied() -> None:
    wide = np.zeros((40, 80, 3), np.uint8)
    wide[:, :40] = 255  # left half white
    rotated = load_image(_with_exif_orientation(_encode(wide, ".jpg"), 6))
    # orientation 6: the stored image is shown turned 90° clockwise, so it stands up
    assert rotated.shape == (80, 40, 3)
    assert rotated[2, 20].min() > 200 and rotated[-3, 20].max() < 50


def test_rgba_gray_and_16_bit_files(tmp_path: Path) -> None:
    rgba = np.zeros((6, 7, 4), np.uint8)
    rgba[...] = (10, 20, 30, 0)  # B, G, R, fully transparent
    cv2.imwrite(str(tmp_path / "a.png"), rgba)
    assert load_image(tmp_path / "a.png")[0, 0].tolist() == [30, 20, 10]
    gray = np.arange(42, dtype=np.uint8).reshape(6, 7)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    out = load_image(str(tmp_path / "g.png"))
    assert out.shape == (6, 7, 3) and (out[..., 0] == gray).all() and (out[..., 2] == gray).all()
    deep = np.full((4, 4), 257 * 200, np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), deep)
    assert load_image(tmp_path / "d.png")[0, 0].tolist() == [200, 200, 200]


def test_arrays_of_every_layout() -> None:
    gray = np.full((5, 6), 7, np.uint8)
    assert load_image(gray).shape == (5, 6, 3)
    assert load_image(gray[:, :, None]).shape == (5, 6, 3)
    rgba = np.zeros((5, 6, 4), np.uint8)
    rgba[..., 0] = 9
    out = load_image(rgba)
    assert out.shape == (5, 6, 3) and out[0, 0].tolist() == [9, 0, 0]
    assert load_image(np.full((2, 2, 3), 65535, np.uint16))[0, 0].tolist() == [255, 255, 255]
    with pytest.raises(InvalidInput, match="uint8"):
        load_image(np.zeros((5, 6, 3), np.float32))
    with pytest.raises(InvalidInput, match="shape"):
        load_image(np.zeros((5, 6, 2), np.uint8))


def test_pil_images_with_exif() -> None:
    image_module = pytest.importorskip("PIL.Image")
    pil = image_module.new("RGB", (8, 4), (255, 0, 0))
    assert load_image(pil).shape == (4, 8, 3)
    assert load_image(pil.convert("L")).shape == (4, 8, 3)
    assert load_image(pil.convert("RGBA"))[0, 0].tolist() == [255, 0, 0]
    assert load_image(pil.convert("I;16")).shape == (4, 8, 3)
    exif = image_module.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° clockwise to display
    buffer = io.BytesIO()
    pil.save(buffer, "JPEG", exif=exif)
    reopened = image_module.open(io.BytesIO(buffer.getvalue()))
    assert load_image(reopened).shape == (8, 4, 3)
    assert load_image(buffer.getvalue()).shape == (8, 4, 3)  # the same via OpenCV


def test_bytes_path_and_bad_input(tmp_path: Path) -> None:
    image = np.zeros((9, 11, 3), np.uint8)
    data = _encode(image, ".png")
    assert load_image(data).shape == (9, 11, 3)
    assert load_image(bytearray(data)).shape == (9, 11, 3)
    with pytest.raises(InvalidInput, match="cannot read image file"):
        load_image(tmp_path / "missing.jpg")
    with pytest.raises(InvalidInput, match="not a readable image"):
        load_image(b"not an image at all")
    with pytest.raises(InvalidInput, match="cannot read an image"):
        load_image(3.5)


def test_pixel_limit_is_checked_from_the_header() -> None:
    # A PNG header claiming 100000 x 100000 pixels, with no image data behind it: refused by
    # the header check (a decode attempt would fail differently).
    header = b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR"
    header += struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0) + b"\x00" * 4
    with pytest.raises(InvalidInput, match="more than the limit"):
        load_image(header)
    small = _encode(np.zeros((20, 30, 3), np.uint8), ".png")
    with pytest.raises(InvalidInput, match="600 pixels"):
        load_image(small, max_pixels=500)
    with pytest.raises(InvalidInput, match="more than the limit"):
        load_image(np.zeros((30, 30), np.uint8), max_pixels=500)


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".pgm", ".ppm", ".webp", ".tif"])
def test_header_sizes_match_the_decoder(ext: str) -> None:
    channels = 1 if ext == ".pgm" else 3
    image = np.random.default_rng(0).integers(0, 255, (37, 53, channels), dtype=np.uint8)
    data = _encode(image, ext)
    assert image_size(data) == (53, 37)


def test_header_of_unknown_or_truncated_data_is_none() -> None:
    assert image_size(b"") is None
    assert image_size(b"\x89PNG\r\n\x1a\n") is None
    assert image_size(b"\xff\xd8\xff") is None
    assert image_size(b"hello world") is None
