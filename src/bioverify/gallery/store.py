"""Where a gallery lives: an SQLite file or a PostgreSQL schema, behind one :class:`Store`.

A gallery *location* is a file path (SQLite, the embedded default) or a
``postgresql://`` URL (a shared server with the pgvector extension; see
:mod:`bioverify.gallery.postgres`). Both stores hand out transactions (:class:`Tx`) that run
the same SQL (``?`` placeholders, ``ON CONFLICT`` upserts, ``RETURNING``), so the rows of a
gallery (:mod:`bioverify.gallery.records`) are read and written by one piece of code;
what differs (creation, locking, search, erasing removed rows) is each store's own.

Locations are shown with :func:`redact`: a password in a URL never reaches a message or a
log line.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit

import numpy as np

from bioverify.errors import GalleryError

#: URL schemes that select the PostgreSQL store
POSTGRES_SCHEMES = ("postgresql", "postgres")
#: ``meta`` ``format`` of a gallery, and the version this bioverify reads and writes
FORMAT = "bioverify-gallery"
FORMAT_VERSION = 1
_META_KEYS = ("model_sha256", "modality", "embedding_dim", "created")


def utc_now() -> str:
    """The time now, UTC, ISO 8601 to the second (every timestamp a gallery stores)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


class Cursor(Protocol):
    """The part of a DB-API cursor the gallery uses."""

    @property
    def rowcount(self) -> int: ...
    def fetchone(self) -> Any: ...
    def fetchall(self) -> list[Any]: ...
    def __iter__(self) -> Iterator[Any]: ...


class Tx(Protocol):
    """A transaction of either store; SQL uses ``?`` placeholders."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor: ...
    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None: ...
    def lock_identity(self, identity: str) -> None:
        """Serialise writers of one identity until the transaction ends."""
        ...


class Store(Protocol):
    """A gallery's storage: transactions, search, erasure. See :mod:`.database` (SQLite)
    and :mod:`.postgres` (PostgreSQL + pgvector)."""

    #: ``"sqlite"`` or ``"postgresql"``
    engine: str
    #: the location for messages (a URL without its password)
    location: str

    def read(self) -> AbstractContextManager[Tx]:
        """A read transaction: one consistent snapshot."""
        ...

    def write(self, new_dim: int | None = None) -> AbstractContextManager[Tx]:
        """A write transaction, all of it or nothing. ``new_dim`` announces a change of
        model (re-embedding): it waits for every other writer and may change dimension."""
        ...

    def search(
        self, query: np.ndarray, k: int, check: Callable[[dict[str, str]], None]
    ) -> tuple[list[str], np.ndarray, int]:
        """The ``k`` identities whose mean template scores highest against ``query``, best
        first, with those mean templates (``float32 [len(ids), D]``, read in the same
        snapshot, for the caller to score) and the number of identities; ``check`` is
        given the gallery's meta first (the model binding)."""
        ...

    def scrub(self) -> bool:
        """Erase what deleted rows left behind; False when copies may remain."""
        ...

    def integrity_check(self) -> list[str]: ...
    def drop(self) -> None:
        """Delete the whole gallery (used when creating one failed half-way)."""
        ...

    def close(self) -> None: ...


def is_url(location: Path | str) -> bool:
    """True when ``location`` is a ``postgresql://`` URL rather than a file path."""
    return isinstance(location, str) and location.split(":", 1)[0].lower() in POSTGRES_SCHEMES


def redact(location: Path | str) -> str:
    """``location`` fit to print: a URL loses its password (user, host and database stay).

    Examples
    --------
    >>> redact("postgresql://app:s3cret@db.example:5432/bio")
    'postgresql://app:***@db.example:5432/bio'
    >>> redact("staff.db")
    'staff.db'
    """
    if not is_url(location):
        return str(location)
    parts = urlsplit(str(location))
    query = "&".join(
        "password=***" if item.lower().startswith("password=") else item
        for item in parts.query.split("&")
        if item
    )
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:***@{host}"
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


#: set one ``meta`` key (SQL both engines understand)
UPSERT_META = (
    "INSERT INTO meta VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
)


def read_meta(conn: Tx) -> dict[str, str]:
    return dict(conn.execute("SELECT key, value FROM meta").fetchall())


def initial_meta(new_meta: Mapping[str, str]) -> dict[str, str]:
    """The ``meta`` rows of a new gallery: format, version, creation time, ``new_meta``."""
    return {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "created": utc_now(),
        **new_meta,
    }


def check_format(meta: Mapping[str, str], what: str) -> None:
    """Raise :class:`GalleryError` (``what`` names the database) unless ``meta`` is a
    gallery's of this format version."""
    if meta.get("format") != FORMAT or any(key not in meta for key in _META_KEYS):
        raise GalleryError(f"{what} but not a bioverify gallery")
    if meta.get("format_version") != str(FORMAT_VERSION):
        raise GalleryError(
            f"{what}: gallery format version {meta.get('format_version')} is not "
            f"supported (this bioverify reads {FORMAT_VERSION})"
        )


__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "POSTGRES_SCHEMES",
    "UPSERT_META",
    "Cursor",
    "Store",
    "Tx",
    "check_format",
    "initial_meta",
    "is_url",
    "read_meta",
    "redact",
    "utc_now",
]
