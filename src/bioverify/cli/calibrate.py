"""``bioverify calibrate``: thresholds with known error rates from genuine/impostor scores.

Thin: read the trials, :func:`~bioverify.calibration.fit_calibration`, save the calibration
file, optionally write the report, print a short summary. The trials arrive as a
:class:`~bioverify.calibration.ScoreTable`: from a score CSV (``--scores``) or scored here by a
model bundle on identity-labelled data (``--model --data [--split]``: all within-identity
pairs up to a cap plus sampled impostor pairs; the calibration is then bound to the model's
sha256 and ``--install`` copies it into the bundle as ``calibration.json``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import click
import numpy as np

from bioverify.calibration import (
    Calibration,
    ScoreTable,
    check_calibration,
    fit_calibration,
    read_scores_csv,
)
from bioverify.calibration.llr import METHODS, CalibrationMethod
from bioverify.calibration.quality_bins import DEFAULT_MEASURES
from bioverify.cli import options
from bioverify.cli.calibration_text import check_lines, summary_lines
from bioverify.datasets.trials import TrialProtocol
from bioverify.errors import CalibrationError, InvalidInput
from bioverify.verify.defaults import PACKAGED


def _bundle_calibration_path(model: Path) -> Path:
    """Where ``--install`` writes: ``calibration.json`` beside the bundle's model."""
    from bioverify.bundle import CALIBRATION_FILE, load_bundle

    if model.suffix == ".zip":
        raise InvalidInput(
            f"{model}: cannot install into a zipped bundle; extract it, or use --out"
        )
    if str(model) in PACKAGED and not model.exists():
        raise InvalidInput(
            f"--install does not change the packaged {model} model; write your calibration "
            "with --out FILE and use it with --calibration FILE"
        )
    return load_bundle(model, verify_sha256=False).folder / CALIBRATION_FILE


@dataclass
class _Trials:
    """Trials to calibrate on and what is known about them."""

    table: ScoreTable
    model_sha256: str | None = None
    population: str | None = None
    quality_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    score_normalization: str | None = None
    #: the scoring bundle's own calibration file (``--check`` checks it by default)
    bundle_calibration: Path | None = None
    #: each trial's worse-sample value of each quality key (trials scored by a model)
    pair_quality: dict[str, np.ndarray] = field(default_factory=dict)
    modality: str | None = None

    def quality_measure(self, wanted: str) -> str | None:
        """The measure ``--quality-thresholds`` names (``auto``: the modality's default)
        if the trials have it, else ``None``; a named measure they lack is an error."""
        if wanted == "none":
            return None
        measure = DEFAULT_MEASURES.get(self.modality or "") if wanted == "auto" else wanted
        if measure in self.pair_quality:
            return measure
        if wanted != "auto":
            have = ", ".join(sorted(self.pair_quality)) or "none (no --model scored them)"
            raise InvalidInput(
                f"--quality-thresholds {wanted}: the trials have no such quality value "
                f"(they have: {have})"
            )
        return None


def _fit(
    trials: _Trials,
    target_fars: tuple[float, ...],
    target_frrs: tuple[float, ...],
    method: CalibrationMethod,
    p_target: float,
    n_resamples: int,
    seed: int,
    force: bool = False,
    quality_thresholds: str = "none",
) -> Calibration:
    table = trials.table
    measure = trials.quality_measure(quality_thresholds)
    # Warnings land in Calibration.warnings and are printed with the summary instead.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fit_calibration(
            table.scores,
            table.labels,
            target_fars=target_fars,
            target_frrs=target_frrs,
            subject_a=table.subject_a,
            subject_b=table.subject_b,
            p_target=p_target,
            method=method,
            n_resamples=n_resamples,
            seed=seed,
            model_sha256=trials.model_sha256,
            force=force,
            conditions=table.conditions,
            population=trials.population,
            quality_ranges=trials.quality_ranges,
            score_normalization=trials.score_normalization,
            pair_quality=None if measure is None else trials.pair_quality[measure],
            quality_measure=measure,
        )


def _model_trials(
    model: Path,
    data: tuple[Path, ...],
    split_path: Path | None,
    split_part: str,
    by_dataset: bool,
    settings: dict[str, Any],
    smallest_far: float,
    protocol: TrialProtocol,
) -> tuple[_Trials, list[str]]:
    """Score trials of ``data`` with the model (each dataset a condition of its own with
    ``by_dataset``), loaded with ``settings`` (``Verifier.load``'s); the trials and lines
    to print."""
    from bioverify.verify.dataset_scoring import joined, score_datasets
    from bioverify.verify.evaluation import SHOW_FAILURES
    from bioverify.verify.verifier import Verifier

    verifier = Verifier.load(model, calibration=False, **settings)
    scored = score_datasets(
        verifier,
        data,
        split_path,
        split_part,
        by_dataset=by_dataset,
        protocol=protocol,
        smallest_far=smallest_far,
    )
    lines = []
    for one in scored:
        result = one.result
        lines += [
            f"{'' if one.name is None else f'[{one.name}] '}model {verifier.info.name} "
            f"(sha256 {verifier.model_sha256[:12]}…) on {one.where}",
            f"trials: {result.protocol}",
            f"failures to acquire: {len(result.failures)} of {result.n_inputs} inputs",
            *(f"  {source}: {reason}" for source, reason in result.failures[:SHOW_FAILURES]),
            *(f"note: {note}" for note in result.notes),
        ]
    result = joined(scored)
    table = ScoreTable(
        scores=result.scores,
        labels=result.labels,
        subject_a=result.subject_a,
        subject_b=result.subject_b,
        n_rows=int(result.scores.size),
        conditions=result.conditions,
    )
    normalizer = verifier.normalizer
    trials = _Trials(
        table,
        verifier.model_sha256,
        "; ".join(one.where for one in scored),
        result.quality_ranges,
        None if normalizer is None else normalizer.key,
        verifier.info.calibration_path,
        result.pair_quality,
        verifier.modality,
    )
    return trials, lines


def _check(trials: _Trials, calibration_path: Path | None, model: Path, seed: int) -> None:
    """``--check``: the calibration's claims against the trials just scored."""
    if calibration_path is None:
        calibration_path = trials.bundle_calibration
        if calibration_path is None:
            raise CalibrationError(f"{model} has no calibration to check; pass --calibration FILE")
    calibration = Calibration.load(calibration_path)
    assert trials.model_sha256 is not None
    calibration.check_model(trials.model_sha256, trials.score_normalization)
    table = trials.table
    bins = calibration.quality_bins
    checks = check_calibration(
        calibration, table.scores, table.labels, table.subject_a, table.subject_b, seed=seed,
        pair_quality=None if bins is None else trials.pair_quality.get(bins.measure),
    )  # fmt: skip
    where = calibration.population or "not stated"
    click.echo(f"claims of {calibration_path} (measured on: {where})")
    recalibrate = f"bioverify calibrate --model {model} --data DIR --out my_calibration.json"
    for line in check_lines(checks, recalibrate):
        click.echo(line)


def _targets(rate: str, help: str) -> Any:
    """--target-far / --target-frr: repeatable rates strictly between 0 and 1."""
    return click.option(f"--target-{rate}", multiple=True, type=options.OPEN_UNIT, help=help)


@click.command("calibrate")
@options.scores(
    help="CSV with a header naming score,label (1 genuine, 0 impostor) and optionally "
    "subject_a,subject_b for identity-bootstrap intervals. Or use --model and --data.",
)
@options.model(
    default=None,
    help="Model bundle (or face / voice / voice-int8, the packaged models) whose scores to "
    "calibrate, computed here on --data (instead of --scores); the calibration is bound to "
    "the model's sha256.",
)
@options.data(
    required=False,
    help="With --model: identity folders or a CSV manifest; repeat for several datasets.",
)
@options.split(help="With --model: split.json; only identities of --split-part are used.")
@options.split_part(help="Which part of --split to calibrate on.")
@options.trial_caps
@options.model_settings
@click.option(
    "--install",
    is_flag=True,
    help="With --model: also write the calibration into the bundle as calibration.json.",
)
@_targets("far", "Target false accept rate (repeatable). Default 0.001 when no target is given.")
@_targets("frr", "Target false reject rate (repeatable).")
@click.option(
    "--out",
    default=None,
    type=options.FILE,
    help="Calibration JSON to write (optional with --install).",
)
@click.option(
    "--report",
    "report_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder for det.png, roc.png, scores.png and report.md.",
)
@click.option(
    "--method",
    type=click.Choice(METHODS),
    default="logistic",
    show_default=True,
    help="Score → log-likelihood-ratio calibration.",
)
@click.option(
    "--p-target",
    type=options.OPEN_UNIT,
    default=0.01,
    show_default=True,
    help="Prior of genuine trials for the detection cost (minDCF).",
)
@options.count(
    "--bootstrap",
    "n_resamples",
    minimum=1,
    default=1000,
    help="Identity-bootstrap resamples (used when the CSV has subject_a,subject_b).",
)
@options.seed(help="Seed of the identity bootstrap.")
@click.option(
    "--population",
    default=None,
    help="Whose trials these are, in words (printed with every rate this calibration "
    "gives). Default with --model: the data and split part the trials came from.",
)
@click.option(
    "--by-dataset",
    is_flag=True,
    help="With --model and several --data: trials within each dataset only, each dataset a "
    "condition; every FAR threshold then holds in the worst of them, and the rates in each "
    "are recorded. (A --scores CSV gives conditions with a condition column.)",
)
@click.option(
    "--check",
    is_flag=True,
    help="With --model and --data: do not calibrate; measure the FAR and FRR that the "
    "current calibration's thresholds give on this data and say where they fall outside "
    "the claimed intervals.",
)
@options.calibration_file(help="With --check: the calibration to check (default: the model's own).")
@click.option(
    "--force",
    is_flag=True,
    help="Calibrate even scores that cannot separate genuine from impostor trials (a "
    "collapsed model, or an EER near chance), which is otherwise refused.",
)
@click.option(
    "--quality-thresholds",
    default="auto",
    show_default=True,
    metavar="auto|none|KEY",
    help="With --model: FAR thresholds that also follow the worse sample's quality, "
    "measured in four bins of it (auto: sharpness for faces, snr_db for voices; or a "
    "quality key such as face_size); none: one threshold for every pair.",
)
def calibrate(
    scores_path: Path | None,
    model: Path | None,
    data: tuple[Path, ...],
    split_path: Path | None,
    split_part: str,
    max_genuine_per_identity: int,
    max_genuine: int,
    settings: dict[str, Any],
    install: bool,
    target_far: tuple[float, ...],
    target_frr: tuple[float, ...],
    out: Path | None,
    report_dir: Path | None,
    method: CalibrationMethod,
    p_target: float,
    n_resamples: int,
    seed: int,
    population: str | None,
    by_dataset: bool,
    check: bool,
    calibration_path: Path | None,
    force: bool,
    quality_thresholds: str,
) -> None:
    """Choose thresholds at target FAR/FRR with confidence intervals and fit score → LLR.

    Trials come from --scores, or are scored here with --model on --data. With --check,
    measure instead whether the current thresholds keep their promise on --data."""
    if (scores_path is None) == (model is None):
        raise InvalidInput("give either --scores CSV or --model BUNDLE with --data DIR")
    if model is not None and not data:
        raise InvalidInput("--model needs --data DIR (identity folders) to score trials on")
    if scores_path is not None and (data or split_path is not None or install):
        raise InvalidInput("--data, --split and --install go with --model, not --scores")
    if check and (model is None or install or out is not None):
        raise InvalidInput("--check goes with --model and --data, without --out or --install")
    if calibration_path is not None and not check:
        raise InvalidInput("--calibration goes with --check (the calibration to check)")
    if by_dataset and len(data) < 2:
        raise InvalidInput("--by-dataset needs two or more --data (each one a condition)")
    if out is None and not install and not check:
        raise InvalidInput("give --out FILE (or --install with --model)")
    if not target_far and not target_frr:
        target_far = (1e-3,)
    target = _bundle_calibration_path(model) if install and model is not None else None
    if report_dir is not None:  # fail before scoring, not after, when matplotlib is missing
        from bioverify.calibration.report import write_report
    if model is not None:
        smallest = min(target_far) if target_far else 1e-3
        trials, lines = _model_trials(
            model,
            data,
            split_path,
            split_part,
            by_dataset,
            settings,
            smallest,
            TrialProtocol(
                max_genuine_per_identity=max_genuine_per_identity,
                max_genuine=max_genuine,
                seed=seed,
            ),
        )
        for line in lines:
            click.echo(line)
        if check:
            _check(trials, calibration_path, model, seed)
            return
    else:
        assert scores_path is not None
        trials = _Trials(read_scores_csv(scores_path))
    if population is not None:
        trials = replace(trials, population=population)
    calibration = _fit(
        trials, target_far, target_frr, method, p_target, n_resamples, seed, force,
        quality_thresholds,
    )  # fmt: skip
    for line in summary_lines(calibration):
        click.echo(line)
    if out is not None:
        calibration.save(out)
        click.echo(f"wrote {out}")
    if target is not None:
        calibration.save(target)
        click.echo(f"installed {target}")
    if report_dir is not None:
        table = trials.table
        paths = write_report(calibration, table.scores, table.labels, report_dir)
        click.echo(f"wrote {', '.join(str(p) for p in paths)}")
