"""``bioverify evaluate``: EER, TAR@FAR, trial counts and failures to acquire of a model on
labelled data — LFW's ``pairs.txt`` or all trials of identity folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bioverify.cli import options
from bioverify.cli.render import echo_json, echo_lines, evaluation_lines
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


@click.command("evaluate")
@options.model(
    required=True,
    help="Model bundle (folder, bundle.json or .zip), or face / voice for the packaged "
    "default models.",
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
    settings: dict[str, Any],
    as_json: bool,
) -> None:
    """Measure EER and TAR at FAR 1e-2 / 1e-3 of a model on labelled data."""
    from bioverify.verify.evaluation import score_labelled_data
    from bioverify.verify.evaluation_report import EvaluationReport
    from bioverify.verify.verifier import Verifier

    settings = settings
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
        result, where = score_labelled_data(
            verifier, data, split_path, split_part, protocol=protocol
        )
        notes = []
    result.notes = notes + result.notes
    report = EvaluationReport.from_scores(
        verifier,
        result,
        data=where,
        face_mode=settings["face_mode"] if verifier.modality == "face" else None,
    )
    if as_json:
        echo_json(report.to_dict())
    else:
        echo_lines(evaluation_lines(report))


__all__ = ["evaluate"]
