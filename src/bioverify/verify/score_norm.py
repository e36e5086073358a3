"""Score normalisation: adaptive symmetric normalisation (AS-Norm) against a bundle's cohort.

A bundle may carry a cohort of embeddings of *training* identities (``cohort.npy``,
``float32 [K, D]`` unit rows) and name it in ``bundle.json``::

    "score_normalization": {"method": "as-norm", "top_k": 200,
                            "cohort_file": "cohort.npy", "cohort_sha256": "<64 hex>",
                            "cohort_source": "999 clips of 101 train speakers of ..."}

For a trial ``(a, b)`` with cosine ``s``, AS-Norm (Matejka et al. 2017) is
``0.5 · ((s − μ_a) / σ_a + (s − μ_b) / σ_b)``, where ``μ_x, σ_x`` are the mean and standard
deviation of the ``top_k`` highest cosines of ``x`` to the cohort: one ``[N, D] × [D, K]``
product for ``N`` embeddings. Scores are then no longer in [-1, 1] (about -5 … 15).

A calibration fitted on normalised scores records :attr:`ScoreNormalizer.key`, and one
fitted on raw cosines records nothing; :meth:`Calibration.check_model
<bioverify.calibration.Calibration.check_model>` refuses a mismatch, so a threshold is only
ever applied to the kind of score it was measured on.

:func:`install_cohort` writes a cohort into a bundle (``bioverify cohort`` embeds the
training identities of a split with the bundle's own runtime and calls it).
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from bioverify.bundle import BundleInfo, file_sha256, write_bundle_json
from bioverify.errors import InvalidInput, ModelError, ModelMismatch

#: the only method so far
AS_NORM = "as-norm"
#: the cohort file a bundle gets from :func:`install_cohort`
COHORT_FILE = "cohort.npy"
#: what ``score_normalization=`` / ``--score-norm`` accept: the bundle's, or raw cosines
CHOICES = ("bundle", "none")
#: added to each cohort standard deviation (a cohort of identical scores must not divide by 0)
STD_FLOOR = 1e-6
#: largest accepted deviation of a cohort row's norm from 1
_UNIT_TOLERANCE = 1e-3


@dataclass(frozen=True)
class ScoreNormalizer:
    """AS-Norm with a cohort: ``float64 [K, D]`` unit rows and the ``top_k`` it averages.

    Examples
    --------
    >>> cohort = np.eye(4)[[0, 1, 2, 3, 0, 1]]
    >>> norm = ScoreNormalizer(cohort, top_k=3, cohort_sha256="0" * 64)
    >>> a, b = np.array([[1.0, 0, 0, 0]]), np.array([[0.6, 0.8, 0, 0]])
    >>> float(np.sum(a * b)), norm.score(a, b).round(2)  # raw cosine, AS-Norm score
    (0.6, array([-0.78]))

    Both ``a`` and ``b`` score higher against their closest cohort rows than against each
    other, so the normalised score is negative.
    """

    cohort: np.ndarray
    top_k: int
    cohort_sha256: str

    def __post_init__(self) -> None:
        if self.cohort.ndim != 2 or len(self.cohort) < 2:
            raise ModelError("an AS-Norm cohort needs at least 2 embeddings [K, D]")
        if not 1 <= self.top_k <= len(self.cohort):
            raise ModelError(f"AS-Norm top_k {self.top_k} must be in 1..{len(self.cohort)}")

    @property
    def key(self) -> str:
        """What a calibration on these scores records: method, ``top_k`` and cohort sha256."""
        return _key(self.top_k, self.cohort_sha256)

    def stats(self, embeddings: np.ndarray) -> np.ndarray:
        """``float64 [N, 2]``: mean and standard deviation (+ :data:`STD_FLOOR`) of each row's
        ``top_k`` highest cosines to the cohort."""
        rows = np.asarray(embeddings, dtype=np.float64).reshape(-1, self.cohort.shape[1])
        # one matrix-vector product per row: a row's statistics do not depend on the rows
        # scored with it (a batched product may round differently), so the gallery's batch
        # of candidates scores exactly as one claim does
        scores = np.stack([self.cohort @ row for row in rows]) if len(rows) else rows[:, :0]
        k = self.top_k
        top = np.partition(scores, scores.shape[1] - k, axis=1)[:, scores.shape[1] - k :]
        return np.stack([top.mean(axis=1), top.std(axis=1) + STD_FLOOR], axis=1)

    @staticmethod
    def normalize(raw: np.ndarray, stats_a: np.ndarray, stats_b: np.ndarray) -> np.ndarray:
        """AS-Norm of raw cosines given both sides' cohort statistics (broadcasting)."""
        raw = np.asarray(raw, dtype=np.float64)
        return 0.5 * (
            (raw - stats_a[..., 0]) / stats_a[..., 1] + (raw - stats_b[..., 0]) / stats_b[..., 1]
        )

    def score(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Normalised scores of the row pairs ``(a[i], b[i])`` (unit embeddings)."""
        a = np.atleast_2d(np.asarray(a, dtype=np.float64))
        b = np.atleast_2d(np.asarray(b, dtype=np.float64))
        raw = np.clip(np.sum(a * b, axis=1), -1.0, 1.0)
        return self.normalize(raw, self.stats(a), self.stats(b))


def _key(top_k: int, cohort_sha256: str) -> str:
    return f"{AS_NORM} top_k={top_k} cohort_sha256={cohort_sha256}"


def bundle_key(info: BundleInfo) -> str | None:
    """The :attr:`ScoreNormalizer.key` of a bundle's default scores (``None``: raw cosines),
    from ``bundle.json`` alone: what its calibration must record."""
    section = info.score_normalization
    return _key(section["top_k"], section["cohort_sha256"]) if section else None


def load_normalizer(info: BundleInfo, choice: str = "bundle") -> ScoreNormalizer | None:
    """The bundle's :class:`ScoreNormalizer` (``choice="bundle"``, when it has a cohort) or
    ``None`` (``choice="none"``: raw cosine scores).

    Examples
    --------
    The default voice bundle ships without a cohort (raw cosine scores); one with a cohort
    installed gets its normaliser unless ``"none"`` is chosen:

    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> from bioverify.bundle import load_bundle
    >>> from bioverify.verify.defaults import resolve_model
    >>> load_normalizer(load_bundle(resolve_model("voice"))) is None
    True
    >>> folder = Path(tempfile.mkdtemp()) / "voice"
    >>> _ = shutil.copytree(resolve_model("voice"), folder)
    >>> _ = install_cohort(load_bundle(folder), np.eye(256, dtype=np.float32)[:10], 5, "test")
    >>> load_normalizer(load_bundle(folder)).top_k
    5
    >>> load_normalizer(load_bundle(folder), "none") is None
    True
    """
    if choice not in CHOICES:
        raise InvalidInput(f"score_normalization must be one of {CHOICES}, got {choice!r}")
    if choice == "none" or not info.score_normalization:
        return None
    path = info.folder / info.score_normalization["cohort_file"]
    try:  # read once: the bytes hashed are the bytes loaded
        data = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read the cohort ({exc.strerror})") from exc
    digest = hashlib.sha256(data).hexdigest()
    if digest != info.score_normalization["cohort_sha256"]:
        raise ModelMismatch(
            f"{path}: the cohort's sha256 does not match bundle.json; the file was changed or "
            "corrupted"
        )
    try:
        cohort = np.load(io.BytesIO(data), allow_pickle=False)
    except ValueError as exc:
        raise ModelError(f"{path}: not a readable .npy cohort ({exc})") from exc
    if cohort.dtype != np.float32 or cohort.ndim != 2 or cohort.shape[1] != info.embedding_dim:
        raise ModelError(
            f"{path}: the cohort must be float32 [K, {info.embedding_dim}], got "
            f"{cohort.dtype} {list(cohort.shape)}"
        )
    norms = np.linalg.norm(cohort.astype(np.float64), axis=1)
    if not np.all(np.isfinite(norms)) or np.any(np.abs(norms - 1.0) > _UNIT_TOLERANCE):
        raise ModelError(f"{path}: the cohort's rows must be finite unit vectors")
    return ScoreNormalizer(
        cohort.astype(np.float64), int(info.score_normalization["top_k"]), digest
    )


def install_cohort(
    bundle: BundleInfo, embeddings: np.ndarray, top_k: int, source: str
) -> dict[str, Any]:
    """Write ``embeddings`` as the bundle's ``cohort.npy`` and name it in ``bundle.json``;
    returns the new ``score_normalization`` section. The model file is not touched, so the
    model's sha256 (and its galleries) stay valid; its calibrations on raw scores no longer
    match and must be refitted.

    Examples
    --------
    >>> import shutil, tempfile
    >>> from pathlib import Path
    >>> from bioverify.bundle import load_bundle
    >>> from bioverify.verify.defaults import resolve_model
    >>> folder = Path(tempfile.mkdtemp()) / "voice"
    >>> _ = shutil.copytree(resolve_model("voice"), folder)
    >>> rows = np.eye(256, dtype=np.float32)[:10]
    >>> install_cohort(load_bundle(folder), rows, 5, "10 test rows")["top_k"]
    5
    """
    rows = np.asarray(embeddings, dtype=np.float32)
    if rows.ndim != 2 or rows.shape[1] != bundle.embedding_dim or not 1 <= top_k <= len(rows):
        raise InvalidInput(
            f"a cohort of shape {list(rows.shape)} with top_k {top_k} does not fit "
            f"{bundle.name} (embedding size {bundle.embedding_dim})"
        )
    path = bundle.folder / COHORT_FILE
    with open(path, "wb") as out:
        np.save(out, np.ascontiguousarray(rows), allow_pickle=False)
    section = {
        "method": AS_NORM,
        "top_k": int(top_k),
        "cohort_file": COHORT_FILE,
        "cohort_sha256": file_sha256(path),
        "cohort_source": source,
    }
    write_bundle_json(replace(bundle, score_normalization=section))
    return section


__all__ = [
    "AS_NORM",
    "CHOICES",
    "COHORT_FILE",
    "ScoreNormalizer",
    "bundle_key",
    "install_cohort",
    "load_normalizer",
]
