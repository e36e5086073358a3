"""A fake verifier for gallery tests: deterministic embeddings from file contents.

A sample file holds ``person:sample`` text. Its embedding is the unit vector of
``base(person) + 0.3 * noise(whole text)``, both drawn from generators seeded by sha256
of the model seed and the text, so samples of one person score high against each other
(about 0.9) and samples of two people score near 0. A file starting with ``noface`` fails
to acquire. Another ``seed`` is another "model": another sha256 and other embeddings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bioverify.bundle import BundleInfo
from bioverify.errors import BioverifyError, InvalidInput, NoFaceFound


def _unit(seed: str, dim: int) -> np.ndarray:
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed.encode()).digest()[:8]))
    vector = rng.standard_normal(dim)
    return vector / np.linalg.norm(vector)


@dataclass
class FakeAcquired:
    embedding: np.ndarray
    quality: dict[str, Any]
    notes: list[str]
    source: str


@dataclass
class FakeResult:
    match: bool
    score: float
    threshold: float | None
    notes: list[str] = field(default_factory=list)
    operating_point: str | None = None
    far: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "match": self.match,
            "score": self.score,
            "threshold": self.threshold,
            "notes": list(self.notes),
        }


class FakeVerifier:
    def __init__(
        self,
        seed: str = "model-a",
        dim: int = 64,
        threshold: float | None = 0.5,
        modality: str = "face",
        bundle: Path | None = None,
    ) -> None:
        self.seed = seed
        self.model_sha256 = hashlib.sha256(seed.encode()).hexdigest()
        self.modality = modality
        self.embedding_dim = dim
        self.threshold = threshold
        self.operating_point = None if threshold is None else "FAR=0.001"
        self.calibration = None
        folder = bundle or Path(f"/nonexistent/bundles/{seed}")
        self.info = BundleInfo(
            name=seed,
            modality=modality,
            embedding_dim=dim,
            precision="fp32",
            model_path=folder / "model.onnx",
            model_sha256=self.model_sha256,
            input={},
            output={},
            preprocessing={},
        )
        self.calls = 0  # samples acquired
        self.batches = 0  # calls of try_acquire_many

    def embed_text(self, text: str) -> np.ndarray:
        person = text.partition(":")[0]
        vector = _unit(f"{self.seed}/{person}", self.embedding_dim) + 0.3 * _unit(
            f"{self.seed}/{text}", self.embedding_dim
        )
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    def acquire(self, x: Any) -> FakeAcquired:
        self.calls += 1
        try:
            data = Path(x).read_bytes() if isinstance(x, str | Path) else bytes(x)
        except OSError as exc:
            raise InvalidInput(f"{x}: cannot read") from exc
        if data.startswith(b"noface"):
            raise NoFaceFound(f"{x}: no face found")
        return FakeAcquired(
            self.embed_text(data.decode()), {"face_box": [1, 2, 3, 4], "face_size": 96}, [], str(x)
        )

    def try_acquire_many(self, inputs: Iterable[Any]) -> list[FakeAcquired | BioverifyError]:
        self.batches += 1
        results: list[FakeAcquired | BioverifyError] = []
        for x in inputs:
            try:
                results.append(self.acquire(x))
            except (InvalidInput, NoFaceFound) as exc:
                results.append(exc)
        return results

    def score_templates(self, probe: np.ndarray, templates: np.ndarray) -> np.ndarray:
        return np.sum(np.atleast_2d(templates).astype(np.float64) * probe, axis=1)

    def result_for(self, score: float, notes: Sequence[str] = ()) -> FakeResult:
        match = self.threshold is not None and score >= self.threshold
        return FakeResult(match, float(score), self.threshold, list(notes))


def write_samples(folder: Path, person: str, n: int, start: int = 0) -> list[Path]:
    """``n`` sample files of ``person`` in ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(start, start + n):
        path = folder / f"{person}_{i}.txt"
        path.write_text(f"{person}:{i}")
        paths.append(path)
    return paths


def enroll_people(gallery: Any, root: Path, people: dict[str, int]) -> None:
    """Enrols ``n`` fresh sample files (under ``root/person``) for each ``person: n``; every
    one must be enrolled."""
    for person, n in people.items():
        report = gallery.enroll(person, write_samples(root / person, person, n))
        assert report.ok and len(report.enrolled) == n
