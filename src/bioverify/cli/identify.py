"""``bioverify identify``: who, among the enrolled identities, is in this sample (1:N)?"""

from __future__ import annotations

from pathlib import Path

import click

from bioverify.cli import options
from bioverify.cli.render import echo_json, echo_lines, identification_lines
from bioverify.gallery import Gallery


@click.command("identify")
@options.gallery()
@options.gallery_model
@options.decision
@options.face
@options.runtime
@click.option(
    "--top-k",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="At most this many candidates.",
)
@options.json_output
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
    score_norm: str,
    top_k: int,
    as_json: bool,
    file: Path,
) -> None:
    """Open-set identification of FILE: the enrolled identities scoring at or above the
    calibrated threshold, best first, or "unknown"."""
    with Gallery.open(
        location,
        model,
        calibration=calibration,
        operating_point=far,
        threshold=threshold,
        **options.load_settings(face_mode, detector, device, score_norm),
    ) as gallery:
        result = gallery.identify(file, top_k=top_k)
    if as_json:
        echo_json(result.to_dict())
    else:
        echo_lines(identification_lines(result))
