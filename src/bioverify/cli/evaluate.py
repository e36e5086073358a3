"""``bioverify evaluate``: EER, TAR@FAR, trial counts and failures to acquire of a model on
labelled data — LFW's ``pairs.txt`` or all trials of identity folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bioverify.cli import options
from bioverify.cli.calibration_text import evaluation_lines
from bioverify.cli.render import echo_json, echo_lines
from bioverify.datasets.trials import TrialProtocol
from bioverify.errors import DataError, InvalidInput


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


def _thresholds(verifier: Any, path: Path | None) -> tuple[Any, str | None]:
    """The calibration whose thresholds ``--by-dataset`` measures, and its file (none: the
    model has no calibration and was given none)."""
    from bioverify.calibration import Calibration

    path = path or verifier.info.calibration_path
    if path is None:
        return None, None
    calibration = Calibration.load(path)
    normalizer = verifier.normalizer
    calibration.check_model(verifier.model_sha256, None if normalizer is None else normalizer.key)
    return calibration, str(path)


@click.command("evaluate")
@options.model(
    required=True,
    help="Model bundle (folder, bundle.json or .zip), or face / voice / voice-int8 for the "
    "packaged models.",
)
@options.data_selection
@click.option(
    "--pairs",
    "pairs_path",
    type=options.FILE,
    default=None,
    help="LFW-style pairs.txt (files DATA/name/name_%04d.jpg); default: all trials of DATA.",
)
@options.trial_caps
@options.seed()
@click.option(
    "--by-dataset",
    is_flag=True,
    help="With several --data: trials within each dataset only, each dataset a condition: "
    "its EER, and the FAR and FRR at each threshold of the calibration, worst first.",
)
@options.calibration_file(
    help="With --by-dataset: the calibration whose thresholds are measured (default: the "
    "model's own)."
)
@options.model_settings
@options.json_output
def evaluate(
    model: Path,
    data: tuple[Path, ...],
    split_path: Path | None,
    split_part: str,
    pairs_path: Path | None,
    max_genuine_per_identity: int,
    max_genuine: int,
    seed: int,
    by_dataset: bool,
    calibration_path: Path | None,
    settings: dict[str, Any],
    as_json: bool,
) -> None:
    """Measure EER and TAR at FAR 1e-2 / 1e-3 of a model on labelled data."""
    from bioverify.verify.dataset_scoring import joined, score_datasets
    from bioverify.verify.evaluation_report import EvaluationReport
    from bioverify.verify.verifier import Verifier

    if by_dataset and (len(data) < 2 or pairs_path is not None):
        raise InvalidInput("--by-dataset needs two or more --data folders (and no --pairs)")
    if calibration_path is not None and not by_dataset:
        raise InvalidInput("--calibration goes with --by-dataset")
    verifier = Verifier.load(model, calibration=False, **settings)
    if pairs_path is not None:
        if len(data) != 1:
            raise InvalidInput("--pairs takes exactly one --data folder (the pairs' images)")
        result, notes = _pairs_protocol(verifier, pairs_path, data[0], split_path, split_part)
        where = f"{data[0]}"
    else:
        protocol = TrialProtocol(
            max_genuine_per_identity=max_genuine_per_identity, max_genuine=max_genuine, seed=seed
        )
        scored = score_datasets(
            verifier, data, split_path, split_part, by_dataset=by_dataset, protocol=protocol
        )
        result, where, notes = joined(scored), "; ".join(s.where for s in scored), []
    result.notes = notes + result.notes
    calibration, label = _thresholds(verifier, calibration_path) if by_dataset else (None, None)
    report = EvaluationReport.from_scores(
        verifier,
        result,
        data=where,
        face_mode=settings["face_mode"] if verifier.modality == "face" else None,
        calibration=calibration,
        calibration_label=label,
    )
    if as_json:
        echo_json(report.to_dict())
    else:
        echo_lines(evaluation_lines(report))


__all__ = ["evaluate"]
