"""``bioverify calibrate``: thresholds with known error rates from genuine/impostor scores.

Thin: read the trials, :func:`~bioverify.calibration.fit_calibration`, save the calibration
file, optionally write the report, print a short summary. The trials arrive as a
:class:`~bioverify.calibration.ScoreTable`: from a score CSV (``--scores``) or scored here by a
model bundle on identity-labelled data (``--model --data [--split]``: all within-identity
pairs up to a cap plus sampled impostor pairs; the calibration is then bound to the model's
sha256 and ``--install`` copies it into the bundle as ``calibration.json``).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import click

from bioverify.calibration import Calibration, ScoreTable, fit_calibration, read_scores_csv
from bioverify.calibration.llr import METHODS, CalibrationMethod
from bioverify.cli.runtime_options import (
    SPLIT_PARTS,
    device_option,
    face_options,
    load_runtime_verifier,
    score_labelled_data,
    trial_options,
)
from bioverify.errors import InvalidInput

_OPEN_UNIT = click.FloatRange(0.0, 1.0, min_open=True, max_open=True)


def _bundle_calibration_path(model: Path) -> Path:
    """Where ``--install`` writes: ``calibration.json`` beside the bundle's model."""
    from bioverify.bundle import CALIBRATION_FILE, load_bundle

    if model.suffix == ".zip":
        raise InvalidInput(
            f"{model}: cannot install into a zipped bundle; extract it, or use --out"
        )
    if str(model) in ("face", "voice") and not model.exists():
        raise InvalidInput(
            f"--install does not change the packaged {model} model; write your calibration "
            "with --out FILE and use it with --calibration FILE"
        )
    return load_bundle(model, verify_sha256=False).folder / CALIBRATION_FILE


def _pct(rate: float) -> str:
    return f"{100.0 * rate:.3g} %"


def summary_lines(calibration: Calibration) -> list[str]:
    c = calibration
    lines = [
        f"trials: {c.n_genuine} genuine, {c.n_impostor} impostor "
        f"({100 * c.confidence:g} % CIs: {c.ci_method})",
        f"EER {_pct(c.eer)} at threshold {c.eer_threshold:.6g}",
        f"Cllr {c.cllr:.4f} bits ({c.calibrator.method}), minCllr {c.min_cllr:.4f} bits; "
        f"minDCF {c.min_dcf:.4f}, actual DCF {c.actual_dcf:.4f} at p_target {c.p_target:g}",
    ]
    for op in c.operating_points:
        threshold = "+inf" if math.isinf(op.threshold) else f"{op.threshold:.6g}"
        note = "" if op.supported else "  UNSUPPORTED (too few trials, rule of three)"
        lines.append(
            f"{op.label}: threshold {threshold}  "
            f"FAR {_pct(op.far)} [{_pct(op.far_ci[0])}, {_pct(op.far_ci[1])}]  "
            f"FRR {_pct(op.frr)} [{_pct(op.frr_ci[0])}, {_pct(op.frr_ci[1])}]{note}"
        )
    lines += [f"warning: {w}" for w in c.warnings]
    return lines


def _fit(
    table: ScoreTable,
    target_fars: tuple[float, ...],
    target_frrs: tuple[float, ...],
    method: CalibrationMethod,
    p_target: float,
    n_resamples: int,
    seed: int,
    model_sha256: str | None = None,
    force: bool = False,
) -> Calibration:
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
            model_sha256=model_sha256,
            force=force,
        )


def _model_trials(
    model: Path,
    data: tuple[Path, ...],
    split_path: Path | None,
    split_part: str,
    face_mode: str,
    detector: str | None,
    device: str,
    smallest_far: float,
    max_genuine_per_identity: int,
    max_genuine: int,
    seed: int,
) -> tuple[ScoreTable, str, list[str]]:
    """Score trials of ``data`` with the model; the table, its sha256 and lines to print."""
    from bioverify.verify.evaluation import SHOW_FAILURES

    verifier = load_runtime_verifier(model, face_mode, detector, calibration=False, device=device)
    result, where = score_labelled_data(
        verifier,
        data,
        split_path,
        split_part,
        max_genuine_per_identity=max_genuine_per_identity,
        max_genuine=max_genuine,
        seed=seed,
        smallest_far=smallest_far,
    )
    table = ScoreTable(
        scores=result.scores,
        labels=result.labels,
        subject_a=result.subject_a,
        subject_b=result.subject_b,
        n_rows=int(result.scores.size),
    )
    lines = [
        f"model {verifier.info.name} (sha256 {verifier.model_sha256[:12]}…) on {where}",
        f"trials: {result.protocol}",
        f"failures to acquire: {len(result.failures)} of {result.n_inputs} inputs",
        *(f"  {source}: {reason}" for source, reason in result.failures[:SHOW_FAILURES]),
        *(f"note: {note}" for note in result.notes),
    ]
    return table, verifier.model_sha256, lines


@click.command("calibrate")
@click.option(
    "--scores",
    "scores_path",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV with a header naming score,label (1 genuine, 0 impostor) and optionally "
    "subject_a,subject_b for identity-bootstrap intervals. Or use --model and --data.",
)
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="Model bundle (or face / voice, the packaged defaults) whose scores to calibrate, "
    "computed here on --data (instead of --scores); the calibration is bound to the model's "
    "sha256.",
)
@click.option(
    "--data",
    type=click.Path(path_type=Path),
    multiple=True,
    help="With --model: identity folders or a CSV manifest; repeat for several datasets.",
)
@click.option(
    "--split",
    "split_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="With --model: split.json; only identities of --split-part are used.",
)
@click.option(
    "--split-part",
    type=click.Choice(SPLIT_PARTS),
    default="test",
    show_default=True,
    help="Which part of --split to calibrate on.",
)
@trial_options
@face_options
@device_option
@click.option(
    "--install",
    is_flag=True,
    help="With --model: also write the calibration into the bundle as calibration.json.",
)
@click.option(
    "--target-far",
    multiple=True,
    type=_OPEN_UNIT,
    help="Target false accept rate (repeatable). Default 0.001 when no target is given.",
)
@click.option(
    "--target-frr", multiple=True, type=_OPEN_UNIT, help="Target false reject rate (repeatable)."
)
@click.option(
    "--out",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
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
    type=_OPEN_UNIT,
    default=0.01,
    show_default=True,
    help="Prior of genuine trials for the detection cost (minDCF).",
)
@click.option(
    "--bootstrap",
    "n_resamples",
    type=click.IntRange(min=1),
    default=1000,
    show_default=True,
    help="Identity-bootstrap resamples (used when the CSV has subject_a,subject_b).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the identity bootstrap.",
)
@click.option(
    "--force",
    is_flag=True,
    help="Calibrate even scores that cannot separate genuine from impostor trials (a "
    "collapsed model, or an EER near chance), which is otherwise refused.",
)
def calibrate(
    scores_path: Path | None,
    model: Path | None,
    data: tuple[Path, ...],
    split_path: Path | None,
    split_part: str,
    max_genuine_per_identity: int,
    max_genuine: int,
    face_mode: str,
    detector: str | None,
    device: str,
    install: bool,
    target_far: tuple[float, ...],
    target_frr: tuple[float, ...],
    out: Path | None,
    report_dir: Path | None,
    method: CalibrationMethod,
    p_target: float,
    n_resamples: int,
    seed: int,
    force: bool,
) -> None:
    """Choose thresholds at target FAR/FRR with confidence intervals and fit score → LLR.

    Trials come from --scores, or are scored here with --model on --data."""
    if (scores_path is None) == (model is None):
        raise InvalidInput("give either --scores CSV or --model BUNDLE with --data DIR")
    if model is not None and not data:
        raise InvalidInput("--model needs --data DIR (identity folders) to score trials on")
    if scores_path is not None and (data or split_path is not None or install):
        raise InvalidInput("--data, --split and --install go with --model, not --scores")
    if out is None and not install:
        raise InvalidInput("give --out FILE (or --install with --model)")
    if not target_far and not target_frr:
        target_far = (1e-3,)
    target = _bundle_calibration_path(model) if install and model is not None else None
    if report_dir is not None:  # fail before scoring, not after, when matplotlib is missing
        from bioverify.calibration.report import write_report
    model_sha256 = None
    if model is not None:
        smallest = min(target_far) if target_far else 1e-3
        table, model_sha256, lines = _model_trials(
            model,
            data,
            split_path,
            split_part,
            face_mode,
            detector,
            device,
            smallest,
            max_genuine_per_identity,
            max_genuine,
            seed,
        )
        for line in lines:
            click.echo(line)
    else:
        assert scores_path is not None
        table = read_scores_csv(scores_path)
    calibration = _fit(
        table, target_far, target_frr, method, p_target, n_resamples, seed, model_sha256, force
    )
    for line in summary_lines(calibration):
        click.echo(line)
    if out is not None:
        calibration.save(out)
        click.echo(f"wrote {out}")
    if target is not None:
        calibration.save(target)
        click.echo(f"installed {target}")
    if report_dir is not None:
        paths = write_report(calibration, table.scores, table.labels, report_dir)
        click.echo(f"wrote {', '.join(str(p) for p in paths)}")
