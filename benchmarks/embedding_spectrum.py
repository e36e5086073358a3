"""The second-order statistics of real face embeddings that ``bench_gallery_postgres
--templates realistic`` draws its synthetic gallery from.

Input: an ``.npz`` file with ``emb`` (unit-norm embeddings, one a row) and ``person`` (the
identity of each row), e.g. the cache of the project's default face model on the LFW val
identities under its six conditions (``benchmarks/make_conditions.py``). Computed:

- identity means: the L2-normalised mean embedding of each identity (what a gallery
  stores), their mean vector ``mean`` (its norm: how far the cloud sits from the origin —
  real embeddings are far from centred) and the eigenvalues of their covariance
  (``between_eigenvalues``, descending), with ``mean`` expressed in that eigenbasis
  (``mean_coordinates``);
- within identity: the residuals (embedding minus its identity's mean embedding), their
  eigenvalues (``within_eigenvalues``) and their variance along each identity-mean axis
  (``within_variance_on_between_axes``: what the generator uses, so that noise lies along
  the same directions as in the real data, off-diagonal terms ignored);
- scores, for calibration and checks: cosine of a sample with the L2-normalised mean of 3
  other samples of its identity (a probe against an enrolled 3-template mean; the median is
  the generator's target for matched probes), of genuine and impostor sample pairs, and of
  impostor identity means; ``far_1pct_threshold`` is the 99th percentile of impostor
  sample pairs.

Usage::

    python -m benchmarks.embedding_spectrum FILE.npz [--source TEXT] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

import numpy as np

OUT = Path(__file__).resolve().parent / "data" / "face_embedding_spectrum.json"


def _round(values: np.ndarray, digits: int = 4) -> list[float]:
    """Significant digits, so tiny eigenvalues keep their magnitude."""
    return [float(f"{v:.{digits}g}") for v in np.asarray(values, dtype=np.float64)]


def _quantiles(values: np.ndarray) -> dict[str, float]:
    levels = {"p1": 1, "p5": 5, "p50": 50, "p95": 95, "p99": 99, "p99.9": 99.9}
    return {key: round(float(np.percentile(values, q)), 4) for key, q in levels.items()}


def spectrum(emb: np.ndarray, person: np.ndarray, seed: int = 0) -> dict[str, Any]:
    emb = emb.astype(np.float64)
    names, index = np.unique(person, return_inverse=True)
    sums = np.zeros((len(names), emb.shape[1]))
    np.add.at(sums, index, emb)
    counts = np.bincount(index)
    raw_means = sums / counts[:, None]
    means = raw_means / np.linalg.norm(raw_means, axis=1, keepdims=True)
    mean = means.mean(axis=0)
    between, axes = np.linalg.eigh(np.cov(means.T))
    order = np.argsort(between)[::-1]
    between, axes = np.clip(between[order], 0, None), axes[:, order]
    residuals = emb - raw_means[index]
    within = np.clip(np.sort(np.linalg.eigvalsh(np.cov(residuals.T)))[::-1], 0, None)
    within_on_axes = np.einsum("ij,jk,ki->i", axes.T, np.cov(residuals.T), axes)

    rng = np.random.default_rng(seed)
    probe_vs_mean = []
    for i in range(len(names)):
        rows = np.flatnonzero(index == i)
        if len(rows) < 4:
            continue
        for row in rows:
            others = rng.choice(rows[rows != row], 3, replace=False)
            template = emb[others].mean(axis=0)
            probe_vs_mean.append(emb[row] @ template / np.linalg.norm(template))
    scores = emb @ emb.T
    upper = np.triu_indices(len(emb), 1)
    same = (index[:, None] == index[None, :])[upper]
    pairs = scores[upper]
    mean_scores = (means @ means.T)[np.triu_indices(len(names), 1)]
    positive = between > between[0] * 1e-9
    return {
        "n_embeddings": len(emb),
        "n_identities": len(names),
        "dim": emb.shape[1],
        "mean_norm": round(float(np.linalg.norm(mean)), 6),
        "between_trace": round(float(between.sum()), 6),
        "between_rank": int(positive.sum()),
        "between_participation_ratio": round(float(between.sum() ** 2 / (between**2).sum()), 2),
        "within_trace": round(float(within.sum()), 6),
        "within_participation_ratio": round(float(within.sum() ** 2 / (within**2).sum()), 2),
        "between_eigenvalues": _round(between),
        "mean_coordinates": _round(axes.T @ mean),
        "within_eigenvalues": _round(within),
        "within_variance_on_between_axes": _round(np.clip(within_on_axes, 0, None)),
        "scores": {
            "probe_vs_3_template_mean": _quantiles(np.asarray(probe_vs_mean)),
            "genuine_pairs": _quantiles(pairs[same]),
            "impostor_pairs": _quantiles(pairs[~same]),
            "impostor_identity_means": _quantiles(mean_scores),
        },
        "far_1pct_threshold": round(float(np.percentile(pairs[~same], 99)), 4),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("npz", type=Path, help="with keys emb (unit rows) and person")
    parser.add_argument("--source", default="", help="a description of the embeddings")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    data = np.load(args.npz)
    ok = np.isfinite(data["emb"]).all(axis=1)  # rows whose face was not found are NaN
    report = {
        "command": "python -m benchmarks.embedding_spectrum " + shlex.join(sys.argv[1:]),
        "source": args.source or str(args.npz),
        **spectrum(data["emb"][ok], data["person"][ok]),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n")
    print({k: v for k, v in report.items() if not isinstance(v, list)})


if __name__ == "__main__":
    main()
