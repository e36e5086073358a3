"""Talking to PostgreSQL for the gallery: URLs, errors, the ``vector`` type, transactions.

Used by :mod:`bioverify.gallery.postgres`.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Iterable, Sequence
from functools import lru_cache
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy as np
import psycopg
from psycopg.adapt import Buffer, Dumper, Loader
from psycopg.pq import Format
from psycopg_pool import PoolTimeout

from bioverify.errors import GalleryError, GalleryUnavailable
from bioverify.gallery.store import redact

DEFAULT_SCHEMA = "bioverify"
#: advisory lock class (two-int form) of per-identity writes
IDENTITY_LOCK_CLASS = 0x62766732
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
#: the URL parameters that are ours, not libpq's
_OWN_PARAMETERS = ("schema", "ef_search")
#: pgvector's bounds of ``hnsw.ef_search``
EF_SEARCH_RANGE = (1, 1000)


class Location(NamedTuple):
    """What a gallery URL says: libpq's connection string, the schema, and the HNSW
    candidate list size (``?ef_search=``; None: the library's default)."""

    conninfo: str
    schema: str
    ef_search: int | None


def parse_location(url: str) -> Location:
    """The :class:`Location` a gallery URL names (``?schema=`` and ``?ef_search=`` are
    ours; every other parameter is libpq's).

    Examples
    --------
    >>> parse_location("postgresql://app@db/bio?schema=staff&sslmode=require")
    Location(conninfo='postgresql://app@db/bio?sslmode=require', schema='staff', ef_search=None)
    >>> parse_location("postgresql://app@db/bio?ef_search=150").ef_search
    150
    """
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    own = {key: value for key, value in query if key in _OWN_PARAMETERS}
    schema = own.get("schema", DEFAULT_SCHEMA)
    if not _SCHEMA_NAME.fullmatch(schema):
        raise GalleryError(
            f"{redact(url)}: schema {schema!r}: use lower-case letters, digits and _"
        )
    ef_search = None
    if "ef_search" in own:
        low, high = EF_SEARCH_RANGE
        text = own["ef_search"]
        if not (text.isdigit() and low <= int(text) <= high):
            raise GalleryError(
                f"{redact(url)}: ef_search {text!r}: give a whole number from {low} to {high}"
            )
        ef_search = int(text)
    rest = urlencode([(k, v) for k, v in query if k not in _OWN_PARAMETERS], safe="/")
    conninfo = urlunsplit((parts.scheme, parts.netloc, parts.path, rest, parts.fragment))
    return Location(conninfo, schema, ef_search)


def _one_line(exc: BaseException, secret: str | None) -> str:
    text = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return text.replace(secret, "***") if secret else text


def translate(exc: psycopg.Error, location: str, secret: str | None) -> GalleryError:
    """A typed one-line error for a psycopg error (``secret``, the password, is masked)."""
    message = _one_line(exc, secret)
    state = exc.sqlstate or ""
    if isinstance(exc, PoolTimeout):
        return GalleryUnavailable(
            f"{location}: no connection to the PostgreSQL server in time; check that it runs "
            "and is reachable"
        )
    if state.startswith("28"):
        return GalleryError(f"{location}: the server refused the login ({message})")
    if isinstance(exc, psycopg.errors.InsufficientPrivilege):
        return GalleryError(
            f"{location}: permission denied ({message}); this database role may not do that "
            "(see docs/gallery.md, roles)"
        )
    if isinstance(exc, psycopg.OperationalError) and (
        not state or state.startswith(("08", "57P", "53"))
    ):
        return GalleryUnavailable(
            f"{location}: cannot reach the PostgreSQL server ({message}); check that it runs "
            "and the URL"
        )
    return GalleryError(f"{location}: database error ({message})")


def scalar(cursor: psycopg.Cursor[Any]) -> Any:
    """The one value of a one-row, one-column result."""
    row = cursor.fetchone()
    assert row is not None
    return row[0]


@lru_cache(maxsize=256)
def _placeholders(statement: str) -> str:
    """The gallery's ``?`` placeholders as psycopg's ``%s``."""
    return statement.replace("?", "%s")


class PostgresTx:
    """A transaction on one pooled connection (:class:`~bioverify.gallery.store.Tx`);
    results come in binary format (vectors as little-endian float32 bytes)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def execute(self, statement: str, params: Sequence[Any] = ()) -> psycopg.Cursor[Any]:
        return self.conn.execute(_placeholders(statement), params, binary=True)

    def executemany(self, statement: str, params: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor(binary=True) as cursor:
            cursor.executemany(_placeholders(statement), list(params))

    def lock_identity(self, identity: str) -> None:
        self.conn.execute(
            f"SELECT pg_advisory_xact_lock({IDENTITY_LOCK_CLASS}, hashtext(%s))", (identity,)
        )


class VectorDumper(Dumper):
    """:class:`VectorBytes` as pgvector's binary ``vector``: dim, 0, big-endian floats."""

    format = Format.BINARY

    def dump(self, obj: Any) -> Buffer:
        values = np.frombuffer(obj, dtype="<f4")
        return struct.pack(">HH", len(values), 0) + values.astype(">f4").tobytes()


class VectorLoader(Loader):
    format = Format.BINARY

    def load(self, data: Buffer) -> bytes:
        dim = struct.unpack_from(">H", data)[0]
        return np.frombuffer(data, dtype=">f4", count=dim, offset=4).astype("<f4").tobytes()


__all__ = [
    "DEFAULT_SCHEMA",
    "Location",
    "PostgresTx",
    "VectorDumper",
    "VectorLoader",
    "parse_location",
    "scalar",
    "translate",
]
