"""Samples on their way into a gallery: identity names, source facts, acquisition."""

from __future__ import annotations

import hashlib
import json
import os
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from bioverify.bundle import file_sha256
from bioverify.errors import BioverifyError, InvalidInput, NoFaceFound, NoSpeechFound
from bioverify.gallery import records
from bioverify.gallery.protocol import GalleryVerifier
from bioverify.gallery.records import NewTemplate, SourceRecord
from bioverify.gallery.reports import SkippedSample

#: errors that make one sample fail to acquire without stopping an enrollment
ACQUIRE_ERRORS = (NoFaceFound, NoSpeechFound, InvalidInput)
MAX_IDENTITY_LENGTH = 200


def check_identity(identity: Any) -> str:
    """An identity name: 1–200 characters, no surrounding blanks, no control characters and
    no lone surrogates (they cannot be stored as UTF-8)."""
    if (
        not isinstance(identity, str)
        or not identity
        or identity != identity.strip()
        or len(identity) > MAX_IDENTITY_LENGTH
        or any(unicodedata.category(char) in ("Cc", "Cs") for char in identity)
    ):
        raise InvalidInput(
            f"invalid identity {identity!r}: use 1–{MAX_IDENTITY_LENGTH} printable characters "
            "without leading or trailing blanks"
        )
    return identity


def describe_source(x: Any) -> SourceRecord:
    """Name, absolute path and sha256 of a sample (a file path, bytes or an array)."""
    if isinstance(x, str | os.PathLike):
        path = Path(x)
        try:
            digest = file_sha256(path)
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot read ({exc.strerror})") from exc
        return SourceRecord(_as_text(path.name), _as_text(str(path.resolve())), digest)
    if isinstance(x, bytes | bytearray | memoryview):
        return SourceRecord("<bytes>", None, hashlib.sha256(x).hexdigest())
    if isinstance(x, np.ndarray):
        return SourceRecord("<array>", None, hashlib.sha256(x.tobytes()).hexdigest())
    return SourceRecord(f"<{type(x).__name__}>")


def _as_text(name: str) -> str:
    """A file name as storable UTF-8 text: bytes that are not UTF-8 become ``\\xNN``."""
    return os.fsencode(name).decode("utf-8", "backslashreplace")


def sample_label(x: Any) -> str:
    """How reports name a sample: its path as given, or its kind."""
    return str(x) if isinstance(x, str | os.PathLike) else f"<{type(x).__name__}>"


def describe_all(
    inputs: Iterable[Any],
) -> tuple[list[tuple[Any, SourceRecord]], list[SkippedSample]]:
    """``(input, source facts)`` of every input that can be read; the others are listed."""
    described: list[tuple[Any, SourceRecord]] = []
    failed: list[SkippedSample] = []
    for x in inputs:
        try:
            described.append((x, describe_source(x)))
        except ACQUIRE_ERRORS as exc:
            failed.append(SkippedSample(sample_label(x), type(exc).__name__, str(exc)))
    return described, failed


def acquire_all(
    verifier: GalleryVerifier, described: Sequence[tuple[Any, SourceRecord]]
) -> tuple[list[NewTemplate], list[SkippedSample]]:
    """Embed the described samples in batches; the ones that fail to acquire are listed,
    not raised."""
    templates: list[NewTemplate] = []
    failed: list[SkippedSample] = []
    results = verifier.try_acquire_many([x for x, _ in described])
    for (x, source), acquired in zip(described, results, strict=True):
        if isinstance(acquired, BioverifyError):
            failed.append(SkippedSample(sample_label(x), type(acquired).__name__, str(acquired)))
            continue
        embedding = records.check_embedding(acquired.embedding, verifier.embedding_dim, source.name)
        # quality as plain JSON values: exactly what is stored, printable with --json
        quality = json.loads(records.to_json(dict(acquired.quality)))
        templates.append(
            NewTemplate(
                embedding, source, quality, [str(n) for n in acquired.notes], sample_label(x)
            )
        )
    return templates, failed


__all__ = [
    "ACQUIRE_ERRORS",
    "MAX_IDENTITY_LENGTH",
    "acquire_all",
    "check_identity",
    "describe_all",
    "describe_source",
    "sample_label",
]
