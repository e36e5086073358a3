"""A PostgreSQL gallery under concurrent clients, and clients killed mid-enrollment.

A PostgreSQL server with pgvector is started by ``pgserver`` in a temporary folder and a
gallery of ``--base`` random identities (``--dim``-d, HNSW index built) is loaded.

1. **Concurrency**: ``--enrollers`` processes each enroll ``--per-enroller`` new identities
   (3 templates each, one ``Gallery.enroll`` per identity) while ``--identifiers``
   processes each run ``--queries`` ``Gallery.identify`` calls, all started at once.
   Reported: aggregate enrollment throughput, per-call latencies, and afterwards the counts
   (every identity with its 3 templates) and ``Gallery.check()``.
2. **SIGKILL**: ``--kills`` times, a client enrolls identities in a loop, printing each name
   once ``enroll`` has returned (committed), and is killed with SIGKILL after a random
   0.2–1.5 s. Afterwards: every acknowledged identity must be there with all 3 templates
   (lost = 0), no identity may hold fewer or more (partial = 0); an identity committed by
   the server just before the kill but not yet acknowledged is counted apart.

Usage::

    python -m benchmarks.bench_gallery_concurrency [--base 10000] [--dim 128]

Writes ``benchmarks/results/gallery_concurrency.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.bench_gallery_postgres import MODEL, build_index, copy_rows
from benchmarks.bench_identify import unit_rows
from bioverify.gallery import Gallery
from bioverify.gallery.postgres import PostgresStore

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent

# one client: "enroll TAG N" or "identify TAG N" or "loop TAG"; waits for the go file
_CLIENT = """
import json, sys, time
from pathlib import Path
import numpy as np
sys.path[:0] = [{src!r}, {root!r}]
from benchmarks.bench_identify import ArrayVerifier, unit_rows
from bioverify.gallery import Gallery
url, dim, go, role, tag, n = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3]), *sys.argv[4:7]
rng = np.random.default_rng(abs(hash(tag)) % 2**32)
with Gallery(url, ArrayVerifier(dim)) as gallery:
    while not go.exists():
        time.sleep(0.005)
    times, i = [], 0
    while role == "loop" or i < int(n):
        start = time.perf_counter()
        if role == "identify":
            gallery.identify(unit_rows(rng, 1, dim)[0])
        else:
            gallery.enroll(f"{{tag}}-{{i:05d}}", list(unit_rows(rng, 3, dim)))
            if role == "loop":
                print(f"{{tag}}-{{i:05d}}", flush=True)
        times.append(time.perf_counter() - start)
        i += 1
print(json.dumps({{"role": role, "times": times}}))
"""


def _client(url: str, dim: int, go: Path, role: str, tag: str, n: int) -> subprocess.Popen:
    script = _CLIENT.format(src=str(ROOT / "src"), root=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", script, url, str(dim), str(go), role, tag, str(n)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _ms(times: list[float]) -> dict[str, float]:
    ms = np.asarray(times) * 1e3
    return {
        "p50_ms": round(float(np.median(ms)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
    }


def _counts(url: str, prefix: str) -> dict[str, int]:
    """Identity name -> templates actually stored, for names starting with ``prefix``."""
    with Gallery(url) as gallery, gallery._db.read() as tx:
        rows = tx.execute(
            "SELECT i.id, i.n_templates, count(t.id) FROM identities i "
            "LEFT JOIN templates t ON t.identity = i.id WHERE i.id LIKE ? "
            "GROUP BY i.id, i.n_templates",
            (prefix + "%",),
        ).fetchall()
    return {row[0]: int(row[2]) if row[1] == row[2] else -1 for row in rows}


def concurrency(url: str, dim: int, args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    go = folder / "go"
    procs = [
        _client(url, dim, go, "enroll", f"c{i}", args.per_enroller) for i in range(args.enrollers)
    ]
    procs += [
        _client(url, dim, go, "identify", f"q{i}", args.queries) for i in range(args.identifiers)
    ]
    time.sleep(5)  # every client imported and connected
    go.touch()
    start = time.perf_counter()
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=1800)
        if proc.returncode != 0:
            raise RuntimeError(err)
        results.append(json.loads(out.strip().splitlines()[-1]))
    wall = time.perf_counter() - start
    enroll = [t for r in results if r["role"] == "enroll" for t in r["times"]]
    identify = [t for r in results if r["role"] == "identify" for t in r["times"]]
    counts = _counts(url, "c")
    expected = args.enrollers * args.per_enroller
    with Gallery(url) as gallery:
        problems = gallery.check()
    return {
        "processes": len(procs),
        "wall_seconds": round(wall, 1),
        "enroll_templates_per_s": round(3 * len(enroll) / wall, 1),
        "enroll": _ms(enroll),
        "identify": _ms(identify),
        "identities_expected": expected,
        "identities_found_complete": sum(v == 3 for v in counts.values()),
        "check_problems": problems,
    }


def kills(url: str, dim: int, n_kills: int, folder: Path) -> dict[str, Any]:
    acknowledged: list[str] = []
    go = folder / "go-kill"
    go.touch()
    rng = random.Random(0)
    for round_ in range(n_kills):
        proc = _client(url, dim, go, "loop", f"k{round_:02d}", 0)
        assert proc.stdout is not None
        acknowledged.append(proc.stdout.readline().strip())  # running: first one committed
        time.sleep(rng.uniform(0.2, 1.5))
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate(timeout=60)
        acknowledged += [line for line in out.splitlines() if line.startswith("k")]
    counts = _counts(url, "k")
    with Gallery(url) as gallery:
        problems = gallery.check()
    return {
        "kills": n_kills,
        "acknowledged": len(acknowledged),
        "lost": sum(name not in counts for name in acknowledged),
        "partial": sum(v != 3 for v in counts.values()),
        "committed_not_acknowledged": len(set(counts) - set(acknowledged)),
        "check_problems": problems,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--enrollers", type=int, default=4)
    parser.add_argument("--identifiers", type=int, default=4)
    parser.add_argument("--per-enroller", type=int, default=150)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--out", type=Path, default=RESULTS / "gallery_concurrency")
    args = parser.parse_args()
    import pgserver

    report: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0]}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        server = pgserver.get_server(folder / "pg", cleanup_mode="stop")
        try:
            server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
            url = f"{server.get_uri()}&schema=concurrency"
            meta = {"model_sha256": MODEL, "modality": "face", "embedding_dim": str(args.dim)}
            store = PostgresStore(url, meta)
            copy_rows(store, unit_rows(np.random.default_rng(0), args.base, args.dim))
            build_index(store, args.dim)
            store.close()
            report["concurrency"] = concurrency(url, args.dim, args, folder)
            report["sigkill"] = kills(url, args.dim, args.kills, folder)
        finally:
            server.cleanup()
    report["load_after"] = os.getloadavg()[0]
    report["command"] = " ".join(["python -m benchmarks.bench_gallery_concurrency", *sys.argv[1:]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    c, k = report["concurrency"], report["sigkill"]
    text = "\n".join(
        [
            "# PostgreSQL gallery: concurrent clients and SIGKILLed enrollments",
            "",
            f"`{report['command']}`",
            "",
            f"Gallery of {args.base:,} identities x {args.dim}-d (HNSW) on pgserver; "
            f"{report['cpus']} CPUs shared with other jobs (load average "
            f"{report['load_before']:.1f} before, {report['load_after']:.1f} after).",
            "",
            f"**{c['processes']} processes at once** ({args.enrollers} enrolling "
            f"{args.per_enroller} identities x 3 templates each, {args.identifiers} identifying "
            f"{args.queries} probes each): {c['wall_seconds']} s; enrollment "
            f"{c['enroll_templates_per_s']} templates/s in all; `enroll` p50 "
            f"{c['enroll']['p50_ms']} ms, p95 {c['enroll']['p95_ms']} ms; `identify` p50 "
            f"{c['identify']['p50_ms']} ms, p95 {c['identify']['p95_ms']} ms. Afterwards "
            f"{c['identities_found_complete']} of {c['identities_expected']} new identities "
            f"with all 3 templates; `check()` problems: {len(c['check_problems'])}.",
            "",
            f"**SIGKILL** of an enrolling client, {k['kills']} times: {k['acknowledged']} "
            f"enrollments acknowledged, **{k['lost']} lost, {k['partial']} partial**; "
            f"{k['committed_not_acknowledged']} committed by the server but killed before the "
            f"client printed them; `check()` problems: {len(k['check_problems'])}.",
            "",
        ]
    )
    args.out.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
