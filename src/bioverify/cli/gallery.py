"""``bioverify gallery``: list, show, remove, re-embed, export, import, check and migrate a
gallery (an SQLite file or a PostgreSQL URL)."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from bioverify.cli import gallery_common
from bioverify.cli.gallery_common import (
    GALLERY,
    echo_json,
    gallery_option,
    json_option,
    resolve_bundle,
)
from bioverify.cli.runtime_options import device_option, face_options
from bioverify.errors import GalleryError
from bioverify.gallery import Gallery, restore
from bioverify.gallery.migrate import migrate as migrate_gallery
from bioverify.gallery.store import redact, store_exists


@click.group("gallery")
def gallery() -> None:
    """Manage an enrollment gallery (no model needed except for reembed)."""


@gallery.command("list")
@gallery_option
@json_option
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
    click.echo(
        f"{len(summaries)} identities; {meta['modality']} model "
        f"{meta['model_sha256'][:12]}… ({meta['embedding_dim']}-d) from {meta.get('bundle_path')}"
    )
    for summary in summaries:
        click.echo(f"{summary.id}\t{summary.n_templates} template(s)\tsince {summary.created}")


@gallery.command("show")
@gallery_option
@json_option
@click.argument("identity")
def show(location: Path | str, as_json: bool, identity: str) -> None:
    """An identity's templates: source file, sha256, quality, enrollment time."""
    with Gallery(location) as opened:
        details = opened.show(identity)
    if as_json:
        echo_json(details.to_dict())
        return
    click.echo(f"{identity}: {details.summary.n_templates} template(s)")
    for t in details.templates:
        click.echo(
            f"  #{t.id} {t.source_name} sha256 {(t.source_sha256 or '-')[:12]} "
            f"enrolled {t.enrolled_at} quality {t.quality}"
        )


@gallery.command("remove")
@gallery_option
@click.argument("identity")
def remove(location: Path | str, identity: str) -> None:
    """Delete IDENTITY and its templates, and erase them from the gallery file."""
    with Gallery(location) as opened:
        report = opened.remove(identity)
        engine = opened.engine
    click.echo(f"removed {identity} ({report.n_templates} template(s))")
    if not report.scrubbed and engine == "sqlite":
        click.echo(
            "warning: another process was reading the gallery, so old copies may stay in its "
            "-wal file until the next removal or re-embedding",
            err=True,
        )
    elif not report.scrubbed:
        click.echo(
            "note: PostgreSQL keeps deleted rows until (auto)vacuum reuses their space, and "
            "in its write-ahead log, replicas and backups until they expire "
            "(docs/privacy.md)",
            err=True,
        )


@gallery.command("reembed")
@gallery_option
@click.option(
    "--model",
    required=True,
    type=click.Path(path_type=Path),
    help="The new model bundle (or face / voice, the packaged default models).",
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
@face_options
@device_option
@json_option
def reembed(
    location: Path | str,
    model: Path,
    from_dir: Path | None,
    drop_unreachable: bool,
    face_mode: str,
    detector: str | None,
    device: str,
    as_json: bool,
) -> None:
    """Move the gallery to a new model by embedding the original files again."""
    model = resolve_bundle(model)
    verifier = gallery_common.load_verifier(model, face_mode, detector, device=device)
    with Gallery(location) as opened:
        report = opened.reembed(
            verifier, from_dir, bundle_path=model, drop_unreachable=drop_unreachable
        )
    if as_json:
        echo_json(report.to_dict())
    else:
        for missing in report.unreachable:
            click.echo(f"unreachable {missing.source}: {missing.message}")
        for identity in report.dropped_identities:
            click.echo(f"dropped {identity} (no template left)")
        if report.switched:
            click.echo(
                f"re-embedded {report.reembedded} template(s) with model "
                f"{report.new_model_sha256[:12]}…"
            )
    if not report.switched:
        raise GalleryError(
            f"{len(report.unreachable)} template(s) unreachable; the gallery keeps its model. "
            "Give --from DIR with the original files, or --drop-unreachable"
        )


@gallery.command("export")
@gallery_option
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
def export(location: Path | str, file: Path) -> None:
    """Write a JSON backup to FILE (it holds biometric templates: mode 0600)."""
    with Gallery(location) as opened:
        opened.export_json(file)
    click.echo(f"wrote {file} (biometric data: keep it private)")


@gallery.command("import")
@gallery_option
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
@gallery_option
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
@click.argument("source", type=GALLERY)
@click.argument("destination", type=GALLERY)
@json_option
def migrate(source: Path | str, destination: Path | str, as_json: bool) -> None:
    """Copy the gallery SOURCE to a new gallery DESTINATION (a file or a postgresql:// URL,
    either way) with its model binding; verified by counts and a checksum of the content."""
    report = migrate_gallery(source, destination)
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo(
        f"copied {report.identities} identities and {report.templates} templates from "
        f"{report.source} to {report.destination}; contents match (sha256 {report.sha256})"
    )
