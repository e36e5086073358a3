"""PostgreSQL + pgvector gallery: identification latency and recall, HNSW vs exact, index
build, and enrollment throughput against the SQLite gallery in the same run.

A PostgreSQL server with pgvector is started by ``pgserver`` in a temporary folder. For
each ``--dims`` value, ``--n`` random unit templates (one identity each; seed 0) are
bulk-loaded with ``COPY`` into a gallery made by :class:`PostgresStore`, the HNSW index is
built (timed; its size from ``pg_relation_size``), and ``Gallery.identify`` runs for
``--queries`` probes of two kinds: *matched* (a noisy copy of an enrolled template, cosine
about 0.9) and *open* (a random vector, nobody). The search is forced exact (sequential
scan) or HNSW at several ``hnsw.ef_search`` values; recall@k is the share of the exact
top-k (numpy, float32) that the search returns. Model time is excluded: a stand-in
verifier returns the probe array as its embedding.

Enrollment: ``Gallery.enroll`` of ``--enroll-n`` identities x 3 templates into a fresh
SQLite file and a fresh PostgreSQL gallery (one transaction per identity each), at the
last of ``--dims``; ``--only-enroll`` measures only that (seconds, not the many minutes of
the search part).

Usage::

    python -m benchmarks.bench_gallery_postgres [--n 100000] [--dims 128 512] [--only-enroll]

Writes ``benchmarks/results/gallery_postgres.json`` and ``.md``
(``gallery_postgres_enroll`` with ``--only-enroll``).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_identify import ArrayVerifier, probes, timed, unit_rows
from bioverify.gallery import Gallery, postgres, postgres_schema
from bioverify.gallery.postgres import PostgresStore

RESULTS = Path(__file__).resolve().parent / "results"
MODEL = "0" * 64
#: a decision threshold for the agreement metric: matched probes score about 0.9 with their
#: identity, random pairs about 0 (sd 1/sqrt(dim))
DECISION_THRESHOLD = 0.5
EF_SEARCH = (40, 100, 200, 400)


def _field(data: bytes) -> bytes:
    return struct.pack(">i", len(data)) + data


def _vector(row: np.ndarray) -> bytes:
    return struct.pack(">HH", len(row), 0) + row.astype(">f4").tobytes()


def copy_rows(store: PostgresStore, matrix: np.ndarray) -> float:
    """Identities and one template each, by binary COPY; seconds taken."""
    start = time.perf_counter()
    header, trailer = b"PGCOPY\n\xff\r\n\0" + struct.pack(">ii", 0, 0), struct.pack(">h", -1)
    now = b"2026-01-01T00:00:00+00:00"
    identities, templates = [header], [header]
    for i, row in enumerate(matrix):
        name, vector = f"id{i:07d}".encode(), _vector(row)
        identities.append(
            struct.pack(">h", 4) + _field(name) + _field(now) + _field(vector)
            + _field(struct.pack(">i", 1))
        )  # fmt: skip
        templates.append(
            struct.pack(">h", 7) + _field(name) + _field(vector) + _field(name + b".jpg")
            + _field(b"{}") + _field(b"[]") + _field(now) + _field(MODEL.encode())
        )  # fmt: skip
    with store.write() as tx, tx.conn.cursor() as cursor:
        tx.conn.execute(postgres_schema.drop_index(store.schema))
        with cursor.copy(
            "COPY identities (id, created, mean, n_templates) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(b"".join([*identities, trailer]))
        with cursor.copy(
            "COPY templates (identity, embedding, source_name, quality, notes, enrolled_at, "
            "model_sha256) FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.write(b"".join([*templates, trailer]))
    return time.perf_counter() - start


def build_index(store: PostgresStore, dim: int) -> dict[str, float]:
    """Build the HNSW index (1 GiB maintenance memory, one parallel worker); seconds and
    sizes in MiB."""
    with store.write() as tx:
        tx.conn.execute("SET LOCAL maintenance_work_mem = '1GB'")
        tx.conn.execute("SET LOCAL max_parallel_maintenance_workers = 1")
        start = time.perf_counter()
        tx.conn.execute(postgres_schema.create_index(store.schema, dim))
        seconds = time.perf_counter() - start
        tx.conn.execute("ANALYZE identities")
    with store.read() as tx:
        sizes = tx.execute(
            "SELECT pg_relation_size(?::regclass), pg_total_relation_size('identities'), "
            "pg_total_relation_size('templates')",
            (f"{store.schema}.{postgres_schema.INDEX_NAME}",),
        ).fetchone()
    return {
        "build_seconds": round(seconds, 1),
        "index_mib": round(sizes[0] / 2**20, 1),
        "identities_table_with_indexes_mib": round(sizes[1] / 2**20, 1),
        "templates_table_mib": round(sizes[2] / 2**20, 1),
    }


def run_queries(
    gallery: Gallery, queries: np.ndarray, k: int
) -> tuple[dict, list[list[str]], list[list[str]]]:
    """Latency stats, the top-k identities of each query, and those scoring at or above
    :data:`DECISION_THRESHOLD` (what an open-set decision would accept)."""
    stats, found = timed(lambda q: gallery.identify(q, k).candidates, queries)
    ranked = [[c.identity for c in candidates] for candidates in found]
    accepted = [[c.identity for c in cs if c.score >= DECISION_THRESHOLD] for cs in found]
    return {key: round(value, 2) for key, value in stats.items()}, ranked, accepted


def recall(found: list[list[str]], exact: list[list[str]], k: int) -> float:
    return float(
        np.mean([len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact, strict=True)])
    )


def search_benchmark(url: str, n: int, dim: int, n_queries: int, n_exact: int) -> dict[str, Any]:
    rng = np.random.default_rng(0)
    matrix = unit_rows(rng, n, dim)
    matched, _ = probes(rng, matrix, n_queries)
    kinds = {"matched": matched, "open": unit_rows(rng, n_queries, dim)}
    ids = [f"id{i:07d}" for i in range(n)]
    location = f"{url}&schema=bench_{dim}_{n}"
    meta = {"model_sha256": MODEL, "modality": "face", "embedding_dim": str(dim)}
    store = PostgresStore(location, meta)
    result: dict[str, Any] = {
        "n": n,
        "dim": dim,
        "copy_seconds": round(copy_rows(store, matrix), 1),
    }
    result["index"] = build_index(store, dim)
    store.close()
    verifier = ArrayVerifier(dim, threshold=-1.0)  # every top-k identity is a candidate
    rows: list[dict[str, Any]] = []
    with Gallery(location, verifier) as gallery:  # type: ignore[arg-type]
        for kind, queries in kinds.items():
            scores = queries @ matrix.T
            top = [np.argsort(-row, kind="stable")[:5] for row in scores]
            accept = [
                [ids[j] for j in t if row[j] >= DECISION_THRESHOLD]
                for t, row in zip(top, scores, strict=True)
            ]
            truth = [[ids[j] for j in t] for t in top]
            searches = [("exact", n + 1, 40, n_exact)]  # exact: sequential scan
            searches += [(f"hnsw ef_search={ef}", 0, ef, len(queries)) for ef in EF_SEARCH]
            for name, min_identities, ef, count in searches:
                postgres.HNSW_MIN_IDENTITIES, postgres.HNSW_EF_SEARCH = min_identities, ef
                stats, found, accepted = run_queries(gallery, queries[:count], 5)
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
        f"pgvector {report['pgvector']}, PostgreSQL {report['postgres']} (pgserver, default "
        f"settings but shared_buffers {report['shared_buffers']}); {report['cpus']} CPUs shared "
        f"with other jobs, load average {report['load_before']} before, {report['load_after']} "
        "after; client and server on this machine."
        + (
            " Latency is `Gallery.identify` end to end (top-5, exact re-scoring included); "
            "recall against the exact top-k in numpy; 'decisions agree': the identities scoring "
            f">= {DECISION_THRESHOLD} are exactly those of an exact search (the open-set "
            "decision)."
            if searched
            else ""
        ),
        "",
    ]
    for run in report["search"]:
        index = run["index"]
        lines += [
            f"## {run['n']:,} identities x {run['dim']}-d",
            "",
            f"COPY load {run['copy_seconds']} s; HNSW build (m={postgres_schema.HNSW_M}, "
            f"ef_construction={postgres_schema.HNSW_EF_CONSTRUCTION}, 1 GiB "
            f"maintenance_work_mem, 1 parallel worker) {index['build_seconds']} s; index "
            f"{index['index_mib']} MiB; identities table with indexes "
            f"{index['identities_table_with_indexes_mib']} MiB; templates "
            f"{index['templates_table_mib']} MiB.",
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
    parser.add_argument("--out", type=Path, help="default results/gallery_postgres[_enroll]")
    args = parser.parse_args()
    out = args.out or RESULTS / f"gallery_postgres{'_enroll' if args.only_enroll else ''}"
    import pgserver
    from pgserver._commands import pg_ctl

    report: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as folder:
        server = pgserver.get_server(Path(folder) / "pg", cleanup_mode="stop")
        try:
            server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
            server.psql(f"ALTER SYSTEM SET shared_buffers = '{args.shared_buffers}';")
            pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user)
            url = server.get_uri()
            import psycopg

            with psycopg.connect(url) as conn:
                report["postgres"] = conn.execute("SHOW server_version").fetchone()[0]
                report["shared_buffers"] = conn.execute("SHOW shared_buffers").fetchone()[0]
                report["pgvector"] = conn.execute(
                    "SELECT extversion FROM pg_extension WHERE extname = 'vector'"
                ).fetchone()[0]
            report["search"] = [
                search_benchmark(url, args.n, dim, args.queries, args.exact_queries)
                for dim in ([] if args.only_enroll else args.dims)
            ]
            dim = args.dims[-1]
            report["enroll_n"], report["enroll_dim"] = args.enroll_n, dim
            report["enroll_templates_per_s"] = {
                "sqlite": enroll_rate(Path(folder) / "enroll.db", dim, args.enroll_n),
                "postgresql": enroll_rate(f"{url}&schema=enroll", dim, args.enroll_n),
            }
        finally:
            server.cleanup()
    report["load_after"] = os.getloadavg()[0]
    command = "python -m benchmarks.bench_gallery_postgres " + " ".join(sys.argv[1:])
    report["command"] = command.strip()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    text = markdown(report, report["command"])
    out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
