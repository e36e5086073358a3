"""Any image input → ``uint8 [H, W, 3]`` RGB: a path, encoded bytes, a numpy array or a PIL
image.

Files and bytes are decoded by :func:`bioverify.media.decode_image` (the decoder training
used): EXIF orientation applied, grayscale replicated, 16-bit scaled to 8 bits, alpha dropped.
Before decoding, the image size is read from the file header and an image of more than
``max_pixels`` pixels (default :data:`MAX_PIXELS`, 50 megapixels) is refused (a small file can
decode to gigabytes); data without a readable size in its header is refused undecoded.

Arrays: ``uint8`` (or ``uint16``, scaled to 8 bits) ``[H, W]`` grayscale, ``[H, W, 1]``,
``[H, W, 3]`` RGB or ``[H, W, 4]`` RGBA (alpha dropped). PIL images have their EXIF
orientation applied (as files do) and are converted to RGB.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from bioverify.errors import InvalidInput
from bioverify.media import decode_image
from bioverify.verify.image_header import image_size, png_chunk_problem

#: default largest accepted image, in pixels (50 megapixels)
MAX_PIXELS = 50_000_000


def describe(x: Any) -> str:
    """A short name of an input for messages and results: the path, or its kind."""
    if isinstance(x, str | os.PathLike):
        return str(x)
    if isinstance(x, bytes | bytearray | memoryview):
        return f"<{len(x)} bytes>"
    if isinstance(x, np.ndarray):
        return f"<array {'x'.join(map(str, x.shape))} {x.dtype}>"
    if is_pil_image(x):
        return f"<PIL image {x.size[0]}x{x.size[1]} {x.mode}>"
    if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], np.ndarray):
        return f"<audio array {x[0].size} samples at {x[1]} Hz>"
    return f"<{type(x).__name__}>"


def is_pil_image(x: Any) -> bool:
    """Whether ``x`` is a PIL image (checked without importing PIL)."""
    return type(x).__module__.startswith("PIL.") and hasattr(x, "convert") and hasattr(x, "size")


def _check_pixels(width: int, height: int, max_pixels: int, source: str) -> None:
    if width <= 0 or height <= 0:
        raise InvalidInput(f"{source}: the image is empty ({width}x{height})")
    if width * height > max_pixels:
        raise InvalidInput(
            f"{source}: the image is {width}x{height} = {width * height:,} pixels, more than "
            f"the limit of {max_pixels:,}; downscale it first"
        )


def decode_bytes(data: bytes, source: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Decode encoded image bytes after checking the header's size against ``max_pixels``.

    Data whose size cannot be read from its header (an unknown format, or a damaged header)
    is refused undecoded, so the pixel limit holds before any decoder allocates memory; so
    is a PNG whose chunk lengths are impossible (see
    :func:`~bioverify.verify.image_header.png_chunk_problem`).
    """
    if not data:
        raise InvalidInput(f"{source}: empty image data; pass a non-empty image file")
    size = image_size(data)
    if size is None:
        raise InvalidInput(
            f"{source}: not a readable image (no image size in its header); expected JPEG, "
            "PNG, BMP, GIF, PGM/PPM, WebP or TIFF"
        )
    _check_pixels(*size, max_pixels, source)
    problem = png_chunk_problem(data)
    if problem is not None:
        raise InvalidInput(f"{source}: not a readable image (PNG: {problem})")
    image = decode_image(data, source=source)
    _check_pixels(image.shape[1], image.shape[0], max_pixels, source)
    return image


def from_array(array: np.ndarray, source: str = "image array") -> np.ndarray:
    """A numpy image → ``uint8 [H, W, 3]`` RGB (channels are taken to be RGB / RGBA)."""
    if array.dtype == np.uint16:
        array = (array >> 8).astype(np.uint8)
    if array.dtype != np.uint8:
        raise InvalidInput(
            f"{source}: an image array must be uint8 (or uint16), got {array.dtype}; "
            "convert it with (x * 255).astype(np.uint8) if it holds floats in [0, 1]"
        )
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = array[:, :, :3]
    elif array.ndim != 3 or array.shape[2] != 3:
        raise InvalidInput(
            f"{source}: an image array must be [H, W], [H, W, 1], [H, W, 3] RGB or "
            f"[H, W, 4] RGBA, got shape {tuple(array.shape)}"
        )
    return np.ascontiguousarray(array)


def from_pil(image: Any, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """A PIL image → ``uint8 [H, W, 3]`` RGB, EXIF orientation applied."""
    from PIL import ImageOps

    source = describe(image)
    _check_pixels(image.size[0], image.size[1], max_pixels, source)
    image = ImageOps.exif_transpose(image)
    if image.mode.startswith("I;16") or image.mode == "I":
        array = np.asarray(image)
        if array.min(initial=0) < 0 or array.max(initial=0) > 65535:
            raise InvalidInput(f"{source}: integer pixels outside 0..65535")
        return from_array(array.astype(np.uint16), source)
    if image.mode == "F":
        raise InvalidInput(f"{source}: floating-point PIL images are not supported; use 8 bits")
    return from_array(np.asarray(image.convert("RGB")), source)


def load_image(x: Any, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Any supported image input → ``uint8 [H, W, 3]`` RGB (see the module docstring)."""
    if isinstance(x, str | os.PathLike):
        path = Path(x)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read image file ({exc.strerror})") from exc
        return decode_bytes(data, str(path), max_pixels)
    if isinstance(x, bytes | bytearray | memoryview):
        return decode_bytes(bytes(x), describe(x), max_pixels)
    if isinstance(x, np.ndarray):
        source = describe(x)
        if x.ndim >= 2:
            _check_pixels(x.shape[1], x.shape[0], max_pixels, source)
        return from_array(x, source)
    if is_pil_image(x):
        return from_pil(x, max_pixels)
    raise InvalidInput(
        f"cannot read an image from {describe(x)}; pass a file path, encoded bytes, a uint8 "
        "numpy array or a PIL image"
    )


__all__ = ["MAX_PIXELS", "decode_bytes", "describe", "from_array", "from_pil", "load_image"]
