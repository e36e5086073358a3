"""FAR and FRR at a model's shipped thresholds, condition by condition, on unseen people.

Each folder under ``--conditions`` (written by :mod:`benchmarks.make_conditions`) is one
condition's identity tree. The model (a bundle, or ``face`` / ``voice``) embeds every sample
through the runtime as an application would, trials are made with the default trial
protocol (:class:`bioverify.datasets.TrialProtocol`, as
:func:`bioverify.verify.evaluation.score_samples` uses it), and every operating point
of the model's calibration is measured there with identity-bootstrap intervals
(the decisions the runtime makes: at each pair's quality-bin threshold where the
calibration's thresholds follow quality). The table says, per condition, whether the
promised FAR holds.

Usage::

    python -m benchmarks.bench_conditions --model face --conditions /tmp/conditions/face-test \
        --label "old default" --out benchmarks/results/conditions_face_before
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from bioverify.calibration import Calibration, measure_conditions
from bioverify.datasets.inventory import scan_dataset
from bioverify.verify import Verifier
from bioverify.verify.evaluation import TrialScores, score_samples


def condition_folders(root: Path) -> list[tuple[str, Path]]:
    """``(name, folder)`` of each condition: ``root/<condition>``, or
    ``root/<condition>/<corpus>`` when the conditions were written ``--by-corpus``."""
    out = []
    for condition in sorted(p for p in root.iterdir() if p.is_dir()):
        children = sorted(p for p in condition.iterdir() if p.is_dir())
        nested = children and all(any(g.is_dir() for g in c.iterdir()) for c in children)
        if nested:
            out += [(f"{condition.name}/{c.name}", c) for c in children]
        else:
            out.append((condition.name, condition))
    return out


def measure(
    model: str,
    conditions: Path,
    face_mode: str,
    calibration: Path | None = None,
    score_norm: str = "bundle",
) -> dict[str, Any]:
    verifier = Verifier.load(
        model, face_mode=face_mode, calibration=calibration, score_normalization=score_norm
    )
    calibration = verifier.calibration
    if calibration is None:
        raise SystemExit(f"{model} has no calibration to measure")
    rows = []
    for name, folder in condition_folders(conditions):
        inventory = scan_dataset(folder, verifier.modality, progress=False)
        paths = [s.path for s in inventory.samples]
        ids = [s.identity for s in inventory.samples]
        result = score_samples(verifier, paths, ids, smallest_far=1e-3, progress=True)
        claimed = next((c for c in calibration.conditions if c.name == name), None)
        rows.append(
            {
                "condition": name,
                "claimed_for_condition": None if claimed is None else claimed.to_dict(),
                "identities": len(set(ids)),
                "inputs": result.n_inputs,
                "failures_to_acquire": len(result.failures),
                "points": decisions(calibration, result, name),
            }
        )
        print(f"{name}: done", file=sys.stderr)
    return {
        "model": verifier.info.name,
        "model_sha256": verifier.model_sha256,
        "score_normalization": score_norm,
        "calibration_population": calibration.population,
        "conditions": rows,
    }


def decisions(calibration: Calibration, result: TrialScores, name: str) -> list[dict[str, Any]]:
    """Each operating point's claim and the FAR and FRR of the decisions the runtime makes
    on these trials: at the threshold of each pair's quality bin where the calibration's
    thresholds follow quality, else at the point's threshold."""
    points = calibration.operating_points
    (report,) = measure_conditions(
        result.scores,
        result.labels,
        np.full(result.scores.size, name),
        points,
        result.subject_a,
        result.subject_b,
        per_trial=calibration.decision_thresholds(result.pair_quality),
    )
    return [
        {
            "label": op.label,
            "claimed": {"far": op.far, "far_ci": list(op.far_ci)},
            "measured": rates.to_dict(),
            "n_impostor": report.n_impostor,
            "n_genuine": report.n_genuine,
        }
        for op, rates in zip(points, report.rates, strict=True)
    ]


def markdown(result: dict[str, Any], label: str, command: str) -> str:
    lines = [
        f"# FAR at the shipped thresholds per condition: {label}",
        "",
        f"Model `{result['model']}` (sha256 {result['model_sha256'][:12]}…), calibration "
        f"measured on: {result['calibration_population'] or 'not stated'}.",
        "",
        f"Command: `{command}`",
        "",
        "FAR claimed: the calibration's FAR for the same condition when it was calibrated on "
        "such trials (other people), else its pooled FAR. Verdict: where the measured FAR "
        "falls against that claim's 95 % interval; target: whether the measured FAR's interval "
        "reaches down to the operating point's target FAR (the promise of a FAR target).",
        "",
        "| condition | point | FAR claimed [95 % CI] | FAR measured [95 % CI] | FRR measured "
        "[95 % CI] | impostor / genuine trials | FTA | verdict | within target |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in result["conditions"]:
        own = row.get("claimed_for_condition")
        for point in row["points"]:
            m = point["measured"]
            rates = next((r for r in (own or {}).get("rates", []) if r["label"] == point["label"]),
                         None)  # fmt: skip
            claim = rates if rates is not None else point["claimed"]
            verdict = (
                "higher than claimed" if m["far"] > claim["far_ci"][1]
                else "lower than claimed" if m["far"] < claim["far_ci"][0]
                else "holds"
            )  # fmt: skip
            target = _target(point["label"])
            within = "—" if target is None else ("yes" if m["far_ci"][0] <= target else "NO")
            lines.append(
                f"| {row['condition']} | {point['label']} | {_rate(claim['far'], claim['far_ci'])}"
                f" | {_rate(m['far'], m['far_ci'])} | {_rate(m['frr'], m['frr_ci'])} | "
                f"{point['n_impostor']} / {point['n_genuine']} | "
                f"{row['failures_to_acquire']}/{row['inputs']} | {verdict} | {within} |"
            )
    return "\n".join(lines) + "\n"


def _rate(value: float, interval: list[float]) -> str:
    return f"{100 * value:.3g} % [{100 * interval[0]:.3g}, {100 * interval[1]:.3g}]"


def _target(label: str) -> float | None:
    kind, _, value = label.partition("=")
    return float(value) if kind == "FAR" else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--conditions", type=Path, required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--face-mode", default="auto")
    parser.add_argument("--calibration", type=Path, default=None, help="default: the model's")
    parser.add_argument("--score-norm", choices=("bundle", "none"), default="bundle")
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.json and OUT.md")
    args = parser.parse_args()
    command = "python -m benchmarks.bench_conditions " + " ".join(sys.argv[1:])
    result = measure(args.model, args.conditions, args.face_mode, args.calibration, args.score_norm)
    result["command"] = command
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result, args.label or args.model, command))


if __name__ == "__main__":
    main()
