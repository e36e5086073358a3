"""Parity: the same inputs through torch and onnxruntime must give the same embeddings.

Inputs are synthetic (random pixels; noise waveforms of several lengths) in batches of 1, 2
and 7, plus real samples when a data folder is given. Agreement is the cosine between
corresponding embedding rows; an fp32 export must reach :data:`MIN_COSINE` on every row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
import torch

from bioverify.errors import ExportError
from bioverify.jsonable import FieldsToDict
from bioverify.training.models.encoder import Encoder

#: the lowest row cosine an fp32 export may have against the torch model
MIN_COSINE = 0.9999
BATCH_SIZES = (1, 2, 7)
#: synthetic waveform lengths in seconds (every one with every batch size)
VOICE_SECONDS = (0.5, 1.37, 3.0)


@dataclass(frozen=True)
class Agreement(FieldsToDict):
    """Row cosines between two embedding sets of the same inputs."""

    min_cosine: float
    mean_cosine: float
    max_abs_diff: float
    embeddings: int


def synthetic_batches(
    modality: str,
    image_size: int | None = None,
    sample_rate: int = 16000,
    seed: int = 0,
) -> list[np.ndarray]:
    """Random model inputs: face ``uint8 [b, S, S, 3]``; voice ``float32 [b, T]`` noise for
    every batch size in :data:`BATCH_SIZES` (and, for voice, every length)."""
    rng = np.random.default_rng(seed)
    if modality == "face":
        if image_size is None:
            raise ValueError("face inputs need an image size")
        return [
            rng.integers(0, 256, (b, image_size, image_size, 3), dtype=np.uint8)
            for b in BATCH_SIZES
        ]
    return [
        np.clip(rng.normal(0.0, 0.1, (b, round(s * sample_rate))), -1, 1).astype(np.float32)
        for b in BATCH_SIZES
        for s in VOICE_SECONDS
    ]


def batched(inputs: Sequence[np.ndarray], batch_size: int) -> list[np.ndarray]:
    """Stack consecutive single inputs of equal shape into batches of at most
    ``batch_size`` (variable-length waveforms end up mostly one per batch)."""
    batches: list[np.ndarray] = []
    group: list[np.ndarray] = []
    for item in inputs:
        if group and (len(group) == batch_size or item.shape != group[0].shape):
            batches.append(np.stack(group))
            group = []
        group.append(item)
    if group:
        batches.append(np.stack(group))
    return batches


def embed_torch(encoder: Encoder, batches: Iterable[np.ndarray]) -> np.ndarray:
    """Embeddings of ``batches`` by the torch encoder (eval mode, no autocast)."""
    encoder.eval()
    with torch.no_grad():
        return np.concatenate([encoder(torch.from_numpy(b)).numpy() for b in batches])


def embed_onnx(session: ort.InferenceSession, batches: Iterable[np.ndarray]) -> np.ndarray:
    """Embeddings of ``batches`` by an onnxruntime session of a one-input model."""
    name = session.get_inputs()[0].name
    out: list[np.ndarray] = []
    for batch in batches:
        (embedding,) = session.run(None, {name: batch})
        if embedding.shape[0] != batch.shape[0]:
            raise ExportError(
                f"the ONNX model returned {embedding.shape[0]} embeddings for a batch of "
                f"{batch.shape[0]}: its batch axis is not dynamic"
            )
        out.append(np.asarray(embedding, dtype=np.float32))
    return np.concatenate(out)


def agreement(reference: np.ndarray, other: np.ndarray) -> Agreement:
    """Row-wise cosine (float64) of two ``[n, D]`` embedding sets; a non-finite row counts
    as cosine −1."""
    if reference.shape != other.shape:
        raise ExportError(
            f"embedding shapes differ: {reference.shape} (reference) vs {other.shape}"
        )
    a, b = reference.astype(np.float64), other.astype(np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        cosine = np.einsum("ij,ij->i", a, b) / norms
    cosine = np.where(np.isfinite(cosine), cosine, -1.0)
    return Agreement(
        min_cosine=float(cosine.min()),
        mean_cosine=float(cosine.mean()),
        max_abs_diff=float(np.abs(a - b).max()),
        embeddings=int(cosine.size),
    )


def check_parity(
    encoder: Encoder,
    session: ort.InferenceSession,
    batches: Sequence[np.ndarray],
    min_cosine: float = MIN_COSINE,
) -> Agreement:
    """Compare torch and onnxruntime on ``batches``; raise :class:`ExportError` when a row's
    cosine is below ``min_cosine``."""
    result = agreement(embed_torch(encoder, batches), embed_onnx(session, batches))
    if not result.min_cosine >= min_cosine:
        raise ExportError(
            f"parity check failed: onnxruntime and torch embeddings agree only to cosine "
            f"{result.min_cosine:.6f} (< {min_cosine}) over {result.embeddings} inputs; "
            "no bundle was written"
        )
    return result


__all__ = [
    "BATCH_SIZES",
    "MIN_COSINE",
    "VOICE_SECONDS",
    "Agreement",
    "agreement",
    "batched",
    "check_parity",
    "embed_onnx",
    "embed_torch",
    "synthetic_batches",
]
