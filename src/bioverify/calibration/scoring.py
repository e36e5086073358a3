"""Cosine scores of trials (:class:`~bioverify.datasets.trials.Trials`, the pairs of samples
that :class:`~bioverify.datasets.trials.TrialProtocol` chooses)."""

from __future__ import annotations

import numpy as np

from bioverify.datasets.trials import Trials
from bioverify.errors import InvalidInput

#: trials scored per block in :func:`score_trials` (bounds the gathered embedding memory)
_SCORE_BLOCK = 16384


def score_trials(embeddings: np.ndarray, trials: Trials) -> np.ndarray:
    """Cosine similarity of each trial's two embeddings (float64, one per trial).

    Embeddings are normally L2-normalised already; they are normalised again here so that
    unnormalised input still gives cosine scores. Zero or non-finite rows raise
    :class:`InvalidInput`.
    """
    emb = np.asarray(embeddings, dtype=np.float64)
    if emb.ndim != 2 or emb.shape[0] != trials.counts["samples"]:
        raise InvalidInput(
            f"embeddings must be [{trials.counts['samples']}, dim] (one row per sample the "
            f"trials were made from), got shape {emb.shape}"
        )
    norms = np.linalg.norm(emb, axis=1)
    bad = ~np.isfinite(norms) | (norms == 0)
    if bad.any():
        raise InvalidInput(
            f"{int(bad.sum())} embeddings are zero or not finite (first at row "
            f"{int(np.flatnonzero(bad)[0])}); cannot compute cosine scores"
        )
    unit = emb / norms[:, None]
    scores = np.empty(len(trials))
    for start in range(0, len(trials), _SCORE_BLOCK):
        stop = min(start + _SCORE_BLOCK, len(trials))
        scores[start:stop] = np.einsum(
            "ij,ij->i", unit[trials.i[start:stop]], unit[trials.j[start:stop]]
        )
    return np.clip(scores, -1.0, 1.0, out=scores)
