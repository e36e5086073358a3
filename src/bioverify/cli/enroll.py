"""``bioverify enroll``: add samples of one identity to a gallery."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bioverify.cli.gallery_common import (
    echo_json,
    gallery_option,
    json_option,
    model_option,
    open_gallery,
    quality_text,
)
from bioverify.cli.runtime_options import face_options
from bioverify.errors import NoFaceFound


@click.command("enroll")
@gallery_option
@model_option
@click.option("--id", "identity", required=True, help="The identity the samples belong to.")
@face_options
@json_option
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def enroll(
    gallery_path: Path,
    model: Path | None,
    identity: str,
    face_mode: str,
    detector: str | None,
    as_json: bool,
    files: tuple[Path, ...],
) -> None:
    """Enroll photos or recordings (FILE, several allowed) as samples of --id.

    A sample that fails to acquire (no face, no speech, unreadable) is reported and
    skipped; the others are stored together. Exits 3 when no sample could be stored.
    """
    with open_gallery(gallery_path, model, face_mode, detector) as gallery:
        report = gallery.enroll(identity, files)
    if as_json:
        echo_json(report.to_dict())
    else:
        for sample in report.enrolled:
            facts = quality_text(sample.quality)
            click.echo(f"enrolled {sample.source}" + (f" ({facts})" if facts else ""))
        for skipped in report.skipped:
            click.echo(f"skipped {skipped.source}: {skipped.message}")
        click.echo(
            f"{identity}: {report.n_templates} template(s) in the gallery "
            f"({len(report.enrolled)} added, {len(report.skipped)} skipped)"
        )
    if not report.ok:
        click.echo(f"error: no sample of {identity!r} could be enrolled", err=True)
        sys.exit(NoFaceFound.exit_code)
