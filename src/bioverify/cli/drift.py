"""``bioverify drift``: do production scores still look like the calibration's?"""

from __future__ import annotations

from pathlib import Path

import click

from bioverify.calibration import Calibration, check_drift
from bioverify.calibration.scores_csv import read_score_column
from bioverify.cli import options
from bioverify.cli.calibration_text import drift_lines
from bioverify.cli.render import echo_json, echo_lines
from bioverify.errors import CalibrationError, InvalidInput


def _calibration(model: str | None, calibration_path: Path | None) -> Calibration:
    """The calibration to compare with: a file, or the model's own (a bundle or face/voice)."""
    if calibration_path is not None:
        return Calibration.load(calibration_path)
    if model is None:
        raise InvalidInput("give --model (a bundle, face or voice) or --calibration FILE")
    from bioverify.bundle import open_bundle
    from bioverify.verify.calibration_use import resolve_calibration
    from bioverify.verify.defaults import resolve_model
    from bioverify.verify.score_norm import bundle_key

    info = open_bundle(resolve_model(model))
    calibration = resolve_calibration(True, info, bundle_key(info))
    assert calibration is not None  # True: the bundle's calibration, or an error
    return calibration


@click.command("drift")
@options.scores(
    required=True,
    help="CSV of production scores with a 'score' column (no labels needed), at least 100.",
)
@options.model(
    type=str, default=None, help="Bundle, or face / voice / voice-int8: its calibration."
)
@options.calibration_file(help="Calibration JSON to compare with (instead of --model's).")
@options.json_output
def drift(
    scores_path: Path, model: str | None, calibration_path: Path | None, as_json: bool
) -> None:
    """Compare production scores with the calibration's genuine and impostor scores
    (Kolmogorov–Smirnov distance to the best-fitting mixture, PSI). Exit 0 either way."""
    calibration = _calibration(model, calibration_path)
    if calibration.score_quantiles is None:
        raise CalibrationError(
            "this calibration keeps no score distributions (written before format 2); "
            "calibrate again to check drift against it"
        )
    points = calibration.operating_points
    threshold = next((op.threshold for op in points if op.target_far is not None), None)
    report = check_drift(read_score_column(scores_path), calibration.score_quantiles, threshold)
    if as_json:
        echo_json({**report.to_dict(), "threshold": threshold})
        return
    echo_lines(drift_lines(report, threshold))


__all__ = ["drift"]
