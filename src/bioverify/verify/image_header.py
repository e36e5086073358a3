"""Image dimensions from the first bytes of an encoded file, without decoding it.

Used to refuse a too-large image (a "decompression bomb": a few kB of PNG that decode to
gigabytes) before OpenCV allocates it. Reads the headers of PNG, JPEG, BMP, GIF, WebP,
PNM (PBM/PGM/PPM) and TIFF; anything else, or a header too damaged to read, gives ``None``
and the caller checks the size after decoding instead.
"""

from __future__ import annotations

import re
import struct

# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic…): not C4, C8, CC
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_PNM = re.compile(rb"P[1-6](?:\s|#[^\n]*\n)+(\d+)(?:\s|#[^\n]*\n)+(\d+)")


def image_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` read from the header of encoded image bytes, or ``None``."""
    try:
        if data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if data[:2] == b"\xff\xd8":
            return _jpeg_size(data)
        if data[:2] == b"BM":
            width, height = struct.unpack("<ii", data[18:26])
            return abs(width), abs(height)
        if data[:6] in (b"GIF87a", b"GIF89a"):
            width, height = struct.unpack("<HH", data[6:10])
            return width, height
        if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
            return _webp_size(data)
        if data[:4] in (b"II*\x00", b"MM\x00*"):
            return _tiff_size(data)
        match = _PNM.match(data[:1024])
        if match:
            return int(match.group(1)), int(match.group(2))
    except (struct.error, IndexError, ValueError):
        return None
    return None


#: the largest PNG chunk length the format allows (2**31 - 1)
PNG_MAX_CHUNK = 0x7FFFFFFF


def png_chunk_problem(data: bytes) -> str | None:
    """What is wrong with the chunk layout of PNG bytes, or ``None`` (also for non-PNG data).

    Every chunk length must be at most :data:`PNG_MAX_CHUNK` and every chunk must end within
    the data. OpenCV's PNG reader allocates a chunk's claimed length before reading it, so
    a 6 kB PNG whose IDAT claims 2 GB took that much memory (and up to 13 s) before its
    error; checking the lengths first refuses it without allocating anything.
    """
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    pos = 8
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8].decode("latin-1")
        if length > PNG_MAX_CHUNK:
            return f"its {kind!r} chunk claims {length:,} bytes, more than PNG allows"
        if pos + 12 + length > len(data):
            return (
                f"its {kind!r} chunk claims {length:,} bytes but the file ends "
                f"{len(data) - pos - 8:,} bytes later (truncated or damaged)"
            )
        if kind == "IEND":
            return None
        pos += 12 + length
    return "it has no IEND chunk (truncated or damaged)"


def _jpeg_size(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        if marker in _JPEG_SOF:
            height, width = struct.unpack(">HH", data[pos + 5 : pos + 9])
            return width, height
        pos += 2 + length
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        (bits,) = struct.unpack("<I", data[21:25])
        return 1 + (bits & 0x3FFF), 1 + ((bits >> 14) & 0x3FFF)
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    order = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack(order + "I", data[4:8])
    (count,) = struct.unpack(order + "H", data[offset : offset + 2])
    found: dict[int, int] = {}
    for k in range(count):
        entry = data[offset + 2 + 12 * k : offset + 14 + 12 * k]
        tag, kind = struct.unpack(order + "HH", entry[:4])
        if tag in (256, 257):  # ImageWidth, ImageLength: SHORT (3) or LONG (4)
            fmt = order + ("H" if kind == 3 else "I")
            found[tag] = struct.unpack(fmt, entry[8 : 8 + struct.calcsize(fmt)])[0]
    if 256 in found and 257 in found:
        return found[256], found[257]
    return None


__all__ = ["PNG_MAX_CHUNK", "image_size", "png_chunk_problem"]
