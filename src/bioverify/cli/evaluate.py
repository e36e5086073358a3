"""``bioverify evaluate``: EER, TAR@FAR, trial counts and failures to acquire of a model on
labelled data — LFW's ``pairs.txt`` or all trials of identity folders."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bioverify.cli.runtime_options import (
    data_options,
    device_option,
    face_options,
    load_runtime_verifier,
    pct,
    trial_options,
)
from bioverify.datasets.trials import TrialProtocol
from bioverify.errors import DataError, InvalidInput


def _summary(report: dict[str, Any]) -> list[str]:
    model, trials = report["model"], report["trials"]
    genuine, impostor = trials["genuine"], trials["impostor"]
    lines = [
        f"EER {pct(report['eer'])} at threshold {report['eer_threshold']:.4f} "
        f"({genuine} genuine, {impostor} impostor trials)",
    ]
    for target, tar in report["tar_at_far"].items():
        flag = (
            ""
            if report["far_supported"][target]
            else f"; UNSUPPORTED: {impostor} impostor trials, {3 / float(target):g} needed"
        )
        lines.append(f"TAR@FAR={target}: {pct(tar)} ({genuine} genuine trials{flag})")
    lines += [
        f"minDCF (p_target 0.01): {report['min_dcf']['value']:.4f}",
        f"model {model['name']} ({model['modality']}, sha256 {model['sha256'][:12]}…)",
        f"data: {report['data']}",
        f"protocol: {report['protocol']}",
    ]
    if trials.get("trials_dropped"):
        lines.append(f"{trials['trials_dropped']} pairs dropped: a file failed to acquire")
    if "fold_accuracy" in report:
        folds = report["fold_accuracy"]
        lines.append(
            f"{len(folds['folds'])}-fold accuracy: {pct(folds['mean'])} ± {pct(folds['std'])} "
            f"(balanced pairs, {genuine + impostor} trials)"
        )
    failures = report["failures_to_acquire"]
    lines.append(
        f"failures to acquire: {failures['count']} of {failures['of']} inputs "
        f"({pct(failures['rate'])})"
    )
    lines += [f"  {f['input']}: {f['reason']}" for f in failures["examples"]]
    if report["acquisition"]:
        counts = ", ".join(f"{k} {v}" for k, v in report["acquisition"].items())
        lines.append(f"acquired: {counts}")
    lines += [f"note: {note}" for note in report["notes"]]
    return lines


def _pairs_protocol(
    verifier: Any, pairs_path: Path, data: Path, split_path: Path | None, part: str
) -> tuple[Any, list[str]]:
    from bioverify.verify.evaluation import read_lfw_pairs, score_pairs

    pairs = read_lfw_pairs(pairs_path, data)
    folds = len({p.fold for p in pairs})
    notes = []
    if split_path is not None:
        from bioverify.datasets.splits import load_split

        split = load_split(split_path, check_content=False)
        keep = set(split.identities(part))
        kept = [p for p in pairs if p.identity_a in keep and p.identity_b in keep]
        if not kept:
            raise DataError(f"no pair of {pairs_path} has both identities in the {part} split")
        notes.append(
            f"{len(kept)} of {len(pairs)} pairs kept: both identities in the {part} part of "
            f"{split_path}"
        )
        pairs = kept
    else:
        notes.append(
            "no --split: the pairs' identities are not checked against training; quote these "
            "figures only for a model that never saw them"
        )
    result = score_pairs(verifier, pairs, progress=True)
    result.protocol = f"pairs file {pairs_path} ({folds} folds, {len(pairs)} pairs)"
    return result, notes


@click.command("evaluate")
@click.option(
    "--model",
    required=True,
    type=click.Path(path_type=Path),
    help="Model bundle (folder, bundle.json or .zip), or face / voice for the packaged "
    "default models.",
)
@data_options
@click.option(
    "--pairs",
    "pairs_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="LFW-style pairs.txt (files DATA/name/name_%04d.jpg); default: all trials of DATA.",
)
@trial_options
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True)
@face_options
@device_option
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def evaluate(
    model: Path,
    data: tuple[Path, ...],
    split_path: Path | None,
    split_part: str,
    pairs_path: Path | None,
    max_genuine_per_identity: int,
    max_genuine: int,
    seed: int,
    face_mode: str,
    detector: str | None,
    device: str,
    as_json: bool,
) -> None:
    """Measure EER and TAR at FAR 1e-2 / 1e-3 of a model on labelled data."""
    from bioverify.verify.evaluation import report, score_labelled_data

    verifier = load_runtime_verifier(model, face_mode, detector, calibration=False, device=device)
    if pairs_path is not None:
        if len(data) != 1:
            raise InvalidInput("--pairs takes exactly one --data folder (the pairs' images)")
        result, notes = _pairs_protocol(verifier, pairs_path, data[0], split_path, split_part)
        where = f"{data[0]}"
    else:
        protocol = TrialProtocol(
            max_genuine_per_identity=max_genuine_per_identity, max_genuine=max_genuine, seed=seed
        )
        result, where = score_labelled_data(
            verifier, data, split_path, split_part, protocol=protocol
        )
        notes = []
    result.notes = notes + result.notes
    out = {"data": where, **report(verifier, result)}
    if verifier.modality == "face":
        out["face_mode"] = face_mode
    if as_json:
        click.echo(json.dumps(out, indent=2, allow_nan=False))
        return
    for line in _summary(out):
        click.echo(line)


__all__ = ["evaluate"]
