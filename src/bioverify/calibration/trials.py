"""Genuine and impostor trials (pairs of samples) from per-sample identity labels, and their
cosine scores.

A genuine trial pairs two samples of one identity, an impostor trial two samples of different
identities. Every trial is an unordered pair stored as ``i < j`` (sample indices), at most once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bioverify.errors import InvalidInput

#: trials scored per block in :func:`score_trials` (bounds the gathered embedding memory)
_SCORE_BLOCK = 16384


@dataclass(frozen=True, eq=False)
class Trials:
    """Sample-index pairs ``(i[k], j[k])`` with ``i < j``; ``genuine[k]`` says same identity.

    Genuine trials come first, then impostor trials, each block sorted by ``(i, j)``.
    ``counts`` holds ``samples``, ``identities``, ``identities_with_pairs`` (identities with at
    least two samples), ``genuine_possible`` (all within-identity pairs before the caps),
    ``impostor_possible``, ``genuine`` and ``impostor``.
    """

    i: np.ndarray
    j: np.ndarray
    genuine: np.ndarray
    counts: dict[str, int]

    def __len__(self) -> int:
        return int(self.i.size)

    def subjects(self, identities: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """``(subject_a, subject_b)``: the identity of each trial's two samples, for the
        identity bootstrap (``bootstrap_rates`` / ``operating_points``)."""
        ids = np.asarray(identities)
        if ids.ndim != 1 or ids.size != self.counts["samples"]:
            raise InvalidInput(
                f"need the {self.counts['samples']} identities the trials were made from, "
                f"got {ids.size}"
            )
        return ids[self.i], ids[self.j]


def _pair_from_index(index: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-major rank ``index`` of a pair ``(r, c)``, ``0 <= r < c < n`` → ``(r, c)``."""

    def offset(r: np.ndarray) -> np.ndarray:  # pairs whose row is < r
        return r * (2 * n - r - 1) // 2

    b = 2 * n - 1
    r = np.floor((b - np.sqrt(b * b - 8.0 * index)) / 2).astype(np.int64)
    r = np.clip(r, 0, n - 2)
    r = np.where(offset(r) > index, r - 1, r)  # undo float rounding either way
    r = np.where(offset(r + 1) <= index, r + 1, r)
    return r, index - offset(r) + r + 1


def _genuine_pairs(
    order: np.ndarray, starts: np.ndarray, sizes: np.ndarray, cap: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    firsts: list[np.ndarray] = []
    seconds: list[np.ndarray] = []
    for start, size in zip(starts.tolist(), sizes.tolist(), strict=True):
        if size < 2:
            continue
        n_pairs = size * (size - 1) // 2
        if n_pairs <= cap:
            index = np.arange(n_pairs, dtype=np.int64)
        else:
            index = np.sort(rng.choice(n_pairs, size=cap, replace=False))
        r, c = _pair_from_index(index, size)
        members = order[start : start + size]  # ascending sample indices of this identity
        firsts.append(members[r])
        seconds.append(members[c])
    return np.concatenate(firsts), np.concatenate(seconds)


def _impostor_pairs(
    codes: np.ndarray,
    order: np.ndarray,
    starts: np.ndarray,
    sizes: np.ndarray,
    n_wanted: int,
    n_possible: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """``n_wanted`` distinct cross-identity pairs, uniformly at random, without ever listing all
    pairs unless more than half of them are wanted."""
    n = codes.size
    if n_wanted == 0:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    if 2 * n_wanted > n_possible:
        # Enumerate: position x in identity order pairs with every later position of another
        # identity, i.e. positions block_end[x] .. n-1.
        block_end = (starts + sizes)[codes[order]]
        per_x = n - block_end
        xs = np.repeat(np.arange(n), per_x)
        within = np.arange(xs.size) - np.repeat(np.cumsum(per_x) - per_x, per_x)
        chosen = np.sort(rng.choice(xs.size, size=n_wanted, replace=False))
        a, b = order[xs[chosen]], order[block_end[xs[chosen]] + within[chosen]]
        return np.minimum(a, b), np.maximum(a, b)
    # Sample ordered pairs (a, b) of different identities uniformly: a with probability
    # proportional to its number of impostor partners, b uniform among those partners; then
    # drop duplicate unordered pairs (rejection keeps the kept set a uniform random subset).
    partners = (n - sizes[codes]).astype(np.float64)
    p_first = partners / partners.sum()
    keys = np.empty(0, np.int64)
    while keys.size < n_wanted:
        draw = int((n_wanted - keys.size) * 1.2) + 64
        a = rng.choice(n, size=draw, p=p_first)
        code_a = codes[a]
        r = (rng.random(draw) * (n - sizes[code_a])).astype(np.int64)
        pos = np.where(r < starts[code_a], r, r + sizes[code_a])
        b = order[pos]
        new = np.concatenate([keys, np.minimum(a, b) * n + np.maximum(a, b)])
        _, first_seen = np.unique(new, return_index=True)
        keys = new[np.sort(first_seen)][:n_wanted]
    keys = np.sort(keys)
    return keys // n, keys % n


def make_trials(
    identities: Sequence[str],
    *,
    max_genuine_per_identity: int = 50,
    max_genuine: int = 20000,
    impostor_ratio: float = 1.0,
    min_impostor: int | None = None,
    seed: int = 0,
) -> Trials:
    """Genuine and impostor trials for samples labelled ``identities`` (one label per sample).

    Genuine: all within-identity pairs, subsampled uniformly (without replacement) to at most
    ``max_genuine_per_identity`` per identity, then to at most ``max_genuine`` overall.
    Impostor: ``max(ceil(impostor_ratio * n_genuine), min_impostor or 0)`` distinct pairs drawn
    uniformly from all cross-identity pairs. Deterministic for a given ``seed``.

    Raises :class:`InvalidInput` with fewer than two identities, when no identity has two
    samples, or when more impostor trials are asked for than exist.
    """
    ids = np.asarray(identities)
    if ids.ndim != 1:
        raise InvalidInput(f"identities must be one label per sample (1-D), got shape {ids.shape}")
    if max_genuine_per_identity < 1 or max_genuine < 1:
        raise InvalidInput("max_genuine_per_identity and max_genuine must be >= 1")
    if impostor_ratio < 0 or (min_impostor is not None and min_impostor < 0):
        raise InvalidInput("impostor_ratio and min_impostor must be >= 0")
    names, codes = np.unique(ids, return_inverse=True)
    codes = codes.reshape(-1)
    n = int(codes.size)
    if names.size < 2:
        raise InvalidInput(
            f"need samples of at least 2 identities for impostor trials, got {names.size}"
        )
    sizes = np.bincount(codes).astype(np.int64)
    if sizes.max() < 2:
        raise InvalidInput(
            "no identity has two samples, so no genuine trial is possible; "
            "add a second sample for some identities"
        )
    starts = np.cumsum(sizes) - sizes
    order = np.argsort(codes, kind="stable")
    rng = np.random.default_rng(seed)

    gi, gj = _genuine_pairs(order, starts, sizes, int(max_genuine_per_identity), rng)
    if gi.size > max_genuine:
        keep = np.sort(rng.choice(gi.size, size=int(max_genuine), replace=False))
        gi, gj = gi[keep], gj[keep]
    g_order = np.lexsort((gj, gi))
    gi, gj = gi[g_order], gj[g_order]

    genuine_possible = int((sizes * (sizes - 1) // 2).sum())
    impostor_possible = n * (n - 1) // 2 - genuine_possible
    n_impostor = max(math.ceil(impostor_ratio * gi.size), int(min_impostor or 0))
    if n_impostor > impostor_possible:
        raise InvalidInput(
            f"asked for {n_impostor} impostor trials but only {impostor_possible} "
            "cross-identity pairs exist; lower impostor_ratio/min_impostor or add samples"
        )
    ii, ij = _impostor_pairs(codes, order, starts, sizes, n_impostor, impostor_possible, rng)

    counts = {
        "samples": n,
        "identities": int(names.size),
        "identities_with_pairs": int(np.count_nonzero(sizes >= 2)),
        "genuine_possible": genuine_possible,
        "impostor_possible": impostor_possible,
        "genuine": int(gi.size),
        "impostor": int(ii.size),
    }
    return Trials(
        i=np.concatenate([gi, ii]).astype(np.intp),
        j=np.concatenate([gj, ij]).astype(np.intp),
        genuine=np.concatenate([np.ones(gi.size, bool), np.zeros(ii.size, bool)]),
        counts=counts,
    )


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
