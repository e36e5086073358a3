"""A human-readable calibration report: DET, ROC and score-histogram PNGs plus ``report.md``.

Figures are drawn on :class:`matplotlib.figure.Figure` objects directly (Agg rendering, no
pyplot state, nothing to close), so writing a report never opens a window and is safe in
threads and servers.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm

from bioverify.errors import InvalidInput, MissingDependency

try:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, FuncFormatter
except ModuleNotFoundError as exc:  # the `report` extra
    raise MissingDependency(
        'the calibration report draws its plots with matplotlib: pip install "bioverify[report]"'
    ) from exc

from bioverify.calibration.calibration_file import Calibration
from bioverify.calibration.conditions import ConditionReport
from bioverify.calibration.operating_points import OperatingPoint
from bioverify.calibration.roc import RocCurve, validate_scores

#: rates offered as DET tick labels, most preferred first (those inside the plotted range and
#: far enough from already chosen ones are used)
_DET_TICKS = (
    1e-5, 1e-4, 1e-3, 0.01, 0.1, 0.5, 0.9, 0.99, 0.999,
    2e-5, 2e-4, 2e-3, 0.02, 0.2, 0.4, 0.6, 0.8, 0.98, 0.998,
    5e-5, 5e-4, 5e-3, 0.05, 0.95, 0.995,
)  # fmt: skip
#: curve points closer than this (in axis units) to the previous kept one are not drawn
_PLOT_RESOLUTION = 2e-3
#: DET tick labels closer than this (in normal deviates) to the previous one are dropped
_MIN_TICK_GAP = 0.3
#: one colour per operating point, the same in every figure (C0/C1: genuine/impostor, C3: EER)
_POINT_COLORS = ("C2", "C4", "C5", "C6", "C8", "C9")
_DPI = 120


def _pct(rate: float) -> str:
    """A rate as a percentage with three significant digits: 0.00123 → ``0.123 %``."""
    return f"{100.0 * rate:.3g} %"


def _threshold_text(threshold: float) -> str:
    return "+inf (accept nothing)" if math.isinf(threshold) else f"{threshold:.6g}"


def _thin(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Drop monotone-curve points that would fall on the same pixel as their predecessor, so
    a ROC with millions of unique scores draws quickly and looks the same."""
    span_x = float(np.ptp(x)) or 1.0
    span_y = float(np.ptp(y)) or 1.0
    kx = np.round(x / (span_x * _PLOT_RESOLUTION))
    ky = np.round(y / (span_y * _PLOT_RESOLUTION))
    keep = np.ones(x.size, dtype=bool)
    keep[1:] = (kx[1:] != kx[:-1]) | (ky[1:] != ky[:-1])
    keep[-1] = True
    return x[keep], y[keep]


def _point_color(k: int) -> str:
    return _POINT_COLORS[k % len(_POINT_COLORS)]


def _det_ticks(lo: float, hi: float) -> list[float]:
    chosen: list[float] = []
    for rate in _DET_TICKS:
        z = float(norm.ppf(rate))
        if lo <= z <= hi and all(abs(z - norm.ppf(c)) >= _MIN_TICK_GAP for c in chosen):
            chosen.append(rate)
    return sorted(chosen)


def _percent_axis(axis_ticks: list[float], axes: Axes, which: str) -> None:
    locator = FixedLocator([float(norm.ppf(r)) for r in axis_ticks])
    formatter = FuncFormatter(lambda value, _: f"{100.0 * norm.cdf(value):.3g}")
    axis = axes.xaxis if which == "x" else axes.yaxis
    axis.set_major_locator(locator)
    axis.set_major_formatter(formatter)


def _det_figure(calibration: Calibration, curve: RocCurve) -> Figure:
    x, y = curve.det_points()
    far_eps, frr_eps = 0.5 / curve.n_impostor, 0.5 / curve.n_genuine
    fig = Figure(figsize=(6.0, 6.0))
    ax = fig.add_subplot()
    px, py = _thin(x, y)
    ax.plot(px, py, color="C0", lw=1.5, label="DET")
    lo = float(norm.ppf(min(far_eps, frr_eps))) - 0.1
    hi = float(norm.ppf(0.999))
    ax.plot([lo, hi], [lo, hi], color="0.7", lw=0.8, ls="--")
    e = float(norm.ppf(np.clip(calibration.eer, min(far_eps, frr_eps), 1 - 1e-9)))
    ax.plot([e], [e], "o", color="C3", label=f"EER {_pct(calibration.eer)}")
    for k, op in enumerate(calibration.operating_points):
        ox = float(norm.ppf(np.clip(op.far, far_eps, 1 - far_eps)))
        oy = float(norm.ppf(np.clip(op.frr, frr_eps, 1 - frr_eps)))
        marker = "s" if op.supported else "x"
        note = "" if op.supported else ", unsupported"
        ax.plot([ox], [oy], marker, color=_point_color(k), label=f"{op.label}{note}")
    ticks = _det_ticks(lo, hi)
    _percent_axis(ticks, ax, "x")
    _percent_axis(ticks, ax, "y")
    ax.set_xlim(lo, hi)
    ax.set_ylim(lo, hi)
    ax.set_xlabel("False accept rate (%)")
    ax.set_ylabel("False reject rate (%)")
    ax.set_title(f"DET ({curve.n_genuine} genuine, {curve.n_impostor} impostor trials)")
    ax.grid(True, color="0.9")
    ax.legend(loc="upper right", fontsize="small")
    fig.tight_layout()
    return fig


def _roc_figure(calibration: Calibration, curve: RocCurve) -> Figure:
    floor = 0.5 / curve.n_impostor
    fig = Figure(figsize=(6.0, 5.0))
    ax = fig.add_subplot()
    fx, ty = _thin(np.log10(np.clip(curve.far, floor, 1.0)), curve.tar)
    ax.plot(10.0**fx, ty, color="C0", lw=1.5, label="ROC")
    # operating points are named in a legend, as in the DET plot: text next to each marker
    # overlapped when two points were close (FAR=0.001 and FAR=0.0001 near the floor)
    for k, op in enumerate(calibration.operating_points):
        marker = "s" if op.supported else "x"
        note = "" if op.supported else ", unsupported"
        ax.plot(
            [max(op.far, floor)],
            [1.0 - op.frr],
            marker,
            color=_point_color(k),
            label=f"{op.label}{note}",
        )
    ax.legend(loc="lower right", fontsize="small")
    ax.set_xscale("log")
    ax.set_xlim(floor, 1.0)
    ax.set_ylim(0.0, 1.01)
    ax.set_xlabel(f"False accept rate (0 drawn at {floor:.2g}, half an impostor trial)")
    ax.set_ylabel("True accept rate")
    ax.set_title(f"ROC ({curve.n_genuine} genuine, {curve.n_impostor} impostor trials)")
    ax.grid(True, which="both", color="0.9")
    fig.tight_layout()
    return fig


def _scores_figure(calibration: Calibration, s: np.ndarray, genuine: np.ndarray) -> Figure:
    n_bins = int(np.clip(2 * math.sqrt(min(genuine.sum(), (~genuine).sum())), 20, 100))
    edges = np.linspace(float(s.min()), float(s.max()), n_bins + 1)
    fig = Figure(figsize=(7.0, 4.5))
    ax = fig.add_subplot()
    for mask, color, name in ((~genuine, "C1", "impostor"), (genuine, "C0", "genuine")):
        density, _ = np.histogram(s[mask], bins=edges, density=True)
        ax.stairs(density, edges, fill=True, alpha=0.5, color=color, label=name)
    lines = [("EER", calibration.eer_threshold, "C3")]
    lines += [
        (op.label, op.threshold, _point_color(k))
        for k, op in enumerate(calibration.operating_points)
    ]
    for name, threshold, color in lines:
        if math.isfinite(threshold):
            ax.axvline(threshold, color=color, ls="--", lw=1.0, label=f"{name}: {threshold:.4g}")
    ax.set_xlabel("score (accept when score ≥ threshold)")
    ax.set_ylabel("density")
    ax.set_title("Score distributions")
    ax.legend(fontsize="small")
    fig.tight_layout()
    return fig


def _point_row(op: OperatingPoint) -> str:
    far = f"{_pct(op.far)} [{_pct(op.far_ci[0])}, {_pct(op.far_ci[1])}]"
    frr = f"{_pct(op.frr)} [{_pct(op.frr_ci[0])}, {_pct(op.frr_ci[1])}]"
    return (
        f"| {op.label} | {_threshold_text(op.threshold)} | {far} | {frr} | "
        f"{'yes' if op.supported else 'no'} |"
    )


def _methods(calibration: Calibration) -> list[str]:
    level = f"{100 * calibration.confidence:g} %"
    if calibration.ci_method == "identity-bootstrap":
        ci = (
            f"{level} percentile intervals from an identity bootstrap: {calibration.n_resamples}"
            " resamples of the subjects with replacement (seed "
            f"{calibration.seed}), each trial weighted by the product of its two subjects' "
            "multiplicities, because trials that share a person are not independent."
        )
    else:
        ci = (
            f"{level} Clopper–Pearson (exact binomial) intervals on the trial counts; they "
            "treat trials as independent, which understates the uncertainty when trials "
            "share people (give subject_a/subject_b for an identity bootstrap)."
        )
    calibrator = (
        "prior-weighted logistic regression (each class carries half the weight), "
        "LLR = slope × score + offset"
        if calibration.calibrator.method == "logistic"
        else "isotonic regression (pool adjacent violators), posteriors clipped into "
        f"[{calibration.calibrator.epsilon:g}, 1 − {calibration.calibrator.epsilon:g}]"
    )
    return [
        "- ROC: FAR and FRR are measured at every unique score; a threshold accepts "
        "`score >= threshold`, so tied scores are all accepted together.",
        "- EER: linear interpolation between the two adjacent ROC points where FAR − FRR "
        "changes sign; the EER threshold is interpolated the same way.",
        "- Threshold at a target FAR: the lowest unique-score threshold whose measured FAR is "
        "at most the target. At a target FRR: the highest threshold whose measured FRR is at "
        "most the target.",
        "- Supported: a target rate needs at least ⌈3 / target⌉ trials of the class it counts "
        "(rule of three); unsupported points are still reported, but their rates are not "
        "demonstrated by this data.",
        f"- Confidence intervals: {ci}",
        f"- Score → LLR: {calibrator}. Cllr is measured on the calibration trials themselves; "
        "minCllr is the Cllr after the best monotone calibration of these scores.",
        f"- DCF: normalised detection cost at p_target = {calibration.p_target:g} with "
        "C_miss = C_fa = 1; actual DCF uses the Bayes threshold on the calibrated LLRs.",
    ]


def _condition_table(c: Calibration, level: str) -> list[str]:
    """Each operating point's rates per quality bin (with its thresholds) and per condition
    (worst FAR first), when there are any."""
    bins = c.quality_bins
    lines: list[str] = []
    if bins is not None:
        lines += _table(
            "## Per quality bin",
            f"Each FAR threshold was measured again for the pairs whose worse sample's "
            f"{bins.measure} falls in each bin, and held in the worst condition of the bin "
            "with enough impostor trials; a pair is decided at its bin's threshold.",
            "bin", bins.bins, level, with_thresholds=True,
        )  # fmt: skip
    if c.conditions:
        how = (
            "rates of the decisions at each pair's quality-bin threshold"
            if bins is not None
            else "each FAR threshold was raised until its target held in every condition "
            "with enough impostor trials (rule of three)"
        )
        lines += _table("## Per condition", how[0].upper() + how[1:] + ".", "condition",
                        c.conditions, level)  # fmt: skip
    return lines


def _table(
    heading: str,
    text: str,
    kind: str,
    reports: list[ConditionReport],
    level: str,
    with_thresholds: bool = False,
) -> list[str]:
    lines = [
        heading,
        "",
        text,
        "",
        f"| {kind} | genuine / impostor | EER | point | FAR [{level} CI] | FRR [{level} CI] |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for report in reports:
        equal = "—" if report.eer is None else _pct(report.eer)
        for r in report.rates:
            point = f"{r.label} at {r.threshold:.6g}" if with_thresholds else r.label
            lines.append(
                f"| {report.name} | {report.n_genuine} / {report.n_impostor} | {equal} | "
                f"{point} | {_pct(r.far)} [{_pct(r.far_ci[0])}, {_pct(r.far_ci[1])}] | "
                f"{_pct(r.frr)} [{_pct(r.frr_ci[0])}, {_pct(r.frr_ci[1])}] |"
            )
    return [*lines, ""]


def _markdown(calibration: Calibration, figures: list[Path]) -> str:
    c = calibration
    level = f"{100 * c.confidence:g} %"
    lines = [
        "# Calibration report",
        "",
        f"Created {c.created}; model sha256: {c.model_sha256 or 'not bound'}.",
        "",
        f"Measured on: {c.population or 'not stated'}. On other people, cameras or "
        "microphones the rates can differ: check them with `bioverify calibrate --check`.",
        "",
        "| quantity | value |",
        "| --- | --- |",
        f"| genuine trials | {c.n_genuine} |",
        f"| impostor trials | {c.n_impostor} |",
        f"| score range | {c.score_range[0]:.6g} … {c.score_range[1]:.6g} |",
        f"| EER | {_pct(c.eer)} at threshold {c.eer_threshold:.6g} |",
        f"| Cllr ({c.calibrator.method}) | {c.cllr:.4f} bits |",
        f"| minCllr | {c.min_cllr:.4f} bits |",
        f"| minDCF (p_target {c.p_target:g}) | {c.min_dcf:.4f} at threshold "
        f"{_threshold_text(c.min_dcf_threshold)} |",
        f"| actual DCF (p_target {c.p_target:g}) | {c.actual_dcf:.4f} |",
        "",
        "## Operating points",
        "",
        f"| target | threshold | FAR [{level} CI] | FRR [{level} CI] | supported |",
        "| --- | --- | --- | --- | --- |",
        *(_point_row(op) for op in c.operating_points),
        "",
        *_condition_table(c, level),
        "## Warnings",
        "",
        *([f"- {w}" for w in c.warnings] or ["None."]),
        "",
        "## Method",
        "",
        *_methods(c),
        "",
        "## Figures",
        "",
        *(f"![{p.stem}]({p.name})" for p in figures),
        "",
    ]
    return "\n".join(lines)


def write_report(
    calibration: Calibration,
    scores: ArrayLike,
    labels: ArrayLike,
    out_dir: str | os.PathLike[str],
) -> list[Path]:
    """Write a calibration report: DET, ROC and score plots and a Markdown summary.

    Needs matplotlib (the ``report`` extra).

    Parameters
    ----------
    calibration : Calibration
        The calibration to report.
    scores, labels : array-like
        The trials the calibration was fitted on.
    out_dir : str or path-like
        The folder to write into (created if missing).

    Returns
    -------
    list of pathlib.Path
        ``det.png``, ``roc.png``, ``scores.png`` and ``report.md``, in that order.

    Raises
    ------
    InvalidInput
        Malformed scores or labels, other trial counts than the calibration's, or a folder
        that cannot be created or written.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from bioverify.calibration import fit_calibration
    >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
    >>> labels = [0] * 6 + [1] * 6
    >>> calibration = fit_calibration(scores, labels, target_fars=[0.5])
    >>> paths = write_report(calibration, scores, labels, Path(tempfile.mkdtemp()) / "report")
    >>> [p.name for p in paths]
    ['det.png', 'roc.png', 'scores.png', 'report.md']
    """
    s, genuine = validate_scores(scores, labels)
    n_genuine = int(np.count_nonzero(genuine))
    if (n_genuine, s.size - n_genuine) != (calibration.n_genuine, calibration.n_impostor):
        raise InvalidInput(
            f"the scores hold {n_genuine} genuine / {s.size - n_genuine} impostor trials but "
            f"the calibration was fitted on {calibration.n_genuine} / {calibration.n_impostor}; "
            "pass the trials it was fitted on"
        )
    out = Path(out_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InvalidInput(f"cannot create report folder {out}: {exc.strerror or exc}") from exc
    curve = RocCurve.from_scores(s, genuine)
    figures = {
        "det.png": _det_figure(calibration, curve),
        "roc.png": _roc_figure(calibration, curve),
        "scores.png": _scores_figure(calibration, s, genuine),
    }
    paths = [out / name for name in figures]
    report = out / "report.md"
    try:
        for path, fig in zip(paths, figures.values(), strict=True):
            fig.savefig(path, dpi=_DPI)
        report.write_text(_markdown(calibration, paths), encoding="utf-8")
    except OSError as exc:
        raise InvalidInput(f"cannot write the report into {out}: {exc.strerror or exc}") from exc
    return [*paths, report]


__all__ = ["write_report"]
