"""``bioverify gallery``: list, show, remove, re-embed, export, import, check and migrate a
gallery (an SQLite file or a PostgreSQL URL)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from bioverify.cli import options
from bioverify.cli.render import (
    echo_json,
    echo_lines,
    identity_details_lines,
    identity_list_lines,
    migration_lines,
    reembed_lines,
    removal_lines,
    removal_warning,
)
from bioverify.errors import GalleryError
from bioverify.gallery import Gallery, restore
from bioverify.gallery.backends import store_exists
from bioverify.gallery.migrate import migrate as migrate_gallery
from bioverify.gallery.store import redact


@click.group("gallery")
def gallery() -> None:
    """Manage an enrollment gallery (no model needed except for reembed)."""


@gallery.command("list")
@options.gallery()
@options.json_output
def list_identities(location: Path | str, as_json: bool) -> None:
    """The enrolled identities and their number of templates."""
    with Gallery(location) as opened:
        meta, summaries = opened.meta, opened.list()
    if as_json:
        echo_json(
            {
                "model_sha256": meta["model_sha256"],
                "modality": meta["modality"],
                "embedding_dim": int(meta["embedding_dim"]),
                "bundle_path": meta.get("bundle_path"),
                "identities": [s.to_dict() for s in summaries],
            }
        )
        return
    echo_lines(identity_list_lines(meta, summaries))


@gallery.command("show")
@options.gallery()
@options.json_output
@click.argument("identity")
def show(location: Path | str, as_json: bool, identity: str) -> None:
    """An identity's templates: source file, sha256, quality, enrollment time."""
    with Gallery(location) as opened:
        details = opened.show(identity)
    if as_json:
        echo_json(details.to_dict())
        return
    echo_lines(identity_details_lines(details))


@gallery.command("remove")
@options.gallery()
@click.argument("identity")
def remove(location: Path | str, identity: str) -> None:
    """Delete IDENTITY and its templates, and erase them from the gallery file."""
    with Gallery(location) as opened:
        report = opened.remove(identity)
        engine = opened.engine
    echo_lines(removal_lines(report))
    warning = removal_warning(report, engine)
    if warning is not None:
        click.echo(warning, err=True)


@gallery.command("reembed")
@options.gallery()
@options.model(
    required=True,
    help="The new model bundle (or face / voice / voice-int8, the packaged models).",
)
@click.option(
    "--from",
    "from_dir",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=None,
    help="Folder to look for the original files in (by name, sha256-checked).",
)
@click.option(
    "--drop-unreachable",
    is_flag=True,
    help="Delete templates whose file is not found instead of keeping the old model.",
)
@options.model_settings
@options.json_output
def reembed(
    location: Path | str,
    model: Path,
    from_dir: Path | None,
    drop_unreachable: bool,
    settings: dict[str, Any],
    as_json: bool,
) -> None:
    """Move the gallery to a new model by embedding the original files again."""
    from bioverify.verify.defaults import resolve_model
    from bioverify.verify.verifier import Verifier

    model = Path(resolve_model(model))
    verifier = Verifier.load(model, **settings)
    with Gallery(location) as opened:
        report = opened.reembed(
            verifier, from_dir, bundle_path=model, drop_unreachable=drop_unreachable
        )
    if as_json:
        echo_json(report.to_dict())
    else:
        echo_lines(reembed_lines(report))
    if not report.switched:
        raise GalleryError(
            f"{len(report.unreachable)} template(s) unreachable; the gallery keeps its model. "
            "Give --from DIR with the original files, or --drop-unreachable"
        )


@gallery.command("export")
@options.gallery()
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export(location: Path | str, file: Path) -> None:
    """Write a JSON backup to FILE (it holds biometric templates: mode 0600)."""
    with Gallery(location) as opened:
        opened.export_json(file)
    click.echo(f"wrote {file} (biometric data: keep it private)")


@gallery.command("import")
@options.gallery()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def import_backup(location: Path | str, file: Path) -> None:
    """Restore a JSON backup: into a new gallery, or add its identities to this one."""
    if store_exists(location):
        with Gallery(location) as opened:
            names, where = opened.import_json(file), opened.location
    else:
        names, where = restore(location, file), redact(location)
    click.echo(f"imported {len(names)} identities into {where}")


@gallery.command("check")
@options.gallery()
def check(location: Path | str) -> None:
    """Check the gallery: the database's integrity, every template, counts and means."""
    with Gallery(location) as opened:
        problems, where = opened.check(), opened.location
    for problem in problems:
        click.echo(problem)
    if problems:
        click.echo(f"error: {where} has {len(problems)} problem(s)", err=True)
        sys.exit(GalleryError.exit_code)
    click.echo("ok")


@gallery.command("migrate")
@click.argument("source", type=options.GALLERY)
@click.argument("destination", type=options.GALLERY)
@options.json_output
def migrate(source: Path | str, destination: Path | str, as_json: bool) -> None:
    """Copy the gallery SOURCE to a new gallery DESTINATION (a file or a postgresql:// URL,
    either way) with its model binding; verified by counts and a checksum of the content."""
    report = migrate_gallery(source, destination)
    if as_json:
        echo_json(report.to_dict())
        return
    echo_lines(migration_lines(report))
