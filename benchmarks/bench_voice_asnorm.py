"""AS-Norm through the runtime: a voice bundle's scores raw and normalised against its cohort.

The bundle's cohort (``bioverify cohort``: random clips of the split's ``train`` speakers,
embedded by the runtime) normalises a trial ``(a, b)`` with cosine ``s`` to
``0.5 · ((s − μ_a) / σ_a + (s − μ_b) / σ_b)`` (AS-Norm, Matejka et al. 2017), ``μ_x, σ_x``
the mean and standard deviation of ``x``'s ``top_k`` highest cosines to the cohort. The
``val`` and ``test`` speakers (or, for a face bundle, identities: it works for any bundle
with a cohort; ``benchmarks/results/face_asnorm.md``) are embedded once by the runtime and
scored on the trials of :mod:`benchmarks.protocol` (pooled and per corpus) with
:func:`bioverify.verify.evaluation.normalized_scores` — what ``evaluate`` and
``calibrate --model`` use — by a :class:`Verifier` loaded with ``score_normalization="none"``
(raw cosines) and one with the bundle's normalisation; other ``top_k`` values are shown
beside it (the bundle's is chosen on ``val``). A few trials are checked to score the same
through :meth:`Verifier.verify_many` on the files.

Usage::

    PYTHONPATH=src .venv/bin/python -m benchmarks.bench_voice_asnorm src/bioverify/models/voice \
        --data ../shared/data/speakers/arabic_speech_commands \
        --data ../shared/data/speakers/common_voice_fa/manifest.csv \
        --data ../shared/data/speakers/urdu_speech \
        --split benchmarks/splits/speakers.json --out benchmarks/results/voice_asnorm
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.protocol import PROTOCOL
from bioverify.calibration.costs import min_dcf
from bioverify.calibration.roc import RocCurve, eer, threshold_at_far
from bioverify.calibration.scoring import score_trials
from bioverify.datasets.inventory import Sample, scan_datasets
from bioverify.datasets.splits import load_split
from bioverify.verify import Verifier
from bioverify.verify.evaluation import normalized_scores
from bioverify.verify.result import Acquired

#: top_k values shown beside the bundle's
TOP_K = (50, 100, 200, 400)
#: trials re-scored through Verifier.verify_many on the files
CHECKED_TRIALS = 20
#: the target FAR whose pooled-test threshold is applied to every part and corpus
TRANSFER_FAR = 0.01


def embed(verifier: Verifier, samples: Sequence[Sample]) -> tuple[np.ndarray, list[Sample]]:
    results = verifier.try_acquire_many([s.path for s in samples])
    kept = [s for s, r in zip(samples, results, strict=True) if isinstance(r, Acquired)]
    return np.stack([r.embedding for r in results if isinstance(r, Acquired)]), kept


def score(
    verifiers: dict[str, Verifier],
    embeddings: np.ndarray,
    samples: list[Sample],
    kept: dict[tuple[str, str], tuple[np.ndarray, np.ndarray]],
) -> tuple[dict[str, Any], float]:
    """EER and minDCF (p_target 0.01) per scoring, pooled and per corpus; and the largest
    difference between these scores and ``verify_many``'s on a few pooled trials. Each
    scoring's ``(scores, genuine)`` per group are put in ``kept``."""
    groups: dict[str, np.ndarray] = {"pooled": np.ones(len(samples), bool)}
    for source in sorted({str(s.source) for s in samples}):
        groups[source] = np.array([str(s.source) == source for s in samples])
    out: dict[str, Any] = {name: {} for name in verifiers}
    gap = 0.0
    for group, rows in groups.items():
        index = np.flatnonzero(rows)
        identities = [samples[i].identity for i in index]
        trials = PROTOCOL.trials(identities)
        sub = embeddings[index]
        raw = score_trials(sub, trials)
        for name, verifier in verifiers.items():
            s = normalized_scores(verifier, sub, trials.i, trials.j, raw)
            kept[(name, group)] = (s, trials.genuine)
            curve = RocCurve.from_scores(s, trials.genuine)
            out[name][group] = {
                "eer": eer(curve).eer,
                "min_dcf_0.01": min_dcf(s, trials.genuine, p_target=0.01, curve=curve)[0],
                "n_genuine": int(trials.genuine.sum()),
                "n_impostor": int((~trials.genuine).sum()),
            }
            if group == "pooled":
                picks = np.linspace(0, len(s) - 1, CHECKED_TRIALS).astype(int)
                pairs = [
                    (samples[index[trials.i[k]]].path, samples[index[trials.j[k]]].path)
                    for k in picks
                ]
                direct = [r.score for r in verifier.verify_many(pairs)]
                gap = max(gap, float(np.max(np.abs(np.array(direct) - s[picks]))))
    return out, gap


def transfer(
    scored: dict[str, dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]],
    names: Sequence[str],
) -> dict[str, dict[str, dict[str, float]]]:
    """FAR and FRR in each part and corpus at the threshold with FAR = :data:`TRANSFER_FAR`
    on the pooled test trials, and at the lowest one holding it in every test corpus (as
    ``calibrate --by-dataset`` chooses), per scoring."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for name, held in [(n, h) for n in names for h in (False, True)]:
        groups = [g for (n, g) in scored["test"] if n == name and (g != "pooled") == held]
        threshold = max(
            threshold_at_far(RocCurve.from_scores(*scored["test"][(name, g)]), TRANSFER_FAR)
            for g in groups
        )
        label = f"{name}, held in every test corpus" if held else name
        for part, part_scores in scored.items():
            for (scoring, group), (t, g) in part_scores.items():
                if scoring == name:
                    out.setdefault(label, {})[f"{part} {group}"] = {
                        "far": float(np.mean(t[~g] >= threshold)),
                        "frr": float(np.mean(t[g] < threshold)),
                    }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.json and OUT.md")
    args = parser.parse_args()

    inventory = scan_datasets(args.data, progress=False)
    split = load_split(args.split, inventory, check_content=False)
    raw = Verifier.load(args.bundle, calibration=False, threshold=0.0, score_normalization="none")
    normed = Verifier.load(args.bundle, calibration=False, threshold=0.0)
    if normed.normalizer is None:
        raise SystemExit(f"{args.bundle} has no cohort: run `bioverify cohort` first")
    bundle_k = normed.normalizer.top_k
    verifiers = {"raw": raw}
    for k in TOP_K:
        variant = Verifier.load(args.bundle, calibration=False, threshold=0.0)
        variant.normalizer = dataclasses.replace(normed.normalizer, top_k=k)
        verifiers[f"asnorm_top{k}" + (" (bundle)" if k == bundle_k else "")] = variant
    section = normed.info.score_normalization
    result: dict[str, Any] = {"bundle": str(args.bundle), "score_normalization": section}
    scored: dict[str, dict[tuple[str, str], tuple[np.ndarray, np.ndarray]]] = {}
    for part in ("val", "test"):
        embeddings, kept = embed(raw, split.samples(inventory, part))
        scored[part] = {}
        result[part], gap = score(verifiers, embeddings, kept, scored[part])
        result[f"{part}_max_gap_to_verify_many"] = gap
    bundle_name = next(name for name in verifiers if name.endswith("(bundle)"))
    result["transfer"] = transfer(scored, ("raw", bundle_name))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        f"# AS-Norm through the runtime: {args.bundle}",
        "",
        "Command: `PYTHONPATH=src .venv/bin/python -m benchmarks.bench_voice_asnorm "
        f"{args.bundle}"
        + "".join(f" --data {d}" for d in args.data)
        + f" --split {args.split} --out {args.out}`",
        "",
        f"Cohort: {section['cohort_source']} (`{section['cohort_file']}`, sha256 "
        f"{section['cohort_sha256'][:12]}…), bundle top_k {bundle_k}. EER % / minDCF "
        "(p_target 0.01) on the trials of `benchmarks/protocol.py`. Largest difference between "
        f"these scores and `Verifier.verify_many` on {CHECKED_TRIALS} trials: val "
        f"{result['val_max_gap_to_verify_many']:.2g}, test "
        f"{result['test_max_gap_to_verify_many']:.2g}.",
        "",
    ]
    lines += [
        f"## FAR and FRR at a FAR = {TRANSFER_FAR:g} threshold set on the test trials",
        "",
        "How one threshold holds across corpora and on other people (the val speakers were "
        "never in it): the threshold of the pooled test trials, and the lowest one that "
        "holds the target in every test corpus (as `calibrate --by-dataset` chooses). "
        "Per-corpus trials have only within-corpus impostors.",
        "",
        "| scoring | group | FAR % | FRR % |",
        "| --- | --- | --- | --- |",
    ]
    for name, rows in result["transfer"].items():
        lines += [
            f"| {name} | {group} | {100 * r['far']:.2f} | {100 * r['frr']:.1f} |"
            for group, r in rows.items()
        ]
    lines.append("")
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
