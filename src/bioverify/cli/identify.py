"""``bioverify identify``: who, among the enrolled identities, is in this sample (1:N)?"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bioverify.cli import options
from bioverify.cli.render import echo_json, echo_lines, identification_lines
from bioverify.gallery import Gallery


@click.command("identify")
@options.gallery()
@options.gallery_model
@options.decision
@options.model_settings
@options.count("--top-k", minimum=1, default=5, help="At most this many candidates.")
@options.json_output
@click.argument("file", type=click.Path(path_type=Path))
def identify(
    location: Path | str,
    model: Path | None,
    calibration: Path | None,
    far: float | None,
    threshold: float | None,
    settings: dict[str, Any],
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
        **settings,
    ) as gallery:
        result = gallery.identify(file, top_k=top_k)
    if as_json:
        echo_json(result.to_dict())
    else:
        echo_lines(identification_lines(result))
