"""What the measuring commands print (``evaluate``, ``calibrate``, ``drift``): wording chosen
here, not derived from field names."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from bioverify.calibration import Calibration, ConditionReport, DriftReport, PointCheck
from bioverify.calibration.drift import PSI_MODERATE, PSI_SIGNIFICANT
from bioverify.cli.render import pct

if TYPE_CHECKING:
    from bioverify.verify.evaluation_report import EvaluationReport

_UNSTATED = "not stated (calibrate --population TEXT says whose trials these were)"


def _ci(interval: tuple[float, float]) -> str:
    return f"[{pct(interval[0])}, {pct(interval[1])}]"


def _threshold(value: float) -> str:
    return "+inf" if math.isinf(value) else f"{value:.6g}"


def summary_lines(calibration: Calibration) -> list[str]:
    """Trials, EER, Cllr/DCF, each operating point, per-condition rates, warnings."""
    c = calibration
    lines = [
        f"trials: {c.n_genuine} genuine, {c.n_impostor} impostor "
        f"({100 * c.confidence:g} % CIs: {c.ci_method})",
        f"measured on: {c.population or _UNSTATED}",
        f"EER {pct(c.eer)} at threshold {c.eer_threshold:.6g}",
        f"Cllr {c.cllr:.4f} bits ({c.calibrator.method}), minCllr {c.min_cllr:.4f} bits; "
        f"minDCF {c.min_dcf:.4f}, actual DCF {c.actual_dcf:.4f} at p_target {c.p_target:g}",
    ]
    for op in c.operating_points:
        note = "" if op.supported else "  UNSUPPORTED (too few trials, rule of three)"
        lines.append(
            f"{op.label}: threshold {_threshold(op.threshold)}  FAR {pct(op.far)} "
            f"{_ci(op.far_ci)}  FRR {pct(op.frr)} {_ci(op.frr_ci)}{note}"
        )
    bins = c.quality_bins
    if bins is None:
        lines += condition_lines(c.conditions)
    else:
        lines += condition_lines(
            bins.bins,
            f"FAR thresholds by the worse sample's {bins.measure}; each holds its target in "
            "every condition of its bin with enough impostor trials",
            "bin",
            with_thresholds=True,
        )
        lines += condition_lines(c.conditions, "rates of the thresholds of each pair's bin")
    lines += [f"warning: {w}" for w in c.warnings]
    return lines


def condition_lines(
    conditions: list[ConditionReport],
    heading: str = "each FAR threshold holds in every condition with enough impostor trials",
    kind: str = "condition",
    with_thresholds: bool = False,
) -> list[str]:
    """One line per condition (or quality bin: ``kind``) and operating point, under
    ``heading``; ``with_thresholds`` when each has thresholds of its own."""
    if not conditions:
        return []
    lines = [f"per {kind} ({len(conditions)}; {heading}):"]
    for report in conditions:
        equal = "" if report.eer is None else f", EER {pct(report.eer)}"
        rates = "; ".join(
            f"{r.label}{f' at {_threshold(r.threshold)}' if with_thresholds else ''}: "
            f"FAR {pct(r.far)} {_ci(r.far_ci)}, FRR {pct(r.frr)} {_ci(r.frr_ci)}"
            for r in report.rates
        )
        lines.append(
            f"  {report.name} ({report.n_genuine} genuine, {report.n_impostor} impostor"
            f"{equal}): {rates}"
        )
    return lines


def check_lines(checks: list[PointCheck], recalibrate: str) -> list[str]:
    """The claimed and measured rates of each point, and what to do when they differ."""
    lines = []
    for check in checks:
        claimed, measured = check.claimed, check.measured
        where = (
            f" for pairs whose worse sample has {check.quality_bin}" if check.quality_bin else ""
        )
        lines.append(
            f"{claimed.label} (threshold {_threshold(claimed.threshold)}{where}): FAR claimed "
            f"{pct(claimed.far)} {_ci(claimed.far_ci)}, measured {pct(measured.far)} "
            f"{_ci(measured.far_ci)} on {check.n_impostor} impostor trials: "
            f"{check.far_verdict.upper()}; FRR claimed {pct(claimed.frr)} "
            f"{_ci(claimed.frr_ci)}, measured {pct(measured.frr)} {_ci(measured.frr_ci)} on "
            f"{check.n_genuine} genuine trials: {check.frr_verdict}"
        )
    higher = [check for check in checks if not check.holds]
    if higher:
        within = all(
            c.claimed.target_far is not None and c.measured.far <= c.claimed.target_far
            for c in higher
        )
        lines.append(
            "the threshold gives MORE false accepts on your data than the calibration "
            f"claims{' (though within its FAR target)' if within else ''}; calibrate on "
            f"your data: {recalibrate}"
        )
    return lines


def drift_lines(report: DriftReport, threshold: float | None) -> list[str]:
    """The drift verdict and the figures behind it."""
    lines = [
        f"{report.verdict.upper()}: {report.n_scores} production scores vs the "
        "calibration's genuine and impostor scores",
        f"best-fitting mixture: {pct(report.genuine_share)} genuine; KS distance "
        f"{report.ks:.4f} (critical {report.ks_critical:.4f} at alpha 0.01)",
        f"PSI {report.psi:.3f} over 10 equally likely bins ({PSI_MODERATE:g}-"
        f"{PSI_SIGNIFICANT:g}: moderate shift, above {PSI_SIGNIFICANT:g}: significant)",
    ]
    if report.accepted_share is not None and threshold is not None:
        lines.append(f"accepted at threshold {_threshold(threshold)}: {pct(report.accepted_share)}")
    if report.drifted:
        lines.append(
            "these scores are unlike the calibration's: its error rates may not hold here; "
            "collect labelled samples and run `bioverify calibrate --check`"
        )
    return lines


def evaluation_lines(report: EvaluationReport) -> list[str]:
    """``bioverify evaluate``: EER, TAR at each FAR, minDCF, the model, data and protocol,
    then failures to acquire and notes."""
    summary = report.summary
    genuine, impostor = summary.n_genuine, summary.n_impostor
    lines = [
        f"EER {pct(summary.eer)} at threshold {summary.eer_threshold:.4f} "
        f"({genuine} genuine, {impostor} impostor trials)",
    ]
    for target, tar in summary.tar_at_far.items():
        flag = (
            ""
            if summary.supported[target]
            else f"; UNSUPPORTED: {impostor} impostor trials, {3 / target:g} needed"
        )
        lines.append(f"TAR@FAR={target:g}: {pct(tar)} ({genuine} genuine trials{flag})")
    lines += [
        f"minDCF (p_target {report.p_target:g}): {report.min_dcf:.4f}",
        f"model {report.model_name} ({report.modality}, sha256 {report.model_sha256[:12]}…)",
        f"data: {report.data}",
        f"protocol: {report.protocol}",
    ]
    dropped = report.counts.get("trials_dropped")
    if dropped:
        lines.append(f"{dropped} pairs dropped: a file failed to acquire")
    folds = report.fold_summary()
    if folds is not None and report.fold_accuracy is not None:
        lines.append(
            f"{len(report.fold_accuracy)}-fold accuracy: {pct(folds[0])} ± {pct(folds[1])} "
            f"(balanced pairs, {genuine + impostor} trials)"
        )
    lines.append(
        f"failures to acquire: {len(report.failures)} of {report.n_inputs} inputs "
        f"({pct(report.failure_rate)})"
    )
    lines += [f"  {source}: {reason}" for source, reason in report.failure_examples]
    if report.acquisition:
        counts = ", ".join(f"{kind} {n}" for kind, n in report.acquisition.items())
        lines.append(f"acquired: {counts}")
    lines += [f"note: {note}" for note in report.notes]
    where = report.calibration_label
    return lines + condition_lines(
        report.conditions,
        f"at the thresholds of {where}" if where else "no calibration: EER only",
    )


__all__ = [
    "check_lines",
    "condition_lines",
    "drift_lines",
    "evaluation_lines",
    "summary_lines",
]
