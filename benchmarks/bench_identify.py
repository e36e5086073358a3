"""Speed of 1:N identification and of enrollment in a :class:`bioverify.gallery.Gallery`.

Data (seed 0): ``--n`` random unit templates of dimension ``--dim`` (one identity each) and
``--queries`` probes, each a noisy copy of a random template (so every probe has a true
match, cosine about 0.9). Model time is excluded throughout: a stand-in verifier returns the
probe array itself as its embedding, so what is measured is the gallery.

1. Search alone: :class:`TemplateIndex` top-``--top-k`` with the numpy backend (one
   matrix-vector product + argpartition) and, when ``faiss`` is importable, the FAISS
   ``IndexFlatIP`` backend; per-query latency median and p95 (ms), results checked equal.
2. End to end: a gallery file with all ``--n`` identities (bulk-loaded in one
   transaction), then ``Gallery.identify`` per probe (default numpy backend): the cache
   check (one SQLite read), the search and the decisions; the first (cold) call, which
   loads the matrix from SQLite, is reported apart.

Latency is wall-clock; "CPU ms" is the process's CPU time per query, which stays
meaningful when other jobs compete for the cores (the load average is recorded).
3. Enrollment throughput: ``Gallery.enroll`` of ``--enroll-n`` identities with 3 templates
   each, one durable transaction (``synchronous=FULL``) per identity, into a fresh gallery.

Usage::

    python benchmarks/bench_identify.py [--n 100000] [--dim 512] [--queries 200]

Writes ``benchmarks/results/identify.json`` and ``identify.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bioverify.bundle import BundleInfo
from bioverify.gallery import Gallery, TemplateIndex, faiss_available
from bioverify.gallery.database import Database
from bioverify.gallery.records import NewTemplate, SourceRecord, add_templates

RESULTS = Path(__file__).resolve().parent / "results"
TARGET_MS = 50.0


@dataclass
class _Acquired:
    embedding: np.ndarray
    quality: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    source: str = "<array>"


@dataclass
class _Result:
    match: bool
    score: float

    def to_dict(self) -> dict[str, Any]:
        return {"match": self.match, "score": self.score}


class ArrayVerifier:
    """Stands in for a model: the input array is its own embedding."""

    def __init__(self, dim: int, threshold: float = 0.5) -> None:
        self.model_sha256 = "0" * 64
        self.modality = "face"
        self.embedding_dim = dim
        self.threshold = threshold
        self.info = BundleInfo(
            "bench", "face", dim, "fp32", Path("/bench/model.onnx"), "0" * 64, {}, {}, {}
        )

    def acquire(self, x: np.ndarray) -> _Acquired:
        return _Acquired(x)

    def try_acquire_many(self, inputs: Any) -> list[_Acquired]:
        return [_Acquired(x) for x in inputs]

    def score_templates(self, probe: np.ndarray, templates: np.ndarray) -> np.ndarray:
        """Cosine of a unit probe with each unit template (as ``Verifier.score_templates``
        without score normalisation)."""
        return np.atleast_2d(templates).astype(np.float64) @ probe.astype(np.float64)

    def result_for(self, score: float, notes: Any = ()) -> _Result:
        return _Result(score >= self.threshold, score)


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    matrix = rng.standard_normal((n, dim), dtype=np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix


def probes(rng: np.random.Generator, matrix: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    truth = rng.integers(0, len(matrix), n)
    noisy = matrix[truth] + 0.5 * unit_rows(rng, n, matrix.shape[1])
    return noisy / np.linalg.norm(noisy, axis=1, keepdims=True), truth


def latency_ms(wall: list[float], cpu: list[float]) -> dict[str, float]:
    """Wall-clock latency (median, p95, max) and the median CPU time of the process per
    query (all its threads): on a busy machine the CPU time shows the cost of a query
    without the time spent waiting for a core."""
    ms = np.asarray(wall) * 1e3
    return {
        "median_ms": float(np.median(ms)),
        "p95_ms": float(np.percentile(ms, 95)),
        "max_ms": float(ms.max()),
        "median_cpu_ms": float(np.median(cpu) * 1e3),
    }


def timed(call: Any, items: Any) -> tuple[dict[str, float], list[Any]]:
    """Run ``call(item)`` for each item, timing each call; return stats and results."""
    call(items[0])  # warm-up
    wall, cpu, results = [], [], []
    for item in items:
        start, start_cpu = time.perf_counter(), time.process_time()
        results.append(call(item))
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return latency_ms(wall, cpu), results


def time_search(index: TemplateIndex, queries: np.ndarray, k: int) -> tuple[dict, list]:
    stats, found = timed(lambda query: index.search(query, k)[0].tolist(), queries)
    return stats, found


def bulk_gallery(path: Path, matrix: np.ndarray) -> float:
    """A gallery holding one identity per row, written in one transaction; seconds taken."""
    start = time.perf_counter()
    db = Database(path, {"model_sha256": "0" * 64, "modality": "face",
                         "embedding_dim": str(matrix.shape[1]), "bundle_path": ""})  # fmt: skip
    with db.write() as conn:
        for i, row in enumerate(matrix):
            template = NewTemplate(row, SourceRecord(f"id{i:06d}.jpg"))
            add_templates(conn, f"id{i:06d}", [template], "0" * 64, matrix.shape[1])
    db.close()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dim", type=int, default=512)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--top-k", type=int, default=5)
    parser.add_argument("--enroll-n", type=int, default=300)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    load_before = os.getloadavg()
    matrix = unit_rows(rng, args.n, args.dim)
    queries, truth = probes(rng, matrix, args.queries)
    ids = [f"id{i:06d}" for i in range(args.n)]
    report: dict[str, Any] = {
        "n_templates": args.n,
        "dim": args.dim,
        "queries": args.queries,
        "top_k": args.top_k,
        "target_ms": TARGET_MS,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "load_average_before": load_before,
        },
    }

    search = {}
    numpy_stats, numpy_found = time_search(TemplateIndex(ids, matrix, "numpy"), queries, args.top_k)
    search["numpy"] = numpy_stats
    report["top1_correct"] = float(
        np.mean([f[0] == t for f, t in zip(numpy_found, truth, strict=True)])
    )
    if faiss_available():
        import faiss

        index = TemplateIndex(ids, matrix, "faiss")
        threads = faiss.omp_get_max_threads()
        faiss_stats, faiss_found = time_search(index, queries, args.top_k)
        search[f"faiss ({threads} threads)"] = faiss_stats
        faiss.omp_set_num_threads(1)
        search["faiss (1 thread)"], _ = time_search(index, queries, args.top_k)
        faiss.omp_set_num_threads(threads)
        report["faiss_same_results_as_numpy"] = faiss_found == numpy_found
        del index
    report["search"] = search

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        report["bulk_load_seconds"] = bulk_gallery(path, matrix)
        report["gallery_file_mb"] = path.stat().st_size / 2**20
        verifier = ArrayVerifier(args.dim)
        with Gallery(path, verifier) as gallery:  # type: ignore[arg-type]
            start = time.perf_counter()
            gallery.identify(queries[0], args.top_k)
            cold = time.perf_counter() - start
            stats, _ = timed(lambda query: gallery.identify(query, args.top_k), queries)
        end_to_end = {"numpy": {**stats, "first_call_ms": cold * 1e3}}
        report["gallery_identify"] = end_to_end

        enroll_path = Path(tmp) / "enroll.db"
        people = unit_rows(rng, args.enroll_n * 3, args.dim).reshape(args.enroll_n, 3, args.dim)
        with Gallery(enroll_path, verifier) as gallery:  # type: ignore[arg-type]
            start = time.perf_counter()
            for i, samples in enumerate(people):
                gallery.enroll(f"person{i}", list(samples))
            seconds = time.perf_counter() - start
        report["enrollment"] = {
            "identities": args.enroll_n,
            "templates_per_identity": 3,
            "seconds": seconds,
            "identities_per_second": args.enroll_n / seconds,
            "templates_per_second": 3 * args.enroll_n / seconds,
        }
    report["machine"]["load_average_after"] = os.getloadavg()

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "identify.json").write_text(json.dumps(report, indent=2) + "\n")
    (args.out / "identify.md").write_text(markdown(report))
    print(markdown(report))


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# 1:N identification: top-{report['top_k']} over {report['n_templates']:,} "
        f"templates of dimension {report['dim']}",
        "",
        f"{report['queries']} probes; target < {report['target_ms']:g} ms per query; "
        f"{report['machine']['cpus']} CPUs, load average before/after "
        f"{report['machine']['load_average_before'][0]:.2f} / "
        f"{report['machine']['load_average_after'][0]:.2f} (1 min).",
        "",
        "| what | backend | median ms | p95 ms | max ms | median CPU ms |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for label, table in (
        ("search", report["search"]),
        ("Gallery.identify", report["gallery_identify"]),
    ):
        for backend, stats in table.items():
            lines.append(
                f"| {label} | {backend} | {stats['median_ms']:.2f} | {stats['p95_ms']:.2f} | "
                f"{stats['max_ms']:.2f} | {stats['median_cpu_ms']:.2f} |"
            )
    lines += [""]
    for backend, stats in report["gallery_identify"].items():
        lines.append(
            f"- first `identify` ({backend}, loads the matrix from SQLite): "
            f"{stats['first_call_ms']:.0f} ms"
        )
    if "faiss_same_results_as_numpy" in report:
        lines.append(
            f"- FAISS returns the same top-{report['top_k']} as numpy: "
            f"{report['faiss_same_results_as_numpy']}"
        )
    enrollment = report["enrollment"]
    lines += [
        f"- top-1 correct (noisy copies of enrolled templates): {report['top1_correct']:.3f}",
        f"- bulk load of {report['n_templates']:,} identities in one transaction: "
        f"{report['bulk_load_seconds']:.1f} s; gallery file {report['gallery_file_mb']:.0f} MiB",
        f"- enrollment ({enrollment['identities']} identities x "
        f"{enrollment['templates_per_identity']} templates, one durable transaction each, "
        f"model time excluded): {enrollment['identities_per_second']:.0f} identities/s, "
        f"{enrollment['templates_per_second']:.0f} templates/s",
        "",
        "Reproduce: `python benchmarks/bench_identify.py`",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
