"""``bioverify calibrate``: thresholds with known error rates from genuine/impostor scores.

Thin: read the trials, :func:`~bioverify.calibration.fit_calibration`, save the calibration
file, optionally write the report, print a short summary. The trials arrive as a
:class:`~bioverify.calibration.ScoreTable`; today they come from a score CSV, and any other
source of trials only has to produce such a table.
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import click

from bioverify.calibration import Calibration, ScoreTable, fit_calibration, read_scores_csv
from bioverify.calibration.llr import METHODS, CalibrationMethod

_OPEN_UNIT = click.FloatRange(0.0, 1.0, min_open=True, max_open=True)


def _pct(rate: float) -> str:
    return f"{100.0 * rate:.3g} %"


def _summary(calibration: Calibration) -> list[str]:
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
        )


@click.command("calibrate")
@click.option(
    "--scores",
    "scores_path",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="CSV with a header naming score,label (1 genuine, 0 impostor) and optionally "
    "subject_a,subject_b for identity-bootstrap intervals.",
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
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Calibration JSON to write.",
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
def calibrate(
    scores_path: Path,
    target_far: tuple[float, ...],
    target_frr: tuple[float, ...],
    out: Path,
    report_dir: Path | None,
    method: CalibrationMethod,
    p_target: float,
    n_resamples: int,
    seed: int,
) -> None:
    """Choose thresholds at target FAR/FRR with confidence intervals and fit score → LLR."""
    table = read_scores_csv(scores_path)
    if not target_far and not target_frr:
        target_far = (1e-3,)
    calibration = _fit(table, target_far, target_frr, method, p_target, n_resamples, seed)
    calibration.save(out)
    for line in _summary(calibration):
        click.echo(line)
    click.echo(f"wrote {out}")
    if report_dir is not None:
        from bioverify.calibration.report import write_report

        paths = write_report(calibration, table.scores, table.labels, report_dir)
        click.echo(f"wrote {', '.join(str(p) for p in paths)}")
