"""Rows of a gallery: templates as little-endian float32 blobs, identities with the
L2-normalised mean of their templates, and the SQL that reads and writes them.

Every function takes an open transaction (:class:`~bioverify.gallery.store.Tx` of either
store) and runs inside it; the SQL is the same for SQLite and PostgreSQL. Vectors are
passed as :class:`VectorBytes` (a BLOB in SQLite, a pgvector ``vector`` in PostgreSQL) and
come back as bytes, checked (length, finite, unit norm), so a damaged record is reported as
a :class:`GalleryError` instead of silently skewing scores.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np

from bioverify.errors import GalleryError
from bioverify.gallery.store import Tx, utc_now
from bioverify.jsonable import FieldsToDict

#: how far from 1 the norm of a stored template may be
NORM_TOLERANCE = 1e-3


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=_jsonable)


def check_embedding(vector: Any, dim: int, source: str) -> np.ndarray:
    """``vector`` as a C-contiguous ``float32 [dim]`` unit vector, or a :class:`GalleryError`."""
    array = np.asarray(vector)
    if array.shape != (dim,) or not np.issubdtype(array.dtype, np.floating):
        raise GalleryError(
            f"{source}: embedding of shape {array.shape} ({array.dtype}); "
            f"the gallery holds float vectors of dimension {dim}"
        )
    array = np.ascontiguousarray(array, dtype=np.float32)
    norm = float(np.linalg.norm(array))
    if not np.isfinite(norm) or abs(norm - 1.0) > NORM_TOLERANCE:
        raise GalleryError(f"{source}: embedding is not a finite unit vector (norm {norm:.4g})")
    return array


class VectorBytes(bytes):
    """A vector as little-endian float32 bytes; its own type so that the PostgreSQL store
    can send it as a pgvector ``vector`` (SQLite stores it as a BLOB)."""


def to_blob(vector: np.ndarray) -> VectorBytes:
    return VectorBytes(np.asarray(vector, dtype="<f4").tobytes())


def from_blobs(blobs: Sequence[bytes], dim: int, what: str) -> np.ndarray:
    """Stack blobs into ``float32 [N, dim]``, checking that each is a finite unit vector."""
    # a damaged SQLite file can hand back NULL, a number or text where a BLOB was written
    if any(
        not isinstance(blob, bytes | bytearray | memoryview) or len(blob) != 4 * dim
        for blob in blobs
    ):
        raise GalleryError(f"corrupt gallery: a {what} has the wrong length for dimension {dim}")
    matrix = np.frombuffer(b"".join(blobs), dtype="<f4").reshape(len(blobs), dim)
    norms = np.linalg.norm(matrix, axis=1)
    if not np.all(np.abs(norms - 1.0) <= NORM_TOLERANCE):  # also false for NaN
        raise GalleryError(f"corrupt gallery: a {what} is not a finite unit vector")
    return matrix.astype(np.float32, copy=False)  # read-only view on little-endian machines


def normalised_mean(embeddings: np.ndarray, identity: str) -> np.ndarray:
    """The L2-normalised mean of unit templates: the identity's search template."""
    mean = embeddings.astype(np.float64).mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if norm < 1e-6:
        raise GalleryError(f"the templates of {identity!r} cancel out; enroll other samples")
    return (mean / norm).astype(np.float32)


@dataclass(frozen=True)
class SourceRecord:
    """Where a template came from: file name, absolute path and sha256 (None for arrays)."""

    name: str
    path: str | None = None
    sha256: str | None = None


@dataclass(frozen=True)
class NewTemplate:
    """A template about to be stored; ``label`` names it in reports, ``enrolled_at``
    (default: now) is kept when a backup is imported."""

    embedding: np.ndarray
    source: SourceRecord
    quality: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    label: str = ""
    enrolled_at: str | None = None


@dataclass(frozen=True)
class TemplateRecord(FieldsToDict):
    """A stored template's facts (not its vector)."""

    id: int
    identity: str
    source_name: str
    source_path: str | None
    source_sha256: str | None
    quality: dict[str, Any]
    notes: list[str]
    enrolled_at: str
    model_sha256: str


@dataclass(frozen=True)
class IdentitySummary(FieldsToDict):
    id: str
    created: str
    n_templates: int


_TEMPLATE_COLUMNS = (
    "id, identity, source_name, source_path, source_sha256, quality, notes, enrolled_at, "
    "model_sha256"
)


def _template_record(row: tuple[Any, ...]) -> TemplateRecord:
    try:
        quality, notes = json.loads(row[5]), json.loads(row[6])
    except (TypeError, ValueError, RecursionError) as exc:
        raise GalleryError(f"corrupt gallery: template {row[0]} has unreadable facts") from exc
    return TemplateRecord(
        id=row[0],
        identity=row[1],
        source_name=row[2],
        source_path=row[3],
        source_sha256=row[4],
        quality=quality,
        notes=notes,
        enrolled_at=row[7],
        model_sha256=row[8],
    )


def source_digests(conn: Tx, identity: str) -> set[str | None]:
    """The sha256 of every source file ``identity``'s templates came from."""
    rows = conn.execute(
        "SELECT source_sha256 FROM templates WHERE identity = ? AND source_sha256 IS NOT NULL",
        (identity,),
    )
    return {row[0] for row in rows}


class Added(NamedTuple):
    """What :func:`add_templates` did: the new templates' ids (in the order given), the
    templates skipped as duplicates, and the identity's template count afterwards."""

    ids: list[int]
    duplicates: list[NewTemplate]
    n_templates: int


#: templates per INSERT statement (9 parameters each: within SQLite's oldest limit, 999)
INSERT_BATCH = 100
_TEMPLATE_ROW = "(?, ?, ?, ?, ?, ?, ?, ?, ?)"


def add_templates(
    conn: Tx,
    identity: str,
    templates: Sequence[NewTemplate],
    model_sha256: str,
    dim: int,
    created: str | None = None,
) -> Added:
    """Store templates under ``identity`` (created if new, at ``created`` or now) with its
    new mean. Other writers of ``identity`` wait until the transaction ends.

    A template whose source sha256 the identity already holds (or that repeats one in
    ``templates``) is not stored twice. The identity row is written once, with the mean of
    the stored and the new templates (each write of a mean costs an HNSW insertion in
    PostgreSQL), then the templates, :data:`INSERT_BATCH` to a statement.
    """
    conn.lock_identity(identity)
    stored = conn.execute(
        "SELECT source_sha256, embedding FROM templates WHERE identity = ? ORDER BY id",
        (identity,),
    ).fetchall()
    known = {row[0] for row in stored if row[0] is not None}
    fresh: list[NewTemplate] = []
    duplicates: list[NewTemplate] = []
    for template in templates:
        digest = template.source.sha256
        if digest is not None and digest in known:
            duplicates.append(template)
            continue
        known.add(digest)
        fresh.append(template)
    if not fresh:
        return Added([], duplicates, len(stored))
    # the blobs as they will be read back, so the mean is the one refresh_identity computes
    blobs = [row[1] for row in stored] + [to_blob(t.embedding) for t in fresh]
    embeddings = from_blobs(blobs, dim, f"template of {identity!r}")
    now = utc_now()
    conn.execute(
        "INSERT INTO identities (id, created, mean, n_templates) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (id) DO UPDATE SET mean = excluded.mean, n_templates = excluded.n_templates",
        (identity, created or now, to_blob(normalised_mean(embeddings, identity)), len(blobs)),
    )
    return Added(insert_templates(conn, identity, fresh, model_sha256, now), duplicates, len(blobs))


def insert_templates(
    conn: Tx, identity: str, templates: Sequence[NewTemplate], model_sha256: str, now: str
) -> list[int]:
    """Insert template rows (the identity row must exist); their ids, in order."""
    ids: list[int] = []
    for start in range(0, len(templates), INSERT_BATCH):
        batch = templates[start : start + INSERT_BATCH]
        cursor = conn.execute(
            "INSERT INTO templates (identity, embedding, source_name, source_path, "
            "source_sha256, quality, notes, enrolled_at, model_sha256) VALUES "
            + ", ".join([_TEMPLATE_ROW] * len(batch))
            + " RETURNING id",
            [
                value
                for t in batch
                for value in (
                    identity,
                    to_blob(t.embedding),
                    t.source.name,
                    t.source.path,
                    t.source.sha256,
                    to_json(t.quality),
                    to_json(list(t.notes)),
                    t.enrolled_at or now,
                    model_sha256,
                )
            ],
        )
        # RETURNING comes in no promised order, but one statement's rows get increasing
        # ids (SQLite's next rowid, PostgreSQL's identity sequence) in the order of VALUES
        ids += sorted(int(row[0]) for row in cursor)
    return ids


def template_embeddings(conn: Tx, identity: str, dim: int) -> np.ndarray:
    rows = conn.execute(
        "SELECT embedding FROM templates WHERE identity = ? ORDER BY id", (identity,)
    ).fetchall()
    return from_blobs([row[0] for row in rows], dim, f"template of {identity!r}")


def refresh_identity(conn: Tx, identity: str, dim: int) -> int:
    """Recompute the mean template and count; delete the identity if it has no templates."""
    embeddings = template_embeddings(conn, identity, dim)
    if len(embeddings) == 0:
        conn.execute("DELETE FROM identities WHERE id = ?", (identity,))
        return 0
    conn.execute(
        "UPDATE identities SET mean = ?, n_templates = ? WHERE id = ?",
        (to_blob(normalised_mean(embeddings, identity)), len(embeddings), identity),
    )
    return len(embeddings)


def delete_identity(conn: Tx, identity: str) -> int:
    """Delete an identity and its templates; return how many templates went."""
    conn.lock_identity(identity)
    removed = conn.execute("DELETE FROM templates WHERE identity = ?", (identity,)).rowcount
    conn.execute("DELETE FROM identities WHERE id = ?", (identity,))
    return removed


def identity_summaries(conn: Tx) -> list[IdentitySummary]:
    rows = conn.execute("SELECT id, created, n_templates FROM identities ORDER BY id")
    return [IdentitySummary(*row) for row in rows]


def identity_summary(conn: Tx, identity: str) -> IdentitySummary | None:
    row = conn.execute(
        "SELECT id, created, n_templates FROM identities WHERE id = ?", (identity,)
    ).fetchone()
    return IdentitySummary(*row) if row else None


def identity_mean(conn: Tx, identity: str, dim: int) -> np.ndarray | None:
    row = conn.execute("SELECT mean FROM identities WHERE id = ?", (identity,)).fetchone()
    return None if row is None else from_blobs([row[0]], dim, f"mean of {identity!r}")[0]


def template_records(conn: Tx, identity: str | None = None) -> list[TemplateRecord]:
    """Stored templates' facts, of one identity or of all, in enrollment order."""
    if identity is None:
        rows = conn.execute(f"SELECT {_TEMPLATE_COLUMNS} FROM templates ORDER BY id")
    else:
        rows = conn.execute(
            f"SELECT {_TEMPLATE_COLUMNS} FROM templates WHERE identity = ? ORDER BY id",
            (identity,),
        )
    return [_template_record(row) for row in rows]


__all__ = [
    "INSERT_BATCH",
    "Added",
    "IdentitySummary",
    "NewTemplate",
    "SourceRecord",
    "TemplateRecord",
    "VectorBytes",
    "add_templates",
    "check_embedding",
    "delete_identity",
    "from_blobs",
    "identity_mean",
    "identity_summaries",
    "identity_summary",
    "insert_templates",
    "normalised_mean",
    "refresh_identity",
    "source_digests",
    "template_embeddings",
    "template_records",
    "to_blob",
    "to_json",
]
