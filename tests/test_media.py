"""Decoding images and audio: channel order, bit depth, channels, resampling, bad files."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile

from bioverify.errors import InvalidInput
from bioverify.media import decode_image, read_audio, read_image, resample


def test_colour_image_is_rgb(tmp_path: Path) -> None:
    bgr = np.zeros((4, 5, 3), np.uint8)
    bgr[..., 0], bgr[..., 1], bgr[..., 2] = 10, 20, 30  # OpenCV writes B, G, R
    cv2.imwrite(str(tmp_path / "c.png"), bgr)
    image = read_image(tmp_path / "c.png")
    assert image.shape == (4, 5, 3) and image.dtype == np.uint8
    assert image[0, 0].tolist() == [30, 20, 10]


def test_grayscale_is_replicated(tmp_path: Path) -> None:
    gray = np.arange(30, dtype=np.uint8).reshape(5, 6) * 8
    cv2.imwrite(str(tmp_path / "g.pgm"), gray)
    image = read_image(tmp_path / "g.pgm")
    assert image.shape == (5, 6, 3)
    for channel in range(3):
        np.testing.assert_array_equal(image[..., channel], gray)


def test_sixteen_bit_is_scaled_to_eight(tmp_path: Path) -> None:
    deep = np.array([[0, 257 * 100, 65535]], np.uint16)
    cv2.imwrite(str(tmp_path / "d.png"), deep)
    image = read_image(tmp_path / "d.png")
    assert image.dtype == np.uint8
    assert image[0, :, 0].tolist() == [0, 100, 255]


def test_alpha_is_dropped(tmp_path: Path) -> None:
    bgra = np.zeros((3, 3, 4), np.uint8)
    bgra[...] = (10, 20, 30, 0)
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    image = read_image(tmp_path / "a.png")
    assert image.shape == (3, 3, 3)
    assert image[1, 1].tolist() == [30, 20, 10]


def test_decode_image_matches_read_image(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    cv2.imwrite(str(tmp_path / "r.jpg"), rng.integers(0, 256, (20, 20, 3), dtype=np.uint8))
    data = (tmp_path / "r.jpg").read_bytes()
    np.testing.assert_array_equal(decode_image(data), read_image(tmp_path / "r.jpg"))


@pytest.mark.parametrize("content", [b"", b"not an image at all"])
def test_bad_image_raises_invalid_input(tmp_path: Path, content: bytes) -> None:
    (tmp_path / "bad.jpg").write_bytes(content)
    with pytest.raises(InvalidInput, match=r"bad\.jpg"):
        read_image(tmp_path / "bad.jpg")


def test_missing_image_raises_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match=r"missing\.png"):
        read_image(tmp_path / "missing.png")


def _sine(rate: int, seconds: float, frequency: float = 440.0) -> np.ndarray:
    t = np.arange(round(rate * seconds)) / rate
    return (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.mark.parametrize("rate", [8000, 44100, 16000])
def test_audio_resampled_to_target_rate(tmp_path: Path, rate: int) -> None:
    soundfile.write(tmp_path / "s.wav", _sine(rate, 1.0), rate, subtype="FLOAT")
    audio = read_audio(tmp_path / "s.wav", 16000)
    assert audio.dtype == np.float32
    assert audio.shape == (16000,)
    # away from the edges (filter transients) the signal is the same sine sampled at 16 kHz
    expected = _sine(16000, 1.0)
    np.testing.assert_allclose(audio[1000:-1000], expected[1000:-1000], atol=5e-3)


def test_length_after_resampling_is_ceiled() -> None:
    assert resample(np.zeros(1001, np.float32), 44100, 16000).shape == (364,)  # ceil(363.17)


def test_stereo_is_averaged_and_int16_scaled(tmp_path: Path) -> None:
    left = np.full(100, 16384, np.int16)
    right = np.full(100, -8192, np.int16)
    soundfile.write(tmp_path / "st.flac", np.stack([left, right], axis=1), 16000)
    audio = read_audio(tmp_path / "st.flac", 16000)
    np.testing.assert_array_equal(audio, np.full(100, (0.5 - 0.25) / 2, np.float32))


def test_unreadable_and_empty_audio_raise(tmp_path: Path) -> None:
    (tmp_path / "junk.wav").write_bytes(b"RIFF....not audio")
    with pytest.raises(InvalidInput, match=r"junk\.wav"):
        read_audio(tmp_path / "junk.wav")
    soundfile.write(tmp_path / "empty.wav", np.zeros(0, np.float32), 16000)
    with pytest.raises(InvalidInput, match="no samples"):
        read_audio(tmp_path / "empty.wav")


def test_resample_rejects_bad_rates() -> None:
    with pytest.raises(InvalidInput, match="positive"):
        resample(np.zeros(10, np.float32), 0, 16000)
