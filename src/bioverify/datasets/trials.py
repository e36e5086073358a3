"""Which pairs of identity-labelled samples are scored: :class:`TrialProtocol`, the one
definition of trials that ``evaluate``, ``calibrate``, export's check, validation during
training and the benchmarks share (its defaults are written here and nowhere else).

A genuine trial pairs two samples of one identity, an impostor trial two samples of different
identities. Every trial is an unordered pair stored as ``i < j`` (sample indices), at most once.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from bioverify.errors import InvalidInput


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


@dataclass(frozen=True)
class TrialProtocol:
    """Which trials to make from per-sample identity labels.

    Genuine trials: every within-identity pair, subsampled uniformly (without replacement)
    to at most ``max_genuine_per_identity`` per identity, then to at most ``max_genuine``
    overall. Impostor trials: ``max(ceil(impostor_ratio * n_genuine), min_impostor)``
    distinct cross-identity pairs drawn uniformly, or every cross-identity pair when fewer
    exist. Deterministic for a given ``seed``.

    Parameters
    ----------
    max_genuine_per_identity : int, default 50
        Cap on genuine trials per identity (so that identities with many samples do not
        dominate the false-reject rate).
    max_genuine : int, default 20000
        Cap on genuine trials overall.
    impostor_ratio : float, default 1.0
        Impostor trials per genuine trial.
    min_impostor : int, default 30000
        Impostor trials at least: ten times the 3,000 that the rule of three needs to
        support a false-accept rate of 1e-3.
    seed : int, default 0
        Seed of the subsampling.

    Raises
    ------
    InvalidInput
        When a cap is below 1 or ``impostor_ratio`` / ``min_impostor`` is negative.

    Examples
    --------
    >>> trials = TrialProtocol(min_impostor=4).trials(["a", "a", "b", "b", "c"])
    >>> len(trials), int(trials.genuine.sum())
    (6, 2)
    >>> trials.counts["impostor"], trials.counts["impostor_possible"]
    (4, 8)
    """

    max_genuine_per_identity: int = 50
    max_genuine: int = 20000
    impostor_ratio: float = 1.0
    min_impostor: int = 30000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.max_genuine_per_identity < 1 or self.max_genuine < 1:
            raise InvalidInput("max_genuine_per_identity and max_genuine must be >= 1")
        if self.impostor_ratio < 0 or self.min_impostor < 0:
            raise InvalidInput("impostor_ratio and min_impostor must be >= 0")

    def describe(self) -> str:
        """The protocol in one sentence, for reports.

        Examples
        --------
        >>> TrialProtocol().describe()  # doctest: +NORMALIZE_WHITESPACE
        'all within-identity pairs up to 50 per identity and 20,000 overall; impostor
        pairs sampled uniformly across identities, as many as genuine ones and at least
        30,000 (all when fewer exist); seed 0'
        """
        ratio = "as many" if self.impostor_ratio == 1 else f"{self.impostor_ratio:g} x as many"
        return (
            f"all within-identity pairs up to {self.max_genuine_per_identity:,} per identity "
            f"and {self.max_genuine:,} overall; impostor pairs sampled uniformly across "
            f"identities, {ratio} as genuine ones and at least {self.min_impostor:,} (all "
            f"when fewer exist); seed {self.seed}"
        )

    def trials(self, identities: Sequence[str]) -> Trials:
        """Genuine and impostor trials for samples labelled ``identities`` (one label per
        sample), genuine first.

        ``counts`` also holds ``impostor_wanted``: more than ``impostor`` when fewer
        cross-identity pairs exist than the protocol asks for (all of them are then used).

        Raises
        ------
        InvalidInput
            With fewer than two identities, when no identity has two samples, or when
            ``identities`` is not one label per sample.
        """
        ids = np.asarray(identities)
        if ids.ndim != 1:
            raise InvalidInput(
                f"identities must be one label per sample (1-D), got shape {ids.shape}"
            )
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
        rng = np.random.default_rng(self.seed)

        gi, gj = _genuine_pairs(order, starts, sizes, self.max_genuine_per_identity, rng)
        if gi.size > self.max_genuine:
            keep = np.sort(rng.choice(gi.size, size=self.max_genuine, replace=False))
            gi, gj = gi[keep], gj[keep]
        g_order = np.lexsort((gj, gi))
        gi, gj = gi[g_order], gj[g_order]

        genuine_possible = int((sizes * (sizes - 1) // 2).sum())
        impostor_possible = n * (n - 1) // 2 - genuine_possible
        wanted = max(math.ceil(self.impostor_ratio * gi.size), self.min_impostor)
        n_impostor = min(wanted, impostor_possible)
        ii, ij = _impostor_pairs(codes, order, starts, sizes, n_impostor, impostor_possible, rng)

        counts = {
            "samples": n,
            "identities": int(names.size),
            "identities_with_pairs": int(np.count_nonzero(sizes >= 2)),
            "genuine_possible": genuine_possible,
            "impostor_possible": impostor_possible,
            "genuine": int(gi.size),
            "impostor": int(ii.size),
            "impostor_wanted": wanted,
        }
        return Trials(
            i=np.concatenate([gi, ii]).astype(np.intp),
            j=np.concatenate([gj, ij]).astype(np.intp),
            genuine=np.concatenate([np.ones(gi.size, bool), np.zeros(ii.size, bool)]),
            counts=counts,
        )


__all__ = ["TrialProtocol", "Trials"]
