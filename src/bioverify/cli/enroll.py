"""``bioverify enroll``: add samples of one identity, or of every identity of a dataset, to a
gallery."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bioverify.cli import options
from bioverify.cli.render import (
    dataset_enrollment_lines,
    echo_json,
    echo_lines,
    enrollment_lines,
)
from bioverify.errors import InvalidInput, NoFaceFound
from bioverify.gallery import DatasetEnrollReport, EnrollReport, Gallery
from bioverify.gallery.backends import store_exists
from bioverify.progress import progress_iter

if TYPE_CHECKING:
    from bioverify.datasets.inventory import Inventory


@click.command("enroll")
@options.gallery()
@options.model(
    help="Model bundle (folder or .zip), or face / voice / voice-int8 for the packaged models. "
    "Default: the one the gallery remembers; for a new gallery, the packaged default model "
    "for the samples (photos or recordings).",
)
@click.option("--id", "identity", help="The identity the FILES belong to.")
@click.option(
    "--from",
    "datasets",
    multiple=True,
    type=click.Path(path_type=Path),
    help="Instead of --id FILES: enroll every identity of a folder of identity folders (or a "
    "CSV manifest path,identity). Repeatable. Files an identity already holds are skipped "
    "without being embedded, so running it again resumes a stopped run.",
)
@options.model_settings
@options.json_output
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def enroll(
    location: Path | str,
    model: Path | None,
    identity: str | None,
    datasets: tuple[Path, ...],
    settings: dict[str, Any],
    as_json: bool,
    files: tuple[Path, ...],
) -> None:
    """Enroll photos or recordings (FILE, several allowed) as samples of --id, or a whole
    dataset with --from.

    A sample that fails to acquire (no face, no speech, unreadable) is reported and
    skipped; the others are stored together, one transaction per identity. Exits 3 when no
    sample could be stored (with --from: when none of the dataset is in the gallery).
    """
    if datasets:
        if identity is not None or files:
            raise InvalidInput("--from enrolls a whole dataset: give it without --id and FILES")
        from bioverify.datasets.inventory import scan_datasets

        inventory = scan_datasets(list(datasets), progress=False)
        model = _model_for(location, model, lambda: inventory.modality)
        with Gallery.open(location, model, **settings) as gallery:
            if inventory.modality != gallery.modality:
                raise InvalidInput(
                    f"the dataset holds {inventory.modality} samples but {gallery.location} is a "
                    f"{gallery.modality} gallery"
                )
            _enroll_inventory(gallery, inventory, as_json)
        return
    if identity is None or not files:
        raise InvalidInput("give --id and the FILES of that identity, or --from DATASET")
    model = _model_for(location, model, lambda: _files_modality(files))
    with Gallery.open(location, model, **settings) as gallery:
        report = gallery.enroll(identity, files)
    if as_json:
        echo_json(report.to_dict())
    else:
        echo_lines(enrollment_lines(report))
    if not report.ok:
        click.echo(f"error: no sample of {identity!r} could be enrolled", err=True)
        sys.exit(NoFaceFound.exit_code)


def _model_for(
    location: Path | str, model: Path | None, modality: Callable[[], str]
) -> Path | None:
    """``--model``; else, for a new gallery, the packaged default model of the samples'
    ``modality`` (an existing gallery remembers its own model)."""
    if model is not None or store_exists(location):
        return model
    from bioverify.verify.defaults import default_bundle

    return default_bundle(modality())


def _files_modality(files: Sequence[Path]) -> str:
    """Face or voice, from the first of ``files`` that tells."""
    from bioverify.verify.inputs import input_modality

    for path in files:
        try:
            return input_modality(path)
        except InvalidInput:
            continue
    raise InvalidInput("cannot tell whether the files are photos or recordings; pass --model")


def _enroll_inventory(gallery: Gallery, inventory: Inventory, as_json: bool) -> None:
    """Every identity of the inventory, one :meth:`Gallery.enroll` (transaction) each."""
    groups = inventory.by_identity()
    reports: list[EnrollReport] = []
    done = 0
    try:
        for identity, samples in progress_iter(groups.items(), "enrolling", "identity"):
            reports.append(gallery.enroll(identity, [s.path for s in samples]))
            done += 1
    except KeyboardInterrupt:
        click.echo(
            f"interrupted after {done} of {len(groups)} identities (all of them stored); run "
            "the same command again to continue",
            err=True,
        )
        sys.exit(130)
    summary = DatasetEnrollReport(reports, [(str(p), why) for p, why in inventory.skipped])
    if as_json:
        echo_json(summary.to_dict())
    else:
        echo_lines(dataset_enrollment_lines(summary))
    if summary.identities_in_gallery == 0:
        click.echo("error: no identity of the dataset could be enrolled", err=True)
        sys.exit(NoFaceFound.exit_code)
