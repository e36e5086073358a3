"""Decoding images and audio into the arrays every other module works with (no torch).

Images become ``uint8 [H, W, 3]`` RGB and audio becomes ``float32 [T]`` mono in [-1, 1] at a
requested sample rate. Training and the runtime both decode through these functions, so a
file turns into the same array in both. Anything that cannot be decoded raises
:class:`~bioverify.errors.InvalidInput` naming the file.
"""

from __future__ import annotations

import io
from math import gcd
from pathlib import Path

import cv2
import numpy as np
import soundfile

from bioverify.errors import InvalidInput


def decode_image(data: bytes, source: str = "image") -> np.ndarray:
    """Decode encoded image bytes (JPEG, PNG, BMP, PGM/PPM, WebP, TIFF) to ``uint8 [H, W, 3]`` RGB.

    OpenCV does the conversions: grayscale is replicated to three equal channels, 16-bit
    samples are scaled to 8 bits, an alpha channel is dropped (not composited), and an EXIF
    orientation tag is applied. ``source`` names the data in error messages.
    """
    if not data:
        raise InvalidInput(f"{source}: empty image data; pass a non-empty image file")
    try:
        image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR_RGB)
    except cv2.error as exc:
        raise InvalidInput(f"{source}: cannot decode image ({exc.msg})") from exc
    if image is None:
        raise InvalidInput(
            f"{source}: not a readable image; expected JPEG, PNG, BMP, PGM/PPM, WebP or TIFF"
        )
    return np.ascontiguousarray(image)


def read_image(path: Path | str) -> np.ndarray:
    """Read an image file to ``uint8 [H, W, 3]`` RGB (see :func:`decode_image`)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot read image file ({exc.strerror})") from exc
    return decode_image(data, source=str(path))


def resample(waveform: np.ndarray, orig_rate: int, target_rate: int) -> np.ndarray:
    """Resample a 1-D waveform with a polyphase filter (:func:`scipy.signal.resample_poly`).

    The output has ``ceil(len(waveform) * target_rate / orig_rate)`` samples and dtype
    float32; equal rates return the input unchanged (as float32).
    """
    if orig_rate <= 0 or target_rate <= 0:
        raise InvalidInput(f"sample rates must be positive, got {orig_rate} Hz → {target_rate} Hz")
    waveform = np.asarray(waveform, dtype=np.float32)
    if orig_rate == target_rate:
        return waveform
    # imported on first use: scipy.signal pulls in scipy.stats, which is slow to import and
    # fails when torch is blocked as sys.modules["torch"] = None (scipy probes that entry)
    from scipy.signal import resample_poly

    common = gcd(orig_rate, target_rate)
    resampled = resample_poly(waveform, target_rate // common, orig_rate // common)
    return resampled.astype(np.float32, copy=False)


def read_audio(
    path: Path | str, sample_rate: int = 16000, max_seconds: float | None = None
) -> np.ndarray:
    """Read an audio file (WAV, FLAC, OGG, MP3 — whatever libsndfile decodes) to mono float32.

    Channels are averaged, samples are in [-1, 1], and the signal is resampled to
    ``sample_rate`` with :func:`resample`. A file without samples is invalid input. With
    ``max_seconds``, a recording longer than that is refused while decoding: at most that
    much audio is ever held in memory, whatever the file's header claims.
    """
    path = Path(path)
    return _decode_audio(path, sample_rate, str(path), max_seconds)


def decode_audio(
    data: bytes, sample_rate: int = 16000, source: str = "audio", max_seconds: float | None = None
) -> np.ndarray:
    """:func:`read_audio` for encoded audio bytes (a WAV, FLAC, OGG or MP3 file's contents)."""
    if not data:
        raise InvalidInput(f"{source}: empty audio data; pass a non-empty audio file")
    return _decode_audio(io.BytesIO(data), sample_rate, source, max_seconds)


def _decode_audio(
    file: Path | io.BytesIO, sample_rate: int, source: str, max_seconds: float | None
) -> np.ndarray:
    try:
        with soundfile.SoundFile(file) as sound:
            rate = int(sound.samplerate)
            limit = -1 if max_seconds is None else int(max_seconds * rate) + 1
            # decoded in blocks and downmixed block by block: memory is the mono signal only
            parts = [
                block.mean(axis=1, dtype=np.float32) if block.shape[1] > 1 else block[:, 0]
                for block in sound.blocks(
                    blocksize=max(rate, 1) * 10, frames=limit, dtype="float32", always_2d=True
                )
            ]
    except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
        raise InvalidInput(
            f"{source}: not a readable audio file ({exc}); expected WAV, FLAC, OGG or MP3"
        ) from exc
    mono = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    if mono.size == 0:
        raise InvalidInput(f"{source}: the audio file holds no samples")
    if max_seconds is not None and mono.size >= limit:
        raise InvalidInput(
            f"{source}: the recording lasts more than the limit of {max_seconds:g} s; cut it first"
        )
    return resample(mono, rate, sample_rate)


__all__ = ["decode_audio", "decode_image", "read_audio", "read_image", "resample"]
