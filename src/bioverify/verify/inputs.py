"""Which modality an input is: an image (face) or audio (voice).

Used to pick a default model when none is given. Paths by extension, then by their first
bytes; bytes by their magic numbers; arrays by dimension (1-D audio, 2-D/3-D image); PIL
images are faces and ``(array, rate)`` pairs / :class:`~bioverify.verify.voice_input.Audio`
are voices.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from bioverify.errors import InvalidInput
from bioverify.verify.image_input import describe, is_pil_image
from bioverify.verify.voice_input import Audio

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".pgm", ".ppm", ".pbm", ".webp", ".tif", ".tiff"}
)
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".mp3"})

_IMAGE_MAGIC = (
    b"\xff\xd8",
    b"\x89PNG",
    b"BM",
    b"GIF8",
    b"II*\x00",
    b"MM\x00*",
    b"P1",
    b"P2",
    b"P3",
    b"P4",
    b"P5",
    b"P6",
)
_AUDIO_MAGIC = (b"fLaC", b"OggS", b"ID3", b"\xff\xfb", b"\xff\xf3", b"\xff\xf2")


def sniff(data: bytes) -> str | None:
    """``"face"`` / ``"voice"`` from a file's first bytes, or ``None``."""
    if data[:4] == b"RIFF":
        return {b"WEBP": "face", b"WAVE": "voice"}.get(data[8:12])
    if data.startswith(_AUDIO_MAGIC):
        return "voice"
    if data.startswith(_IMAGE_MAGIC):
        return "face"
    return None


def input_modality(x: Any) -> str:
    """``"face"`` or ``"voice"`` for an input; :class:`InvalidInput` when it cannot tell."""
    if isinstance(x, str | os.PathLike):
        path = Path(x)
        suffix = path.suffix.lower()
        if suffix in IMAGE_EXTENSIONS:
            return "face"
        if suffix in AUDIO_EXTENSIONS:
            return "voice"
        try:
            with path.open("rb") as handle:
                found = sniff(handle.read(16))
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from exc
    elif isinstance(x, bytes | bytearray | memoryview):
        found = sniff(bytes(x[:16]))
    elif isinstance(x, Audio) or (
        isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], np.ndarray)
    ):
        found = "voice"
    elif isinstance(x, np.ndarray):
        found = {1: "voice", 2: "face", 3: "face"}.get(x.ndim)
    else:
        found = "face" if is_pil_image(x) else None
    if found is None:
        raise InvalidInput(
            f"cannot tell whether {describe(x)} is an image or audio; pass the model "
            "explicitly (--model, model=)"
        )
    return found


__all__ = ["AUDIO_EXTENSIONS", "IMAGE_EXTENSIONS", "input_modality", "sniff"]
