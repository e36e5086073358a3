"""Exact top-k search by inner product over a matrix of unit templates.

:class:`TemplateIndex` holds the templates as one ``float32 [N, D]`` matrix and scores a
query against all of them with a single matrix-vector product, then picks the top ``k``
with :func:`numpy.argpartition`. The product is :func:`numpy.einsum` rather than ``@``: for
one query it is bound by memory bandwidth, and numpy's own SIMD loop measured about twice
as fast as OpenBLAS's multi-threaded ``sgemv`` on a busy 2-core machine
(``benchmarks/bench_identify.py``). With ``backend="faiss"`` the same exact search runs in
a FAISS ``IndexFlatIP`` (``pip install 'bioverify[faiss]'``); both backends return the same
candidates. numpy is the default: FAISS's flat index was no faster for one query at a time
there, and with its default OpenMP threads on a busy machine it was several times slower.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np

from bioverify.errors import MissingDependency

Backend = Literal["numpy", "faiss"]
BACKENDS: tuple[str, ...] = ("numpy", "faiss")


def faiss_available() -> bool:
    return importlib.util.find_spec("faiss") is not None


class TemplateIndex:
    """Ids and their unit templates, searchable by cosine similarity (= inner product)."""

    def __init__(self, ids: Sequence[str], matrix: np.ndarray, backend: Backend = "numpy") -> None:
        if matrix.ndim != 2 or matrix.shape[0] != len(ids):
            raise ValueError(f"matrix of shape {matrix.shape} for {len(ids)} ids")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        self.ids = list(ids)
        self.dim = int(matrix.shape[1])
        self._matrix: np.ndarray | None = None
        self._faiss: Any = None
        if backend == "faiss":
            try:
                import faiss
            except ImportError as exc:
                raise MissingDependency(
                    "the faiss backend needs faiss: pip install 'bioverify[faiss]'"
                ) from exc
            self._faiss = faiss.IndexFlatIP(self.dim)
            if len(self.ids):
                self._faiss.add(np.ascontiguousarray(matrix, dtype=np.float32))
        else:
            self._matrix = np.ascontiguousarray(matrix, dtype=np.float32)

    @property
    def backend(self) -> str:
        return "numpy" if self._faiss is None else "faiss"

    def __len__(self) -> int:
        return len(self.ids)

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The templates of ``rows``, ``float32 [len(rows), D]``."""
        if self._faiss is not None:
            return np.asarray(self._faiss.reconstruct_batch(rows), dtype=np.float32)
        assert self._matrix is not None
        return self._matrix[rows]

    def search(self, query: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Row indices and scores of the ``k`` best templates for ``query``, best first."""
        k = min(int(k), len(self.ids))
        if k <= 0:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float32)
        query = np.ascontiguousarray(query, dtype=np.float32).reshape(1, self.dim)
        if self._faiss is not None:
            scores, rows = self._faiss.search(query, k)
            return rows[0].astype(np.int64), scores[0]
        assert self._matrix is not None
        all_scores = np.einsum("ij,j->i", self._matrix, query[0])
        if k < len(all_scores):
            rows = np.argpartition(-all_scores, k - 1)[:k]
        else:
            rows = np.arange(len(all_scores))
        rows = rows[np.argsort(-all_scores[rows], kind="stable")]
        return rows.astype(np.int64), all_scores[rows]


__all__ = ["BACKENDS", "Backend", "TemplateIndex", "faiss_available"]
