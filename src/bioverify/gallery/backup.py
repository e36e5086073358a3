"""JSON backups of a gallery: every identity with its templates, as one file.

A backup holds the templates themselves (base64 of little-endian float32), so it is
biometric data like the gallery: it is written with mode 0600, atomically (a temporary
file in the same folder, then renamed). Importing checks everything (format, model,
dimensions, unit vectors) and recomputes the mean templates instead of trusting them.

Layout (format version 1)::

    {"format": "bioverify-gallery-export", "format_version": 1, "notice": "...",
     "exported": "<UTC time>",
     "meta": {"model_sha256", "modality", "embedding_dim", "created", "bundle_path"},
     "identities": [{"id", "created", "templates": [
         {"embedding": "<base64 float32 LE>", "source_name", "source_path", "source_sha256",
          "quality": {...}, "notes": [...], "enrolled_at", "model_sha256"}]}]}
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from bioverify.atomic import write_atomic
from bioverify.errors import GalleryError, ModelMismatch
from bioverify.gallery import records
from bioverify.gallery.backends import open_store, store_exists
from bioverify.gallery.records import NewTemplate, SourceRecord
from bioverify.gallery.samples import check_identity
from bioverify.gallery.store import Tx, read_meta, redact, utc_now

FORMAT = "bioverify-gallery-export"
FORMAT_VERSION = 1
NOTICE = (
    "This file holds biometric templates (face or voice embeddings) of the people listed: "
    "keep it private (mode 0600), store it encrypted, delete it when no longer needed."
)
_META_KEYS = ("model_sha256", "modality", "embedding_dim", "created", "bundle_path")


def _template_json(record: records.TemplateRecord, embedding: np.ndarray) -> dict[str, Any]:
    facts = record.to_dict()
    for key in ("id", "identity"):
        facts.pop(key)
    return {"embedding": base64.b64encode(records.to_blob(embedding)).decode("ascii"), **facts}


def export_json(conn: Tx, path: Path | str) -> Path:
    """Write every identity and template read through ``conn`` to ``path`` (mode 0600)."""
    meta = read_meta(conn)
    dim = int(meta["embedding_dim"])
    identities = []
    for summary in records.identity_summaries(conn):
        embeddings = records.template_embeddings(conn, summary.id, dim)
        facts = records.template_records(conn, summary.id)
        identities.append(
            {
                "id": summary.id,
                "created": summary.created,
                "templates": [_template_json(f, e) for f, e in zip(facts, embeddings, strict=True)],
            }
        )
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "notice": NOTICE,
        "exported": utc_now(),
        "meta": {key: meta.get(key) for key in _META_KEYS},
        "identities": identities,
    }
    target = Path(path)
    try:
        return write_atomic(target, json.dumps(document, indent=1).encode("utf-8"), mode=0o600)
    except OSError as exc:
        raise GalleryError(
            f"{target}: cannot write the backup ({exc.strerror or exc}); the previous file, "
            "if any, is unchanged"
        ) from exc


def _field(data: Mapping[str, Any], key: str, kind: type | tuple[type, ...], where: str) -> Any:
    value = data.get(key) if isinstance(data, Mapping) else None
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise GalleryError(f"{where}: missing or invalid field {key!r}")
    return value


def read_export(path: Path | str) -> dict[str, Any]:
    """Read and validate a backup; raise :class:`GalleryError` naming what is wrong."""
    path = Path(path)
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError) as exc:
        raise GalleryError(f"{path}: not a readable gallery backup ({exc})") from exc
    if not isinstance(document, dict) or document.get("format") != FORMAT:
        raise GalleryError(f"{path}: not a bioverify gallery backup")
    if document.get("format_version") != FORMAT_VERSION:
        raise GalleryError(
            f"{path}: backup format_version {document.get('format_version')!r} is not "
            f"supported (this bioverify reads {FORMAT_VERSION})"
        )
    meta = _field(document, "meta", dict, str(path))
    for key in ("model_sha256", "modality", "created"):
        _field(meta, key, str, f"{path}: meta")
    dim = _field(meta, "embedding_dim", (str, int), f"{path}: meta")
    if not str(dim).isdigit() or int(dim) < 1:
        raise GalleryError(f"{path}: meta: invalid embedding_dim {dim!r}")
    identities = _field(document, "identities", list, str(path))
    for entry in identities:
        where = f"{path}: identity {entry.get('id') if isinstance(entry, dict) else entry!r}"
        _field(entry, "id", str, where)
        _field(entry, "created", str, where)
        if not _field(entry, "templates", list, where):
            raise GalleryError(f"{where}: has no templates")
    return document


def _decode_templates(entry: Mapping[str, Any], dim: int, where: str) -> list[NewTemplate]:
    templates = []
    for item in entry["templates"]:
        try:
            blob = base64.b64decode(_field(item, "embedding", str, where), validate=True)
        except binascii.Error as exc:
            raise GalleryError(f"{where}: an embedding is not base64") from exc
        embedding = records.from_blobs([blob], dim, f"template of {where}")[0]
        path, digest = item.get("source_path"), item.get("source_sha256")
        templates.append(
            NewTemplate(
                embedding,
                SourceRecord(
                    _field(item, "source_name", str, where),
                    path if isinstance(path, str) else None,
                    digest if isinstance(digest, str) else None,
                ),
                _field(item, "quality", dict, where),
                [str(note) for note in _field(item, "notes", list, where)],
                enrolled_at=_field(item, "enrolled_at", str, where),
            )
        )
    return templates


def import_identities(conn: Tx, document: Mapping[str, Any], meta: Mapping[str, str]) -> list[str]:
    """Add a validated backup's identities inside the caller's write transaction."""
    model = document["meta"]["model_sha256"]
    if model != meta["model_sha256"]:
        raise ModelMismatch(
            f"the backup holds templates of model {model[:12]}…, the gallery of "
            f"{meta['model_sha256'][:12]}…; import it into a gallery of its own model"
        )
    dim = int(meta["embedding_dim"])
    names = [check_identity(entry["id"]) for entry in document["identities"]]
    existing = [name for name in names if records.identity_summary(conn, name) is not None]
    if existing or len(set(names)) != len(names):
        clash = existing or sorted(n for n in set(names) if names.count(n) > 1)
        raise GalleryError(
            f"identities already in the gallery or repeated in the backup: "
            f"{', '.join(map(repr, clash[:5]))}; nothing was imported"
        )
    for name, entry in zip(names, document["identities"], strict=True):
        templates = _decode_templates(entry, dim, f"identity {name!r}")
        records.add_templates(conn, name, templates, model, dim, created=entry["created"])
    return names


def restore(location: Path | str, backup: Path | str) -> list[str]:
    """Create a new gallery from a JSON backup.

    Parameters
    ----------
    location : str or path-like
        Where the new gallery goes: a file path or a ``postgresql://`` URL, where there is
        no gallery yet.
    backup : str or path-like
        A backup written by :meth:`Gallery.export_json
        <bioverify.gallery.Gallery.export_json>`.

    Returns
    -------
    list of str
        The identities restored.

    Raises
    ------
    GalleryError
        Something exists at ``location`` already (import into it with
        :meth:`Gallery.import_json <bioverify.gallery.Gallery.import_json>`), the backup is
        unreadable or malformed, or the gallery cannot be written (the partial gallery is
        removed).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from bioverify import Gallery, Verifier
    >>> folder = Path(tempfile.mkdtemp())
    >>> with Gallery(folder / "staff.db", Verifier.load("face")) as gallery:
    ...     _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
    ...     backup = gallery.export_json(folder / "backup.json")
    >>> restore(folder / "restored.db", backup)
    ['serena']
    """
    if store_exists(location):
        raise GalleryError(
            f"{redact(location)}: exists already; import into it with Gallery.import_json"
        )
    document = read_export(backup)
    meta = document["meta"]
    db = open_store(
        location,
        {
            "model_sha256": meta["model_sha256"],
            "modality": meta["modality"],
            "embedding_dim": str(meta["embedding_dim"]),
            "bundle_path": str(meta.get("bundle_path") or ""),
        },
    )
    try:
        with db.write() as conn:
            names = import_identities(conn, document, read_meta(conn))
    except BaseException:
        db.drop()
        raise
    db.close()
    return names


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "NOTICE",
    "export_json",
    "import_identities",
    "read_export",
    "restore",
]
