"""``bioverify identify``: who, among the enrolled identities, is in this sample (1:N)?"""

from __future__ import annotations

from pathlib import Path

import click

from bioverify.cli.gallery_common import (
    decision_options,
    echo_json,
    gallery_option,
    json_option,
    model_option,
    open_gallery,
)
from bioverify.cli.runtime_options import device_option, face_options


def _rate(value: float | None) -> str:
    return "" if value is None else f"{100 * value:.3g} %"


@click.command("identify")
@gallery_option
@model_option
@decision_options
@face_options
@device_option
@click.option(
    "--top-k",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="At most this many candidates.",
)
@json_option
@click.argument("file", type=click.Path(path_type=Path))
def identify(
    location: Path | str,
    model: Path | None,
    calibration: Path | None,
    far: float | None,
    threshold: float | None,
    face_mode: str,
    detector: str | None,
    device: str,
    top_k: int,
    as_json: bool,
    file: Path,
) -> None:
    """Open-set identification of FILE: the enrolled identities scoring at or above the
    calibrated threshold, best first, or "unknown"."""
    with open_gallery(
        location,
        model,
        face_mode,
        detector,
        calibration=calibration,
        operating_point=far,
        threshold=threshold,
        device=device,
    ) as gallery:
        result = gallery.identify(file, top_k=top_k)
    if as_json:
        echo_json(result.to_dict())
        return
    if result.unknown:
        click.echo(
            f"unknown: none of {result.n_identities} identities scored at or above "
            f"the threshold {result.threshold:.4g}"
        )
    for rank, candidate in enumerate(result.candidates, start=1):
        facts = candidate.result.to_dict()
        rate = _rate(facts.get("far"))
        where = f" (FAR {rate} at {facts.get('operating_point')})" if rate else ""
        click.echo(f"{rank}. {candidate.identity}  score {candidate.score:.4f}{where}")
    for note in result.notes:
        click.echo(f"note: {note}")
