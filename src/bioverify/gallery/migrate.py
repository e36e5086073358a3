"""Copy a gallery to a new location — SQLite to PostgreSQL or back — and prove the copy.

:func:`migrate` reads the source in one snapshot, creates the destination with the same
model binding (model sha256, modality, dimension, bundle path, creation time) and writes
every identity with its templates (vectors, source facts, quality, notes, enrollment
times) in one transaction. It then compares :func:`content_digest` of both: the numbers of
identities and templates, and a sha256 over everything but row ids (the mean templates are
recomputed in the destination, so they are checked too). A mismatch deletes the
destination and raises :class:`GalleryError`; the source is never changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from bioverify.errors import GalleryError
from bioverify.gallery import records
from bioverify.gallery.backends import open_store, store_exists
from bioverify.gallery.records import NewTemplate, SourceRecord
from bioverify.gallery.store import Tx, read_meta, redact
from bioverify.jsonable import FieldsToDict

#: the meta keys a migrated gallery keeps (its binding to the model, and its history)
BINDING_KEYS = ("model_sha256", "modality", "embedding_dim", "bundle_path", "created")


@dataclass(frozen=True)
class Digest:
    """What a gallery holds, for comparing two copies."""

    identities: int
    templates: int
    sha256: str


@dataclass(frozen=True)
class MigrationReport(FieldsToDict):
    source: str
    destination: str
    identities: int
    templates: int
    sha256: str
    """the content digest both galleries share"""


def content_digest(tx: Tx) -> Digest:
    """Counts and a sha256 of a gallery's model binding, identities (name, creation time,
    count, mean template) and templates (vector and facts, in enrollment order).

    Row ids are left out: they differ between copies. Each identity is hashed apart and the
    hashes are combined in name order, so the database's collation does not matter.
    """
    meta = read_meta(tx)
    dim = int(meta["embedding_dim"])
    total = hashlib.sha256(records.to_json({key: meta.get(key) for key in BINDING_KEYS}).encode())
    n_templates = 0
    identities = records.identity_summaries(tx)
    parts = []
    for summary in identities:
        part = hashlib.sha256(records.to_json(summary.to_dict()).encode())
        mean = records.identity_mean(tx, summary.id, dim)
        assert mean is not None  # the summary was read in this snapshot
        part.update(records.to_blob(mean))
        embeddings = records.template_embeddings(tx, summary.id, dim)
        facts = records.template_records(tx, summary.id)
        for fact, embedding in zip(facts, embeddings, strict=True):
            part.update(records.to_blob(embedding))
            part.update(records.to_json({**fact.to_dict(), "id": None}).encode())
        n_templates += len(facts)
        parts.append((summary.id, part.hexdigest()))
    for name, hexdigest in sorted(parts):
        total.update(f"{name}\0{hexdigest}\n".encode())
    return Digest(len(identities), n_templates, total.hexdigest())


def _copy_identities(source: Tx, destination: Tx, dim: int, model: str) -> None:
    for summary in records.identity_summaries(source):
        embeddings = records.template_embeddings(source, summary.id, dim)
        templates = [
            NewTemplate(
                embedding,
                SourceRecord(fact.source_name, fact.source_path, fact.source_sha256),
                fact.quality,
                list(fact.notes),
                enrolled_at=fact.enrolled_at,
            )
            for fact, embedding in zip(
                records.template_records(source, summary.id), embeddings, strict=True
            )
        ]
        # stored as the gallery's model's: a stray template of another model in the source
        # makes the digests differ, and the copy is refused
        records.add_templates(destination, summary.id, templates, model, dim, summary.created)


def migrate(source: Path | str, destination: Path | str) -> MigrationReport:
    """Copy the gallery at ``source`` to a new gallery at ``destination`` (file paths or
    ``postgresql://`` URLs) and check that both hold the same.

    Examples
    --------
    >>> migrate("staff.db", "postgresql://owner@db.example/bio")  # doctest: +SKIP
    MigrationReport(source='staff.db', destination='postgresql://owner@db.example/bio',
                    identities=1200, templates=3600, sha256='6c1f…')
    """
    if store_exists(destination):
        raise GalleryError(
            f"{redact(destination)}: a gallery (or file) is there already; migrate into a new "
            "location"
        )
    src = open_store(source)
    try:
        with src.read() as tx:
            meta = read_meta(tx)
            before = content_digest(tx)
            dst = open_store(destination, {key: meta[key] for key in BINDING_KEYS if key in meta})
            try:
                with dst.write() as out:
                    _copy_identities(tx, out, int(meta["embedding_dim"]), meta["model_sha256"])
                with dst.read() as check:
                    after = content_digest(check)
            except BaseException:
                dst.drop()
                raise
    finally:
        src.close()
    dst.close()
    if after != before:
        open_store(destination).drop()
        raise GalleryError(
            f"{redact(destination)}: the copy differs from the source ({after.identities} "
            f"identities, {after.templates} templates vs {before.identities}, "
            f"{before.templates}); it was deleted"
        )
    return MigrationReport(
        src.location, dst.location, after.identities, after.templates, after.sha256
    )


__all__ = ["BINDING_KEYS", "Digest", "MigrationReport", "content_digest", "migrate"]
