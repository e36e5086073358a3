"""Structure-aware mutators: each knows the layout of one container format (PNG chunks,
JPEG marker segments, TIFF IFD entries, RIFF chunks, PNM/BMP headers, JSON values, CSV
fields, SQLite header fields) and breaks one field of it; :func:`mutate` applies one to
three of them (or byte-level mutations) to a seed, deterministically for a given RNG."""

from __future__ import annotations

import json
import random
import re
import struct
import zlib
from collections.abc import Callable

#: values that tend to reach edge cases in size and count fields
INTERESTING_U32 = (
    0,
    1,
    2,
    0x7F,
    0xFF,
    0x100,
    0xFFFF,
    0x10000,
    0x7FFFFFFF,
    0x80000000,
    0xFFFFFFFF,
    0x0FFFFFFF,
    7000,
    65535,
    100_000,
    50_000_000,
)
INTERESTING_U16 = (0, 1, 2, 3, 4, 8, 16, 0x7F, 0xFF, 0x100, 0x7FFF, 0x8000, 0xFFFF, 7000)

Mutator = Callable[[bytes, random.Random], bytes]


def _u32(rng: random.Random) -> int:
    return rng.choice(INTERESTING_U32) if rng.random() < 0.8 else rng.getrandbits(32)


def _u16(rng: random.Random) -> int:
    return rng.choice(INTERESTING_U16) if rng.random() < 0.8 else rng.getrandbits(16)


# ------------------------------------------------------------------------ byte level
def flip_bits(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if out:
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    return bytes(out)


def overwrite_bytes(data: bytes, rng: random.Random) -> bytes:
    out = bytearray(data)
    # the first bytes hold most header fields: aim there half of the time
    span = min(len(out), 128) if rng.random() < 0.5 else len(out)
    for _ in range(rng.randint(1, 4)):
        if span:
            out[rng.randrange(span)] = rng.choice((0, 0xFF, 0x7F, 0x80, rng.getrandbits(8)))
    return bytes(out)


def set_int(data: bytes, rng: random.Random) -> bytes:
    if len(data) < 4:
        return data
    pos = rng.randrange(len(data) - 3)
    fmt = rng.choice((">I", "<I", ">H", "<H"))
    value = _u32(rng) if fmt.endswith("I") else _u16(rng)
    return data[:pos] + struct.pack(fmt, value) + data[pos + struct.calcsize(fmt) :]


def truncate(data: bytes, rng: random.Random) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def cut_slice(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data) + 1)
    return data[:start] + data[start + rng.randint(1, 256) :]


def duplicate_slice(data: bytes, rng: random.Random) -> bytes:
    start = rng.randrange(len(data) + 1)
    piece = data[start : start + rng.randint(1, 512)]
    at = rng.randrange(len(data) + 1)
    return data[:at] + piece * rng.randint(1, 4) + data[at:]


def insert_random(data: bytes, rng: random.Random) -> bytes:
    at = rng.randrange(len(data) + 1)
    return data[:at] + rng.randbytes(rng.randint(1, 64)) + data[at:]


BYTE_MUTATORS: tuple[Mutator, ...] = (
    flip_bits,
    overwrite_bytes,
    set_int,
    truncate,
    cut_slice,
    duplicate_slice,
    insert_random,
)


# ------------------------------------------------------------------------------- PNG
def _png_chunks(data: bytes) -> list[tuple[int, int, bytes]]:
    """``(offset, length, type)`` of each chunk after the signature."""
    pos, out = 8, []
    while pos + 8 <= len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        out.append((pos, length, data[pos + 4 : pos + 8]))
        pos += 12 + length
    return out


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """A PNG chunk with its CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png_fix_crc(data: bytearray, offset: int, length: int) -> None:
    end = offset + 8 + length
    if end + 4 <= len(data):
        data[end : end + 4] = struct.pack(">I", zlib.crc32(bytes(data[offset + 4 : end])))


def png_mutator(data: bytes, rng: random.Random) -> bytes:
    chunks = _png_chunks(data)
    if not chunks:
        return overwrite_bytes(data, rng)
    out = bytearray(data)
    action = rng.choice(("length", "ihdr", "ihdr", "insert", "drop", "dup"))
    offset, length, _kind = rng.choice(chunks)
    if action == "length":
        out[offset : offset + 4] = struct.pack(">I", _u32(rng))
    elif action == "ihdr" and chunks[0][2] == b"IHDR":
        field = rng.choice(("width", "height", "depth", "colour", "interlace", "filter"))
        at = {"width": 16, "height": 20, "depth": 24, "colour": 25, "filter": 27, "interlace": 28}[
            field
        ]
        if field in ("width", "height"):
            out[at : at + 4] = struct.pack(">I", _u32(rng))
        else:
            out[at] = rng.choice((0, 1, 2, 3, 4, 6, 8, 16, 255))
        if rng.random() < 0.8:
            _png_fix_crc(out, 8, 13)
    elif action == "insert":
        ihdr_end = 8 + 25
        extra = rng.choice(
            (
                png_chunk(b"acTL", struct.pack(">II", _u32(rng), _u32(rng))),
                png_chunk(
                    b"fcTL",
                    struct.pack(
                        ">IIIIIHHBB",
                        0,
                        _u32(rng),
                        _u32(rng),
                        0,
                        0,
                        1,
                        1,
                        rng.randrange(3),
                        rng.randrange(3),
                    ),
                ),
                png_chunk(
                    b"iCCP", b"icc\0\0" + zlib.compress(b"\0" * rng.choice((10, 10**6, 10**7)))
                ),
                png_chunk(b"zTXt", b"k\0\0" + zlib.compress(b"a" * rng.choice((10, 10**6, 10**7)))),
                png_chunk(b"tEXt", b"k\0" + rng.randbytes(rng.randint(0, 200))),
                png_chunk(b"PLTE", rng.randbytes(3 * rng.randint(0, 300))),
                png_chunk(b"tRNS", rng.randbytes(rng.randint(0, 300))),
                png_chunk(b"eXIf", rng.randbytes(rng.randint(0, 300))),
            )
        )
        at = ihdr_end if rng.random() < 0.7 else rng.choice(chunks)[0]
        out[at:at] = extra
    elif action == "drop":
        del out[offset : offset + 12 + length]
    else:
        piece = out[offset : offset + 12 + length]
        out[offset:offset] = piece * rng.randint(1, 3)
    return bytes(out)


# ------------------------------------------------------------------------------ JPEG
def _jpeg_segments(data: bytes) -> list[tuple[int, int, int]]:
    """``(offset, marker, length)`` of each marker segment up to the first scan."""
    pos, out = 2, []
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        out.append((pos, marker, length))
        if marker == 0xDA:
            break
        pos += 2 + length
    return out


def jpeg_mutator(data: bytes, rng: random.Random) -> bytes:
    segments = _jpeg_segments(data)
    if not segments:
        return overwrite_bytes(data, rng)
    out = bytearray(data)
    sofs = [s for s in segments if 0xC0 <= s[1] <= 0xCF and s[1] not in (0xC4, 0xC8, 0xCC)]
    action = rng.choice(("length", "sof", "sof", "marker", "drop", "dup", "body"))
    offset, _marker, length = rng.choice(segments)
    if action == "length":
        out[offset + 2 : offset + 4] = struct.pack(">H", _u16(rng))
    elif action == "sof" and sofs:
        offset = sofs[0][0]
        field = rng.choice(("precision", "height", "width", "components", "sampling", "table"))
        if field in ("height", "width"):
            at = offset + (5 if field == "height" else 7)
            out[at : at + 2] = struct.pack(">H", _u16(rng))
        elif field == "precision":
            out[offset + 4] = rng.choice((0, 1, 8, 12, 16, 255))
        elif field == "components":
            out[offset + 9] = rng.choice((0, 1, 2, 3, 4, 10, 255))
        else:
            component = offset + 10 + 3 * rng.randrange(max(1, out[offset + 9] % 4))
            if component + 2 < len(out):
                at = component + (1 if field == "sampling" else 2)
                out[at] = rng.choice((0x00, 0x11, 0x22, 0x44, 0x41, 0x14, 0xFF, 0x03))
    elif action == "marker":
        out[offset + 1] = rng.choice((0xC0, 0xC2, 0xC3, 0xC9, 0xCA, 0xDA, 0xDD, 0xD9, 0xE1, 0xFE))
    elif action == "drop":
        del out[offset : offset + 2 + length]
    elif action == "dup":
        out[offset:offset] = out[offset : offset + 2 + length] * rng.randint(1, 3)
    else:
        end = min(len(out), offset + 2 + length)
        if end > offset + 4:
            at = rng.randrange(offset + 4, end)
            out[at] = rng.getrandbits(8)
    return bytes(out)


# ------------------------------------------------------------------------------ TIFF
def tiff_mutator(data: bytes, rng: random.Random) -> bytes:
    if data[:4] not in (b"II*\0", b"MM\0*"):
        return overwrite_bytes(data, rng)
    order = "<" if data[:2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[4:8])
    if ifd + 2 > len(data):
        return set_int(data, rng)
    (count,) = struct.unpack(order + "H", data[ifd : ifd + 2])
    out = bytearray(data)
    entries = [ifd + 2 + 12 * k for k in range(count) if ifd + 14 + 12 * k <= len(data)]
    action = rng.choice(("value", "value", "count", "type", "entries", "ifd"))
    if action == "ifd":
        out[4:8] = struct.pack(order + "I", _u32(rng))
    elif action == "entries":
        out[ifd : ifd + 2] = struct.pack(order + "H", _u16(rng))
    elif entries:
        # prefer the size, depth, strip and tile tags
        wanted = {256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 322, 323, 324, 325, 338, 339}
        hot = [e for e in entries if struct.unpack(order + "H", data[e : e + 2])[0] in wanted]
        entry = rng.choice(hot or entries)
        if action == "value":
            out[entry + 8 : entry + 12] = struct.pack(order + "I", _u32(rng))
        elif action == "count":
            out[entry + 4 : entry + 8] = struct.pack(order + "I", _u32(rng))
        else:
            out[entry + 2 : entry + 4] = struct.pack(order + "H", rng.randint(0, 18))
    return bytes(out)


# ------------------------------------------------------------------------------ RIFF
def riff_mutator(data: bytes, rng: random.Random) -> bytes:
    """WAV and WebP: chunk sizes, ``fmt `` fields, VP8/VP8L/VP8X dimensions."""
    if data[:4] != b"RIFF":
        return overwrite_bytes(data, rng)
    out = bytearray(data)
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        chunks.append((pos, data[pos : pos + 4]))
        pos += 8 + size + (size & 1)
    action = rng.choice(("riff_size", "chunk_size", "field", "field"))
    if action == "riff_size" or not chunks:
        out[4:8] = struct.pack("<I", _u32(rng))
    elif action == "chunk_size":
        at = rng.choice(chunks)[0] + 4
        out[at : at + 4] = struct.pack("<I", _u32(rng))
    else:
        at, kind = rng.choice(chunks)
        if kind == b"fmt ":  # format, channels, rate, byte rate, block align, bits
            field = rng.choice(((8, "H"), (10, "H"), (12, "I"), (16, "I"), (20, "H"), (22, "H")))
            value = _u32(rng) if field[1] == "I" else _u16(rng)
            out[at + field[0] : at + field[0] + struct.calcsize(field[1])] = struct.pack(
                "<" + field[1], value
            )
        elif kind in (b"VP8 ", b"VP8L", b"VP8X"):
            field = at + rng.choice((8, 12, 14, 16, 18, 20))
            out[field : field + 2] = struct.pack("<H", _u16(rng))
        else:
            return set_int(data, rng)
    return bytes(out)


# --------------------------------------------------------------------------- PNM, BMP
def pnm_mutator(data: bytes, rng: random.Random) -> bytes:
    match = re.match(rb"(P[1-6])(\s+)(\d+)(\s+)(\d+)(\s+)(\d+)(\s)", data)
    if not match:
        return overwrite_bytes(data, rng)
    parts = list(match.groups())
    index = rng.choice((0, 2, 4, 6))
    choices = {0: [b"P1", b"P2", b"P3", b"P4", b"P5", b"P6", b"P7"]}
    parts[index] = rng.choice(
        choices.get(index, [b"0", b"1", b"65535", b"65536", b"7000", b"99999999999", b"-1", b"255"])
    )
    return b"".join(parts) + data[match.end() :]


def bmp_mutator(data: bytes, rng: random.Random) -> bytes:
    if data[:2] != b"BM" or len(data) < 54:
        return overwrite_bytes(data, rng)
    # file size, pixel offset, header size, width, height, planes, bpp, compression, image
    # size, colours used
    at, fmt = rng.choice(
        (
            (2, "I"),
            (10, "I"),
            (14, "I"),
            (18, "i"),
            (22, "i"),
            (26, "H"),
            (28, "H"),
            (30, "I"),
            (34, "I"),
            (46, "I"),
        )
    )
    value = _u32(rng) if fmt in "Ii" else _u16(rng)
    if fmt == "i":
        value = struct.unpack("<i", struct.pack("<I", value))[0]
    return data[:at] + struct.pack("<" + fmt, value) + data[at + struct.calcsize(fmt) :]


# ------------------------------------------------------------------------------ text
_JSON_VALUES = (
    None,
    True,
    0,
    -1,
    1e308,
    -1e308,
    2**63,
    "",
    "x" * 100_000,
    "NaN",
    [],
    {},
    [[[[[[[[[[[]]]]]]]]]]],
    "../../etc/passwd",
    0.5,
    "\u0000",
    "é",
)


def json_mutator(data: bytes, rng: random.Random) -> bytes:
    """Replace, delete or retype one value of a JSON document (at any depth)."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return overwrite_bytes(data, rng)
    paths: list[tuple[object, object]] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                paths.append((node, key))
                walk(value)
        elif isinstance(node, list):
            for k, value in enumerate(node):
                paths.append((node, k))
                walk(value)

    walk(doc)
    if not paths:
        return overwrite_bytes(data, rng)
    for _ in range(rng.randint(1, 3)):
        parent, key = rng.choice(paths)
        action = rng.random()
        try:
            if action < 0.2 and isinstance(parent, dict):
                del parent[key]
            elif action < 0.3 and isinstance(parent[key], int | float):  # type: ignore[index]
                parent[key] = -parent[key]  # type: ignore[index]
            else:
                parent[key] = rng.choice(_JSON_VALUES)  # type: ignore[index]
        except (KeyError, IndexError, TypeError):
            continue
    text = json.dumps(doc, allow_nan=True)
    return text.encode() if rng.random() < 0.9 else text.encode()[: rng.randrange(len(text) + 1)]


_CSV_VALUES = (
    b"",
    b"nan",
    b"inf",
    b"-inf",
    b"1e400",
    b"2",
    b"-1",
    b'"',
    b"a,b",
    b"\xff\xfe",
    b"0x10",
    b"1_0",
    b" 1 ",
    b"\x00",
    b"\xef\xbb\xbf",
    b"9" * 400,
)


def csv_mutator(data: bytes, rng: random.Random) -> bytes:
    lines = data.split(b"\n")
    index = rng.randrange(len(lines))
    fields = lines[index].split(b",")
    action = rng.choice(("field", "field", "drop_field", "add_field", "dup_line", "drop_line"))
    if action == "field":
        fields[rng.randrange(len(fields))] = rng.choice(_CSV_VALUES)
    elif action == "drop_field":
        fields.pop(rng.randrange(len(fields)))
    elif action == "add_field":
        fields.append(rng.choice(_CSV_VALUES))
    elif action == "dup_line":
        lines[index:index] = [lines[index]] * rng.randint(1, 50)
    elif len(lines) > 1:
        lines.pop(index)
        return b"\n".join(lines)
    lines[index] = b",".join(fields)
    return b"\n".join(lines)


# ---------------------------------------------------------------------------- SQLite
def sqlite_mutator(data: bytes, rng: random.Random) -> bytes:
    """Header fields (page size, counts, schema cookie…) or one byte of a random page."""
    if data[:16] != b"SQLite format 3\0" or len(data) < 100:
        return overwrite_bytes(data, rng)
    out = bytearray(data)
    if rng.random() < 0.4:
        at, fmt = rng.choice(
            (
                (16, ">H"),
                (18, ">B"),
                (19, ">B"),
                (20, ">B"),
                (28, ">I"),
                (32, ">I"),
                (36, ">I"),
                (40, ">I"),
                (44, ">I"),
                (52, ">I"),
                (56, ">I"),
            )
        )
        value = _u32(rng) if fmt.endswith("I") else _u16(rng)
        out[at : at + struct.calcsize(fmt)] = struct.pack(
            fmt, value % (256 ** struct.calcsize(fmt))
        )
    else:
        page_size = struct.unpack(">H", data[16:18])[0] or 65536
        page = rng.randrange(max(1, len(data) // page_size))
        for _ in range(rng.randint(1, 6)):
            # page headers and cell pointers sit in a page's first bytes
            offset = page * page_size + (
                rng.randrange(16) if rng.random() < 0.5 else rng.randrange(page_size)
            )
            if offset < len(out):
                out[offset] = rng.getrandbits(8)
    return bytes(out)


#: the structure-aware mutator of each input kind
STRUCTURED: dict[str, Mutator] = {
    "png": png_mutator,
    "jpeg": jpeg_mutator,
    "tiff": tiff_mutator,
    "webp": riff_mutator,
    "wav": riff_mutator,
    "pgm": pnm_mutator,
    "bmp": bmp_mutator,
    "bundle": json_mutator,
    "calibration": json_mutator,
    "scores_csv": csv_mutator,
    "gallery": sqlite_mutator,
}


def mutate(kind: str, seed: bytes, rng: random.Random) -> bytes:
    """One to three mutations of ``seed``: mostly structure-aware ones for kinds that have
    them, byte-level ones otherwise."""
    data = seed
    structured = STRUCTURED.get(kind)
    for _ in range(rng.choice((1, 1, 1, 2, 3))):
        if structured is not None and rng.random() < 0.7:
            data = structured(data, rng)
        else:
            data = rng.choice(BYTE_MUTATORS)(data, rng)
        if not data:
            break
    return data
