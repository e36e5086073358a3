"""Adaptive symmetric score normalisation (AS-Norm) for a voice bundle: does it lower EER?

A cohort of training-speaker embeddings (``--cohort-size`` random clips of the split's
``train`` speakers, seed 0) is embedded through the runtime like any input. For a trial
``(a, b)`` with cosine ``s``, AS-Norm (Matejka et al. 2017) is
``0.5 · ((s − μ_a) / σ_a + (s − μ_b) / σ_b)``, where ``μ_x, σ_x`` are the mean and standard
deviation of ``x``'s ``k`` highest cosines to the cohort. ``k`` is chosen on the ``val``
speakers and reported on the ``test`` speakers, raw cosine beside it, on the trials of
:mod:`benchmarks.protocol` (pooled and per corpus). This is an experiment: the runtime does
not normalise scores.

Usage::

    PYTHONPATH=src .venv/bin/python -m benchmarks.bench_voice_asnorm src/bioverify/models/voice \
        --data ../shared/data/speakers/arabic_speech_commands \
        --data ../shared/data/speakers/common_voice_fa/manifest.csv \
        --data ../shared/data/speakers/urdu_speech \
        --split benchmarks/splits/speakers.json --out benchmarks/results/voice_asnorm
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.protocol import TRIAL_PROTOCOL
from bioverify.calibration.llr import min_dcf
from bioverify.calibration.roc import RocCurve, eer
from bioverify.calibration.trials import make_trials
from bioverify.training.data import Sample, scan_datasets
from bioverify.training.splits import load_split
from bioverify.verify import Verifier
from bioverify.verify.result import Acquired

TOP_K = (50, 100, 200, 400)


def embed(verifier: Verifier, samples: Sequence[Sample]) -> tuple[np.ndarray, list[Sample]]:
    results = verifier.try_acquire_many([s.path for s in samples])
    kept = [s for s, r in zip(samples, results, strict=True) if isinstance(r, Acquired)]
    return np.stack([r.embedding for r in results if isinstance(r, Acquired)]), kept


def cohort_stats(embeddings: np.ndarray, cohort: np.ndarray, k: int) -> np.ndarray:
    """``[N, 2]``: mean and standard deviation of each row's ``k`` highest cohort cosines."""
    scores = embeddings @ cohort.T
    top = -np.sort(-scores, axis=1)[:, :k]
    return np.stack([top.mean(axis=1), top.std(axis=1) + 1e-6], axis=1)


def score(embeddings: np.ndarray, samples: list[Sample], stats: np.ndarray | None) -> dict:
    """EER and minDCF (p_target 0.01), pooled and per corpus, raw or AS-normalised."""
    groups: dict[str, np.ndarray] = {"pooled": np.ones(len(samples), bool)}
    for source in sorted({str(s.source) for s in samples}):
        groups[source] = np.array([str(s.source) == source for s in samples])
    out: dict[str, Any] = {}
    for name, rows in groups.items():
        index = np.flatnonzero(rows)
        identities = [samples[i].identity for i in index]
        counts = np.unique(identities, return_counts=True)[1]
        cross = int((counts.sum() ** 2 - (counts**2).sum()) // 2)
        protocol = dict(TRIAL_PROTOCOL, min_impostor=min(TRIAL_PROTOCOL["min_impostor"], cross))
        trials = make_trials(identities, **protocol)  # type: ignore[arg-type]
        a, b = index[trials.i], index[trials.j]
        s = np.sum(embeddings[a] * embeddings[b], axis=1)
        if stats is not None:
            s = 0.5 * ((s - stats[a, 0]) / stats[a, 1] + (s - stats[b, 0]) / stats[b, 1])
        curve = RocCurve.from_scores(s, trials.genuine)
        out[name] = {
            "eer": eer(curve).eer,
            "min_dcf_0.01": min_dcf(s, trials.genuine, p_target=0.01, curve=curve)[0],
            "n_genuine": int(trials.genuine.sum()),
            "n_impostor": int((~trials.genuine).sum()),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--cohort-size", type=int, default=1000)
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.json and OUT.md")
    args = parser.parse_args()

    inventory = scan_datasets(args.data, progress=False)
    split = load_split(args.split, inventory, check_content=False)
    verifier = Verifier.load(args.bundle, calibration=False)
    train = split.samples(inventory, "train")
    chosen = np.random.default_rng(0).permutation(len(train))[: args.cohort_size]
    cohort, _ = embed(verifier, [train[i] for i in sorted(chosen)])
    result: dict[str, Any] = {"bundle": str(args.bundle), "cohort": len(cohort)}
    for part in ("val", "test"):
        embeddings, kept = embed(verifier, split.samples(inventory, part))
        result[part] = {"raw": score(embeddings, kept, None)}
        for k in TOP_K:
            stats = cohort_stats(embeddings, cohort, k)
            result[part][f"asnorm_top{k}"] = score(embeddings, kept, stats)
    val = result["val"]
    best = min((m for m in val if m != "raw"), key=lambda m: val[m]["pooled"]["eer"])
    result["chosen_on_val"] = best
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# AS-Norm experiment: {args.bundle} (cohort {len(cohort)} train clips)",
        "",
        "Command: `PYTHONPATH=src .venv/bin/python -m benchmarks.bench_voice_asnorm "
        f"{args.bundle}"
        + "".join(f" --data {d}" for d in args.data)
        + f" --split {args.split} --cohort-size {args.cohort_size} --out {args.out}`",
        "",
        f"EER % / minDCF (p_target 0.01); top-k chosen on val: **{best}**.",
        "",
    ]
    for part in ("val", "test"):
        corpora = list(result[part]["raw"])
        lines += [f"## {part} speakers", "", "| scoring | " + " | ".join(corpora) + " |"]
        lines.append("| --- |" + " --- |" * len(corpora))
        for method, table in result[part].items():
            cells = [
                f"{100 * table[c]['eer']:.2f} / {table[c]['min_dcf_0.01']:.3f}" for c in corpora
            ]
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
