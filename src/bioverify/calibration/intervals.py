"""Confidence intervals for FAR and FRR: Clopper–Pearson, and a bootstrap by identity.

Trials that share a person are not independent (one unusual face makes many errors), so when
subject ids are known the interval comes from resampling *subjects*, not trials.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import overload

import numpy as np
from numpy.typing import ArrayLike
from scipy import sparse
from scipy.special import betaincinv

from bioverify.calibration.roc import validate_scores
from bioverify.errors import InvalidInput

#: bytes allowed for the dense (resamples x columns x subjects) block of one chunk
_CHUNK_BYTES = 64 * 1024 * 1024
#: largest dense per-pair count table (subjects^2 x columns float64) before switching to sparse
_DENSE_TABLE_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class IntervalSettings:
    """How the intervals of measured rates are drawn: the confidence level, and the
    resample count and seed of an identity bootstrap (unused by Clopper–Pearson).

    Examples
    --------
    >>> IntervalSettings(seed=3)
    IntervalSettings(confidence=0.95, n_resamples=1000, seed=3)
    """

    confidence: float = 0.95
    n_resamples: int = 1000
    seed: int = 0


#: 95 % intervals; a bootstrap draws 1000 resamples with seed 0
DEFAULT_INTERVALS = IntervalSettings()


def _check_confidence(confidence: float) -> float:
    c = float(confidence)
    if not 0.0 < c < 1.0:
        raise InvalidInput(f"confidence must be in (0, 1), e.g. 0.95; got {confidence!r}")
    return c


@overload
def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]: ...
@overload
def clopper_pearson(
    k: np.ndarray, n: ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def clopper_pearson(
    k: ArrayLike, n: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]: ...
def clopper_pearson(
    k: ArrayLike, n: ArrayLike, confidence: float = 0.95
) -> tuple[float, float] | tuple[np.ndarray, np.ndarray]:
    """Exact (Clopper–Pearson) two-sided interval for a binomial rate ``k / n``.

    ``lower = Beta(a/2; k, n-k+1)`` (0 when ``k == 0``) and ``upper = Beta(1-a/2; k+1, n-k)``
    (1 when ``k == n``), with ``a = 1 - confidence``; ``n == 0`` gives ``(0, 1)``.
    Works elementwise on arrays (returns arrays) or on scalars (returns floats). The Beta
    quantile is ``scipy.special.betaincinv`` (what ``scipy.stats.beta.ppf`` evaluates), which
    keeps ``scipy.stats`` out of the runtime import.
    """
    c = _check_confidence(confidence)
    try:
        kf, nf = np.broadcast_arrays(np.asarray(k, np.float64), np.asarray(n, np.float64))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(f"k and n must be counts of the same shape: {exc}") from exc
    if not (np.all(np.mod(kf, 1) == 0) and np.all(np.mod(nf, 1) == 0)):
        raise InvalidInput("k and n must be whole counts")
    if np.any(kf < 0) or np.any(kf > nf):
        raise InvalidInput("counts must satisfy 0 <= k <= n")
    alpha = 1.0 - c
    with np.errstate(invalid="ignore", divide="ignore"):
        lower = np.where(kf > 0, betaincinv(kf, nf - kf + 1, alpha / 2), 0.0)
        upper = np.where(kf < nf, betaincinv(kf + 1, nf - kf, 1 - alpha / 2), 1.0)
    if lower.ndim == 0:
        return float(lower), float(upper)
    return lower, upper


def _encode_subjects(
    subject_a: ArrayLike, subject_b: ArrayLike, n: int
) -> tuple[np.ndarray, np.ndarray, int]:
    a = np.asarray(subject_a)
    b = np.asarray(subject_b)
    if a.shape != (n,) or b.shape != (n,):
        raise InvalidInput(
            f"subject_a and subject_b need one subject id per trial ({n}), got shapes "
            f"{a.shape} and {b.shape}"
        )
    try:
        names, codes = np.unique(np.concatenate([a, b]), return_inverse=True)
    except TypeError as exc:
        raise InvalidInput(f"subject ids must be comparable values of one type: {exc}") from exc
    codes = codes.reshape(-1)
    return codes[:n], codes[n:], int(names.size)


def _within_subject_table(
    a: np.ndarray, b: np.ndarray, n_subjects: int, columns: list[np.ndarray]
) -> np.ndarray:
    """``table[i, c]`` = number of trials within subject i (``a == b == i``) counted by column c."""
    same = a == b
    return np.stack(
        [np.bincount(a[col & same], minlength=n_subjects) for col in columns], axis=1
    ).astype(np.float64)


def _pair_table(
    a: np.ndarray, b: np.ndarray, n_subjects: int, columns: list[np.ndarray]
) -> np.ndarray | sparse.csr_array:
    """``table[i, c * S + j]`` = number of trials of pair {i, j} (i < j) counted by column c.

    Each column is a boolean per trial (e.g. "impostor", "impostor accepted at t1"). Storing the
    unordered pair once is enough because a trial's weight ``m[i] * m[j]`` is symmetric.
    Trials within one subject are left out (see :func:`_within_subject_table`).
    """
    columns = [col & (a != b) for col in columns]
    lo = np.minimum(a, b)
    hi = np.maximum(a, b)
    s = n_subjects
    n_cols = len(columns)
    if s * s * n_cols * 8 <= _DENSE_TABLE_BYTES:
        flat = [
            np.bincount(lo[col] * s + hi[col], minlength=s * s).astype(np.float64)
            for col in columns
        ]
        return np.stack([f.reshape(s, s) for f in flat], axis=1).reshape(s, n_cols * s)
    rows = np.concatenate([lo[col] for col in columns])
    cols = np.concatenate([c * s + hi[col] for c, col in enumerate(columns)])
    data = np.ones(rows.size, dtype=np.float64)
    table = sparse.coo_array((data, (rows, cols)), shape=(s, n_cols * s)).tocsr()
    table.sum_duplicates()
    return table


def bootstrap_rates(
    scores: ArrayLike,
    labels: ArrayLike,
    thresholds: ArrayLike,
    subject_a: ArrayLike,
    subject_b: ArrayLike,
    settings: IntervalSettings = DEFAULT_INTERVALS,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile intervals for FAR and FRR at each threshold, bootstrapping by identity.

    Subjects (the union of ``subject_a`` and ``subject_b`` values) are resampled with
    replacement, ``S`` draws from ``S`` subjects; a subject drawn ``m`` times contributes
    ``m`` copies of its trials: a trial within one subject (``a == b``, a genuine trial) has
    weight ``m[a]``, a trial between two subjects weight ``m[a] * m[b]`` (every pairing of a
    copy of ``a`` with a copy of ``b``) — the "subsets bootstrap" of Bolle et al. Each
    resample's FAR is the weighted share of accepted impostors, its FRR the weighted share of
    rejected genuines (accept ``score >= t``). (Weighting within-subject trials by ``m**2``
    instead would over-count subjects drawn twice: in simulation it gave 100 % coverage and
    a 60 % wider FRR interval than the ``m`` weight's 92.5 %.)

    A resample with zero impostor (genuine) weight has no FAR (FRR); it is left out of that
    rate's percentiles; if every resample lacks a class, :class:`InvalidInput` is raised (too
    few subjects to bootstrap). Returns ``(far_ci, frr_ci)``, each ``[T, 2]``. Deterministic
    for a given ``seed``.

    Computation: per-pair counts of trials between two subjects form ``S x S`` tables ``C``
    per statistic and within-subject counts a vector ``d``; a resample's weighted count is
    ``m^T C m + m . d`` — matrix products per chunk of resamples.
    """
    s, genuine = validate_scores(scores, labels)
    c = _check_confidence(settings.confidence)
    n_resamples, seed = settings.n_resamples, settings.seed
    if int(n_resamples) < 1:
        raise InvalidInput(f"n_resamples must be >= 1, got {n_resamples}")
    t = np.atleast_1d(np.asarray(thresholds, dtype=np.float64))
    if t.ndim != 1 or np.isnan(t).any():
        raise InvalidInput("thresholds must be a 1-D sequence of numbers (inf allowed)")
    a, b, n_subjects = _encode_subjects(subject_a, subject_b, s.size)

    impostor = ~genuine
    columns = [impostor, genuine]
    columns += [impostor & (s >= th) for th in t]
    columns += [genuine & (s < th) for th in t]
    table = _pair_table(a, b, n_subjects, columns)
    within = _within_subject_table(a, b, n_subjects, columns)
    n_cols = len(columns)

    rng = np.random.default_rng(seed)
    uniform = np.full(n_subjects, 1.0 / n_subjects)
    chunk = max(1, min(int(n_resamples), _CHUNK_BYTES // (8 * n_cols * n_subjects)))
    weighted = np.empty((int(n_resamples), n_cols))
    for start in range(0, int(n_resamples), chunk):
        stop = min(start + chunk, int(n_resamples))
        m = rng.multinomial(n_subjects, uniform, size=stop - start).astype(np.float64)
        mc = np.asarray(m @ table).reshape(stop - start, n_cols, n_subjects)
        weighted[start:stop] = np.einsum("rcs,rs->rc", mc, m) + m @ within

    n_t = t.size
    imp_total = weighted[:, :1]
    gen_total = weighted[:, 1:2]
    with np.errstate(invalid="ignore", divide="ignore"):
        far = np.where(imp_total > 0, weighted[:, 2 : 2 + n_t] / imp_total, np.nan)
        frr = np.where(gen_total > 0, weighted[:, 2 + n_t :] / gen_total, np.nan)
    for total, kind in ((imp_total, "impostor"), (gen_total, "genuine")):
        if not (total > 0).any():
            raise InvalidInput(
                f"no bootstrap resample contained a {kind} trial; the identity bootstrap needs "
                "more subjects (or use Clopper–Pearson intervals without subject ids)"
            )
    q = [(1 - c) / 2, 1 - (1 - c) / 2]
    if n_t == 0:
        return np.empty((0, 2)), np.empty((0, 2))
    return np.nanquantile(far, q, axis=0).T, np.nanquantile(frr, q, axis=0).T
