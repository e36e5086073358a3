"""``bioverify enroll``: add samples of one identity, or of every identity of a dataset, to a
gallery."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from bioverify.cli.gallery_common import (
    echo_json,
    gallery_option,
    json_option,
    open_gallery,
    quality_text,
)
from bioverify.cli.runtime_options import device_option, face_options
from bioverify.errors import InvalidInput, NoFaceFound
from bioverify.gallery import EnrollReport, Gallery
from bioverify.gallery.store import store_exists
from bioverify.progress import progress_iter

if TYPE_CHECKING:
    from bioverify.datasets.inventory import Inventory


@click.command("enroll")
@gallery_option
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    help="Model bundle (folder or .zip), or face / voice for the packaged default models. "
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
@face_options
@device_option
@json_option
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
def enroll(
    location: Path | str,
    model: Path | None,
    identity: str | None,
    datasets: tuple[Path, ...],
    face_mode: str,
    detector: str | None,
    device: str,
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
        with open_gallery(location, model, face_mode, detector, device=device) as gallery:
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
    with open_gallery(location, model, face_mode, detector, device=device) as gallery:
        report = gallery.enroll(identity, files)
    if as_json:
        echo_json(report.to_dict())
    else:
        for sample in report.enrolled:
            facts = quality_text(sample.quality)
            click.echo(f"enrolled {sample.source}" + (f" ({facts})" if facts else ""))
        if report.already_enrolled:
            click.echo(
                f"{identity}: already enrolled ({len(report.skipped)} file(s) already held; "
                f"{report.n_templates} template(s) in the gallery)"
            )
        else:
            _echo_failures(report)
            click.echo(
                f"{identity}: {report.n_templates} template(s) in the gallery "
                f"({len(report.enrolled)} added, {len(report.skipped)} skipped)"
            )
    if not report.ok:
        click.echo(f"error: no sample of {identity!r} could be enrolled", err=True)
        sys.exit(NoFaceFound.exit_code)


def _echo_failures(report: EnrollReport, duplicates: bool = True) -> None:
    for skipped in report.skipped:
        if duplicates or skipped.reason != "duplicate":
            click.echo(f"skipped {skipped.source}: {skipped.message}")


def _model_for(
    location: Path | str, model: Path | None, modality: Callable[[], str]
) -> Path | None:
    """``--model``; else, for a new gallery, the packaged default model of the samples'
    ``modality`` (an existing gallery remembers its own model)."""
    if model is not None or store_exists(location):
        return model
    from bioverify.verify.api import default_bundle

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
    added = sum(len(r.enrolled) for r in reports)
    duplicates = sum(s.reason == "duplicate" for r in reports for s in r.skipped)
    failed = sum(s.reason != "duplicate" for r in reports for s in r.skipped)
    stored = sum(r.n_templates > 0 for r in reports)
    if as_json:
        echo_json(
            {
                "identities": len(groups),
                "identities_in_gallery": stored,
                "templates_added": added,
                "duplicates_skipped": duplicates,
                "samples_failed": failed,
                "files_not_samples": [[str(p), why] for p, why in inventory.skipped],
                "reports": [r.to_dict() for r in reports],
            }
        )
    else:
        for report in reports:
            _echo_failures(report, duplicates=False)
        for path, why in inventory.skipped:
            click.echo(f"skipped {path}: {why}")
        click.echo(
            f"{stored} of {len(groups)} identities in the gallery: {added} template(s) added, "
            f"{duplicates} already enrolled, {failed} sample(s) failed"
        )
    if stored == 0:
        click.echo("error: no identity of the dataset could be enrolled", err=True)
        sys.exit(NoFaceFound.exit_code)
