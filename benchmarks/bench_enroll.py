"""Enrollment speed with the packaged default face model on real photos (LFW).

``--identities`` LFW people with at least ``--per-identity`` images each (sorted by name),
their first ``--per-identity`` images, ``face_mode="aligned"``, on this CPU:

1. Acquisition alone, both ways in one run: one :meth:`Verifier.acquire` per image (how
   enrollment worked before batching) vs one :meth:`Verifier.try_acquire_many` per identity
   (how :meth:`Gallery.enroll` embeds now); images/s and the ratio, best of ``--rounds``.
2. ``Gallery.enroll`` of every identity into a fresh gallery (one durable transaction each),
   then the same enrollment again — what re-running a stopped ``enroll --from`` costs: the
   files are recognised by sha256 and not embedded.

Usage::

    python -m benchmarks.bench_enroll [--identities 60] [--per-identity 5]

Writes ``benchmarks/results/enroll.json`` and ``enroll.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from bioverify.gallery import Gallery
from bioverify.verify import Verifier
from bioverify.verify.api import default_bundle

RESULTS = Path(__file__).resolve().parent / "results"
LFW = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "faces" / "lfw"


def people(root: Path, n: int, k: int) -> dict[str, list[Path]]:
    chosen: dict[str, list[Path]] = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        images = sorted(folder.glob("*.jpg"))
        if len(images) >= k:
            chosen[folder.name] = images[:k]
        if len(chosen) == n:
            break
    return chosen


def rate(count: int, seconds: float) -> float:
    return round(count / seconds, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=LFW)
    parser.add_argument("--identities", type=int, default=60)
    parser.add_argument("--per-identity", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS / "enroll.json")
    args = parser.parse_args()

    groups = people(args.data, args.identities, args.per_identity)
    files = [f for paths in groups.values() for f in paths]
    verifier = Verifier.load(default_bundle("face"), face_mode="aligned")
    verifier.embed(files[:2])  # warm-up
    single, batched = [], []
    for _ in range(args.rounds):
        start = time.perf_counter()
        for path in files:
            verifier.acquire(path)
        single.append(time.perf_counter() - start)
        start = time.perf_counter()
        for paths in groups.values():
            verifier.try_acquire_many(paths)
        batched.append(time.perf_counter() - start)
    with tempfile.TemporaryDirectory() as folder, Gallery(Path(folder) / "g.db", verifier) as g:
        start = time.perf_counter()
        added = sum(len(g.enroll(name, paths).enrolled) for name, paths in groups.items())
        first = time.perf_counter() - start
        start = time.perf_counter()
        again = sum(len(g.enroll(name, paths).enrolled) for name, paths in groups.items())
        rerun = time.perf_counter() - start
    result: dict[str, Any] = {
        "model": verifier.info.name,
        "model_sha256": verifier.model_sha256,
        "identities": len(groups),
        "images": len(files),
        "acquire_one_by_one_images_per_s": rate(len(files), min(single)),
        "acquire_batched_per_identity_images_per_s": rate(len(files), min(batched)),
        "batched_speedup": round(min(single) / min(batched), 2),
        "enroll_first_images_per_s": rate(len(files), first),
        "enroll_first_seconds": round(first, 2),
        "templates_added": added,
        "enroll_again_seconds": round(rerun, 3),
        "templates_added_again": again,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    r = result
    lines = [
        "# Enrollment speed (default face model, LFW photos, aligned mode)",
        "",
        "`python -m benchmarks.bench_enroll "
        f"--identities {args.identities} --per-identity {args.per_identity}`",
        "",
        f"{r['identities']} identities x {args.per_identity} images ({r['images']} images), "
        f"model {r['model']} ({r['model_sha256'][:12]}…), {r['cpus']} CPUs, load average "
        f"{r['load_average']} at the end; best of {args.rounds} rounds for acquisition.",
        "",
        "| what | result |",
        "| --- | --- |",
        f"| acquisition, one image per call | {r['acquire_one_by_one_images_per_s']} images/s |",
        "| acquisition, one batch per identity (as `Gallery.enroll` does) | "
        f"{r['acquire_batched_per_identity_images_per_s']} images/s "
        f"({r['batched_speedup']}x) |",
        f"| `Gallery.enroll`, fresh gallery | {r['enroll_first_images_per_s']} images/s "
        f"({r['enroll_first_seconds']} s, {r['templates_added']} templates) |",
        f"| the same enrollment again (resume) | {r['enroll_again_seconds']} s, "
        f"{r['templates_added_again']} templates added (files recognised by sha256) |",
        "",
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
