"""The calibration report: three PNGs and a Markdown summary that carries the numbers."""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread
from scipy.stats import norm

from bioverify.calibration import RocCurve, fit_calibration, write_report
from bioverify.calibration.report import _det_figure, _roc_figure, _thin
from bioverify.errors import InvalidInput
from helpers import normal_trials, run_python


@pytest.fixture(scope="module")
def calibrated():
    scores, labels = normal_trials(300, 3000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibration = fit_calibration(scores, labels, target_fars=(1e-2, 1e-4), target_frrs=(0.05,))
    return calibration, scores, labels


def test_writes_three_figures_and_markdown(calibrated, tmp_path: Path) -> None:
    calibration, scores, labels = calibrated
    out = tmp_path / "new" / "report"
    paths = write_report(calibration, scores, labels, out)
    assert [p.name for p in paths] == ["det.png", "roc.png", "scores.png", "report.md"]
    for png in paths[:3]:
        image = imread(png)
        assert image.ndim == 3 and image.shape[0] > 300 and image.shape[1] > 300
        assert image[..., :3].std() > 0.05  # something is drawn
    text = paths[3].read_text(encoding="utf-8")
    assert "| genuine trials | 300 |" in text
    assert "| impostor trials | 3000 |" in text
    assert f"| EER | {100 * calibration.eer:.3g} % at threshold" in text
    assert f"{calibration.cllr:.4f} bits" in text and f"{calibration.min_cllr:.4f} bits" in text
    assert f"{calibration.min_dcf:.4f}" in text
    for op in calibration.operating_points:
        row = next(line for line in text.splitlines() if line.startswith(f"| {op.label} |"))
        assert f"{op.threshold:.6g}" in row
        assert (
            f"{100 * op.far:.3g} % [{100 * op.far_ci[0]:.3g} %, {100 * op.far_ci[1]:.3g} %]" in row
        )
        assert row.endswith("| yes |" if op.supported else "| no |")
    assert calibration.warnings and all(f"- {w}" in text for w in calibration.warnings)
    assert "linear interpolation" in text and "Clopper–Pearson" in text
    assert "rule of three" in text
    assert "![det](det.png)" in text


def test_det_axes_are_normal_deviates_labelled_in_percent(calibrated) -> None:
    calibration, scores, labels = calibrated
    fig = _det_figure(calibration, RocCurve.from_scores(scores, labels))
    ax = fig.axes[0]
    ticks = ax.get_xticks()
    labels_text = [ax.xaxis.get_major_formatter()(t, i) for i, t in enumerate(ticks)]
    rates = [float(s) / 100 for s in labels_text]
    np.testing.assert_allclose(norm.ppf(rates), ticks, rtol=1e-6)
    assert "1" in labels_text and "10" in labels_text  # 1 % and 10 % are labelled
    # the EER marker sits on the diagonal at probit(EER)
    eer_line = next(line for line in ax.get_lines() if line.get_label().startswith("EER"))
    x, y = eer_line.get_data()
    assert x[0] == y[0] == pytest.approx(norm.ppf(calibration.eer))


def test_thin_keeps_the_shape_and_the_ends() -> None:
    x = np.linspace(0, 1, 1_000_001)
    y = 1 - x**2
    tx, ty = _thin(x, y)
    assert tx.size < 2000
    assert (tx[0], ty[0], tx[-1], ty[-1]) == (x[0], y[0], x[-1], y[-1])
    np.testing.assert_allclose(ty, 1 - tx**2)


def test_infinite_threshold_is_reported_as_accept_nothing(tmp_path: Path) -> None:
    scores = np.array([0.9, 0.2, 0.3, 0.8, 0.95])
    labels = np.array([1, 0, 0, 1, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibration = fit_calibration(scores, labels, target_fars=(1e-3,))
    assert math.isinf(calibration.operating_points[0].threshold)
    paths = write_report(calibration, scores, labels, tmp_path)
    assert "| FAR=0.001 | +inf (accept nothing) |" in paths[3].read_text(encoding="utf-8")


def test_rejects_scores_of_other_trials(calibrated, tmp_path: Path) -> None:
    calibration, scores, labels = calibrated
    with pytest.raises(InvalidInput, match="fitted on 300 / 3000"):
        write_report(calibration, scores[:-1], labels[:-1], tmp_path)


@pytest.mark.slow  # a fresh interpreter
def test_importing_calibration_does_not_import_matplotlib_or_sklearn() -> None:
    code = (
        "import sys, bioverify.calibration as c\n"
        "assert 'matplotlib' not in sys.modules\n"
        "assert 'sklearn' not in sys.modules\n"
        "c.write_report\n"
        "assert 'matplotlib' in sys.modules\n"
        "print('ok')\n"
    )
    proc = run_python(code, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_roc_names_close_operating_points_in_a_legend_not_overlapping_text() -> None:
    scores, labels = normal_trials(300, 3000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # FAR=0.001 and FAR=0.0005 sit a few pixels apart near the plot's floor
        calibration = fit_calibration(scores, labels, target_fars=(1e-3, 5e-4, 1e-2))
    ax = _roc_figure(calibration, RocCurve.from_scores(scores, labels)).axes[0]
    assert len(ax.texts) == 0  # no labels drawn next to the markers
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [
        "ROC",
        "FAR=0.001",
        "FAR=0.0005, unsupported",
        "FAR=0.01",
    ]


def test_the_report_says_where_the_rates_hold_per_condition(tmp_path: Path) -> None:
    scores, labels = normal_trials(300, 3000)
    conditions = np.where(np.arange(scores.size) % 2 == 0, "studio", "street")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        calibration = fit_calibration(
            scores, labels, target_fars=(1e-2,), conditions=conditions, population="two rooms"
        )
    write_report(calibration, scores, labels, tmp_path / "r")
    text = (tmp_path / "r" / "report.md").read_text()
    assert "Measured on: two rooms." in text and "## Per condition" in text
    assert text.count("| FAR=0.01 |") == 3  # the operating point, then one row per condition
    assert "| studio |" in text and "| street |" in text
