"""Speed of the calibration core against scikit-learn, on synthetic verification scores.

Data (seed 0): genuine scores ~ N(0.6, 0.15), impostor scores ~ N(0.1, 0.15), 1 % genuine;
the ROC part runs twice, on scores rounded to 4 decimals (many ties, like scores stored as
text) and on the raw continuous scores (almost every score unique).

1. ROC on 10 million scores: ``sklearn.metrics.roc_curve(drop_intermediate=False)`` alone vs
   bioverify's full pipeline (``RocCurve.from_scores`` + ``eer`` + ``operating_points`` at
   FAR 1e-3, 1e-4 and FRR 1e-2 with Clopper–Pearson intervals, reusing nothing), best of 3
   each; thresholds and rates are checked to be identical.
2. Identity bootstrap: ``bootstrap_rates`` with 1,000 resamples over 1 million scores from
   1,000 subjects (genuine trials within a subject, impostor trials across), 3 thresholds.

Usage::

    python benchmarks/bench_calibration.py [--n-roc 10000000] [--n-boot 1000000]

Writes ``benchmarks/results/calibration.json`` and ``calibration.md`` (the Markdown table
it prints).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.metrics import roc_curve

from bioverify.calibration.intervals import bootstrap_rates
from bioverify.calibration.operating_points import operating_points
from bioverify.calibration.roc import RocCurve, eer

OUT = Path(__file__).resolve().parent / "results" / "calibration.json"
GENUINE_SHARE = 0.01


def _scores(
    n: int, rng: np.random.Generator, decimals: int | None = 4
) -> tuple[np.ndarray, np.ndarray]:
    genuine = rng.random(n) < GENUINE_SHARE
    scores = np.where(genuine, rng.normal(0.6, 0.15, n), rng.normal(0.1, 0.15, n))
    return (scores if decimals is None else np.round(scores, decimals)), genuine


def _best_of(repeats: int, fn: Callable[[], Any]) -> tuple[float, Any]:
    best = float("inf")
    result = None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def bench_roc(n: int, repeats: int, decimals: int | None) -> dict[str, Any]:
    scores, genuine = _scores(n, np.random.default_rng(0), decimals)

    def bioverify_pipeline() -> tuple[RocCurve, Any, Any]:
        curve = RocCurve.from_scores(scores, genuine)
        points = operating_points(
            scores, genuine, target_fars=(1e-3, 1e-4), target_frrs=(1e-2,), curve=curve
        )
        return curve, eer(curve), points

    t_sklearn, (fpr, tpr, thresholds) = _best_of(
        repeats, lambda: roc_curve(genuine, scores, drop_intermediate=False)
    )
    t_bioverify, (curve, equal, points) = _best_of(repeats, bioverify_pipeline)

    assert np.array_equal(curve.thresholds, thresholds), "thresholds differ from sklearn"
    assert np.array_equal(curve.far, fpr), "FAR differs from sklearn's fpr"
    assert np.max(np.abs(curve.frr - (1.0 - tpr))) <= 2.0**-52, "FRR differs from 1 - tpr"
    return {
        "n_scores": n,
        "rounded_to_decimals": decimals,
        "n_genuine": curve.n_genuine,
        "n_impostor": curve.n_impostor,
        "n_thresholds": int(curve.thresholds.size),
        "sklearn_roc_curve_s": t_sklearn,
        "bioverify_roc_eer_operating_points_s": t_bioverify,
        "speedup_vs_sklearn": t_sklearn / t_bioverify,
        "eer": equal.eer,
        "operating_points": [p.to_dict() for p in points],
    }


def bench_bootstrap(n: int, n_subjects: int, n_resamples: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    scores, genuine = _scores(n, rng)
    subject_a = rng.integers(0, n_subjects, n)
    other = (subject_a + rng.integers(1, n_subjects, n)) % n_subjects
    subject_b = np.where(genuine, subject_a, other)
    thresholds = (0.3, 0.5, 0.7)
    start = time.perf_counter()
    far_ci, frr_ci = bootstrap_rates(
        scores, genuine, thresholds, subject_a, subject_b, n_resamples=n_resamples
    )
    seconds = time.perf_counter() - start
    return {
        "n_scores": n,
        "n_subjects": n_subjects,
        "n_resamples": n_resamples,
        "thresholds": list(thresholds),
        "seconds": seconds,
        "far_ci": far_ci.tolist(),
        "frr_ci": frr_ci.tolist(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n-roc", type=int, default=10_000_000)
    parser.add_argument("--n-boot", type=int, default=1_000_000)
    parser.add_argument("--subjects", type=int, default=1000)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    rocs = [bench_roc(args.n_roc, args.repeats, decimals) for decimals in (4, None)]
    boot = bench_bootstrap(args.n_boot, args.subjects, args.resamples)
    result = {
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "sklearn": sklearn.__version__,
        },
        "genuine_share": GENUINE_SHARE,
        "roc": rocs,
        "bootstrap": boot,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")

    lines = [
        "# Calibration speed",
        "",
        f"`python benchmarks/bench_calibration.py` on {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, numpy {np.__version__}, scikit-learn {sklearn.__version__}.",
        "",
        "| task | scores | n scores | time (s) |",
        "|---|---|---|---|",
    ]
    for roc in rocs:
        kind = "continuous" if roc["rounded_to_decimals"] is None else "rounded to 4 dp"
        lines.append(
            f"| sklearn roc_curve alone | {kind} | {roc['n_scores']:,} | "
            f"{roc['sklearn_roc_curve_s']:.3f} |"
        )
        lines.append(
            f"| bioverify ROC + EER + 3 operating points (Clopper–Pearson) | {kind} | "
            f"{roc['n_scores']:,} | {roc['bioverify_roc_eer_operating_points_s']:.3f} |"
        )
    lines.append(
        f"| bioverify identity bootstrap ({boot['n_resamples']} resamples, "
        f"{boot['n_subjects']} subjects, 3 thresholds) | rounded to 4 dp | "
        f"{boot['n_scores']:,} | {boot['seconds']:.3f} |"
    )
    lines.append("")
    for roc in rocs:
        lines.append(
            f"sklearn / bioverify time ratio ({roc['n_thresholds']:,} thresholds): "
            f"{roc['speedup_vs_sklearn']:.2f} ({roc['n_genuine']:,} genuine, "
            f"{roc['n_impostor']:,} impostor; identical thresholds and FAR, FRR within 1 ulp)"
        )
    text = "\n".join(lines) + "\n"
    OUT.with_suffix(".md").write_text(text)
    print(text)
    print(f"wrote {OUT} and {OUT.with_suffix('.md')}")


if __name__ == "__main__":
    main()
