"""A gallery in PostgreSQL with the pgvector extension: a :class:`~.store.Store`.

Selected by a ``postgresql://user:password@host:port/database`` URL; ``?schema=NAME``
(default ``bioverify``) names the schema that holds the gallery, so one database can hold
several. The tables and their SQL are the SQLite gallery's (see
:mod:`~bioverify.gallery.postgres_schema`); what differs:

- **Concurrency.** Many processes on many machines write at once. Every write transaction
  holds a shared advisory lock that a change of model (re-embedding) takes exclusively, and
  writers of one identity serialise on a per-identity advisory lock, so a mean template is
  never computed from a stale set of templates. Reads run in ``REPEATABLE READ READ ONLY``
  snapshots.
- **Search.** In the server: exact (a sequential scan ordered by inner product) while the
  gallery has fewer than :data:`HNSW_MIN_IDENTITIES` identities, then through the HNSW
  index (``hnsw.ef_search`` = :data:`HNSW_EF_SEARCH`, or the URL's ``?ef_search=N``: fewer
  is faster and misses more, see ``docs/gallery.md``). Either way the candidates' mean
  templates come back with them and are scored exactly in numpy, as ``verify`` scores them, before
  the threshold is applied: approximate search can miss an identity, never accept one.
- **Connections.** A pool (``psycopg_pool``) whose connections are checked before use, so
  a restarted server costs a reconnection, not an error; a transaction whose connection
  fails before it starts is retried. An unreachable server, a refused login, a missing
  pgvector or a missing privilege is a one-line :class:`GalleryError` (or
  :class:`GalleryUnavailable`) naming the URL without its password.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, suppress
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import psycopg
from psycopg import sql
from psycopg_pool import ConnectionPool

from bioverify.errors import GalleryError
from bioverify.gallery import postgres_schema, records
from bioverify.gallery.postgres_io import (
    PostgresTx,
    VectorDumper,
    VectorLoader,
    parse_location,
    scalar,
    translate,
)
from bioverify.gallery.records import VectorBytes
from bioverify.gallery.store import check_format, initial_meta, read_meta, redact

#: below this many identities search is exact (sequential scan); at or above it, HNSW.
#: Measured (benchmarks/results/gallery_postgres_20k.md): at 20,000 x 512-d both cost about
#: the same (p95 48-58 ms exact, 42-46 ms HNSW), and exact grows linearly past it.
HNSW_MIN_IDENTITIES = 20_000
#: HNSW candidate list size per query (pgvector's ``hnsw.ef_search``): the smallest of those
#: measured (40-400) at which HNSW's open-set decisions agreed with exact search's on every
#: probe, at 100,000 identities of 128-d and 512-d (benchmarks/results/gallery_postgres.md)
HNSW_EF_SEARCH = 400
#: the top-k query the HNSW index answers (the index is on ``mean::vector(dim)``)
HNSW_QUERY = (
    "SELECT id, mean FROM identities ORDER BY (mean::vector({dim})) <#> (?::vector({dim})) LIMIT ?"
)
#: advisory lock keys (two-int form): the model binding, and creating a gallery
MODEL_LOCK = (0x62766731, 0)
CREATE_LOCK = (0x62766731, 1)
#: pgvector versions before this have no HNSW index
MIN_PGVECTOR = (0, 5)
_CHECKOUT_ATTEMPTS = 3
EXTENSION_HINT = (
    "install pgvector on the server (e.g. apt install postgresql-16-pgvector, or "
    "https://github.com/pgvector/pgvector), then run CREATE EXTENSION vector in the "
    "database as a superuser"
)


class PostgresStore:
    """A gallery in the schema a ``postgresql://`` URL names (see the module docstring).

    ``new_meta`` creates the gallery (and enables pgvector, where this role may) when the
    schema holds none. ``timeout`` bounds connecting and waiting for a pooled connection;
    ``pool_size`` is the most connections this process opens.
    """

    engine = "postgresql"

    def __init__(
        self,
        url: str,
        new_meta: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        pool_size: int = 4,
    ) -> None:
        self.location = redact(url)
        self._secret = urlsplit(url).password
        conninfo, self.schema, self._ef_search = parse_location(url)
        self._timeout = timeout
        self._created_schema = False
        connect_timeout = max(1, math.ceil(min(timeout, 10)))
        with self._guard():
            with psycopg.connect(
                conninfo, autocommit=True, connect_timeout=connect_timeout
            ) as conn:
                self._vector_oid, extension_schema = self._prepare(conn, new_meta)
            self._search_path = sql.SQL("SET search_path TO {}, {}").format(
                sql.Identifier(self.schema), sql.Identifier(extension_schema)
            )
            self._pool: ConnectionPool[Any] = ConnectionPool(
                conninfo,
                min_size=1,
                max_size=pool_size,
                kwargs={
                    "autocommit": True,
                    "connect_timeout": connect_timeout,
                    "application_name": "bioverify",
                },
                configure=self._configure,
                check=ConnectionPool.check_connection,
                name="bioverify-gallery",
                open=False,
            )
            try:
                self._pool.open(wait=True, timeout=timeout)
            except BaseException:
                self._pool.close()
                raise

    # ---------------------------------------------------------------- set-up
    @contextmanager
    def _guard(self) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as exc:
            raise translate(exc, self.location, self._secret) from exc

    def _configure(self, conn: psycopg.Connection[Any]) -> None:
        dumper = type("VectorDumper", (VectorDumper,), {"oid": self._vector_oid})
        conn.adapters.register_dumper(VectorBytes, dumper)
        conn.adapters.register_loader(self._vector_oid, VectorLoader)
        conn.execute(self._search_path)

    def _extension(self, conn: psycopg.Connection[Any]) -> tuple[int, str, str] | None:
        row = conn.execute(
            "SELECT t.oid, n.nspname, e.extversion FROM pg_extension e "
            "JOIN pg_namespace n ON n.oid = e.extnamespace "
            "JOIN pg_type t ON t.typname = 'vector' AND t.typnamespace = e.extnamespace "
            "WHERE e.extname = 'vector'"
        ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]), str(row[2]))

    def _enable_extension(self, conn: psycopg.Connection[Any]) -> tuple[int, str, str]:
        try:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        except psycopg.errors.InsufficientPrivilege as exc:
            raise GalleryError(
                f"{self.location}: the pgvector extension is not enabled in this database "
                "and this role may not enable it: ask an administrator to run "
                "CREATE EXTENSION vector"
            ) from exc
        except (psycopg.errors.UndefinedFile, psycopg.errors.FeatureNotSupported) as exc:
            raise GalleryError(
                f"{self.location}: the server has no pgvector extension: {EXTENSION_HINT}"
            ) from exc
        extension = self._extension(conn)
        assert extension is not None
        return extension

    def _has_gallery(self, conn: psycopg.Connection[Any]) -> bool:
        row = conn.execute("SELECT to_regclass(%s)", (f'"{self.schema}".meta',)).fetchone()
        return row is not None and row[0] is not None

    def _prepare(
        self, conn: psycopg.Connection[Any], new_meta: Mapping[str, str] | None
    ) -> tuple[int, str]:
        """Check (or create) the gallery; return the vector type's oid and schema."""
        if not self._has_gallery(conn) and new_meta is None:
            raise GalleryError(
                f"{self.location}: no gallery there (no table meta in schema "
                f"{self.schema}); enroll with a model first"
            )
        extension = self._extension(conn)
        if extension is None:
            if new_meta is None:
                raise GalleryError(
                    f"{self.location}: the pgvector extension is missing: {EXTENSION_HINT}"
                )
            extension = self._enable_extension(conn)
        oid, extension_schema, version = extension
        if tuple(int(part) for part in version.split(".")[:2]) < MIN_PGVECTOR:
            raise GalleryError(
                f"{self.location}: pgvector {version} has no HNSW index; upgrade it to 0.5 or "
                "later (ALTER EXTENSION vector UPDATE)"
            )
        if new_meta is not None:
            self._create(conn, new_meta, extension_schema)
        meta = dict(
            conn.execute(
                sql.SQL("SELECT key, value FROM {}.meta").format(sql.Identifier(self.schema))
            ).fetchall()
        )
        check_format(meta, f"{self.location}: a PostgreSQL database")
        return oid, extension_schema

    def _create(
        self, conn: psycopg.Connection[Any], new_meta: Mapping[str, str], extension: str
    ) -> None:
        """Create schema, tables and index in one transaction, unless another process did.

        Creators queue on a session advisory lock taken *before* the transaction, so the
        one that waited sees the tables the first one committed."""
        conn.execute("SELECT pg_advisory_lock(%s, %s)", CREATE_LOCK)
        try:
            with conn.transaction():
                if self._has_gallery(conn):
                    return
                exists = conn.execute(
                    "SELECT 1 FROM pg_namespace WHERE nspname = %s", (self.schema,)
                ).fetchone()
                conn.execute(
                    sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
                )
                self._created_schema = exists is None
                conn.execute(
                    sql.SQL("SET LOCAL search_path TO {}").format(sql.Identifier(extension))
                )
                for statement in postgres_schema.create_statements(
                    self.schema, int(new_meta["embedding_dim"])
                ):
                    conn.execute(statement)
                with conn.cursor() as cursor:
                    cursor.executemany(
                        sql.SQL("INSERT INTO {}.meta VALUES (%s, %s)").format(
                            sql.Identifier(self.schema)
                        ),
                        list(initial_meta(new_meta).items()),
                    )
        finally:
            with suppress(psycopg.Error):  # a lost connection released it anyway
                conn.execute("SELECT pg_advisory_unlock(%s, %s)", CREATE_LOCK)

    # ---------------------------------------------------------- transactions
    def _checkout(self, begin: str) -> psycopg.Connection[Any]:
        """A pooled connection inside a new transaction; a connection that fails before
        the transaction starts is replaced, up to three times."""
        for attempt in range(_CHECKOUT_ATTEMPTS):
            conn = self._pool.getconn(timeout=self._timeout)
            try:
                conn.execute(begin)
                return conn
            except psycopg.OperationalError:
                self._pool.putconn(conn)
                if attempt == _CHECKOUT_ATTEMPTS - 1:
                    raise
                time.sleep(0.05 * 2**attempt)
        raise AssertionError("unreachable")

    @contextmanager
    def _transaction(self, begin: str) -> Iterator[PostgresTx]:
        with self._guard():
            conn = self._checkout(begin)
            try:
                try:
                    yield PostgresTx(conn)
                except BaseException:
                    with suppress(psycopg.Error):
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            finally:
                self._pool.putconn(conn)

    @contextmanager
    def read(self) -> Iterator[PostgresTx]:
        """A read-only snapshot (``REPEATABLE READ``)."""
        with self._transaction("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") as tx:
            yield tx

    @contextmanager
    def write(self, new_dim: int | None = None) -> Iterator[PostgresTx]:
        """A write transaction; ``new_dim`` (a change of model) waits for every other
        writer, keeps new ones waiting, and rebuilds the HNSW index for a new dimension."""
        with self._transaction("BEGIN") as tx:
            mode = "" if new_dim is not None else "_shared"
            tx.conn.execute(f"SELECT pg_advisory_xact_lock{mode}(%s, %s)", MODEL_LOCK)
            rebuild = new_dim is not None and int(read_meta(tx)["embedding_dim"]) != new_dim
            if rebuild:
                tx.conn.execute(postgres_schema.drop_index(self.schema))
            yield tx
            if rebuild:
                assert new_dim is not None
                tx.conn.execute(postgres_schema.create_index(self.schema, new_dim))

    # ---------------------------------------------------------------- search
    def search(
        self, query: np.ndarray, k: int, check: Callable[[dict[str, str]], None]
    ) -> tuple[list[str], np.ndarray, int]:
        """Top-``k`` identities, exact below :data:`HNSW_MIN_IDENTITIES`, HNSW above, in the
        server's order, with their mean templates for the caller to score exactly (see
        :meth:`bioverify.gallery.store.Store.search`)."""
        vector = records.to_blob(query)
        with self.read() as tx:
            meta = read_meta(tx)
            check(meta)
            dim = int(meta["embedding_dim"])
            estimate = scalar(
                tx.execute("SELECT reltuples FROM pg_class WHERE oid = 'identities'::regclass")
            )
            if estimate < 0:  # never analysed yet: count
                estimate = scalar(tx.execute("SELECT count(*) FROM identities"))
            if estimate < HNSW_MIN_IDENTITIES:
                n_identities = int(scalar(tx.execute("SELECT count(*) FROM identities")))
                rows = tx.execute(
                    "SELECT id, mean FROM identities ORDER BY mean <#> ? LIMIT ?", (vector, k)
                ).fetchall()
            else:
                n_identities = int(estimate)
                ef_search = HNSW_EF_SEARCH if self._ef_search is None else self._ef_search
                tx.execute(f"SET LOCAL hnsw.ef_search = {max(ef_search, k)}")
                rows = tx.execute(HNSW_QUERY.format(dim=dim), (vector, k)).fetchall()
        if not rows:
            return [], np.empty((0, dim), dtype=np.float32), n_identities
        means = records.from_blobs([row[1] for row in rows], dim, "mean template")
        return [row[0] for row in rows], means, n_identities

    # ---------------------------------------------------------- maintenance
    def scrub(self) -> bool:
        """False: deleted rows stay in the server's free space until (auto)vacuum reuses
        it, and in its write-ahead log, replicas and backups (see ``docs/privacy.md``)."""
        return False

    def integrity_check(self) -> list[str]:
        """Orphan templates, and a missing or invalid HNSW index."""
        problems = []
        with self.read() as tx:
            orphans = scalar(
                tx.execute(
                    "SELECT count(*) FROM templates t WHERE NOT EXISTS "
                    "(SELECT 1 FROM identities i WHERE i.id = t.identity)"
                )
            )
            if orphans:
                problems.append(f"{orphans} template row(s) refer to a missing identity")
            index = tx.execute(
                "SELECT i.indisvalid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
                "WHERE c.relname = ? AND c.relnamespace = ?::regnamespace",
                (postgres_schema.INDEX_NAME, self.schema),
            ).fetchone()
            if index is None or not index[0]:
                problems.append(
                    f"the HNSW index {postgres_schema.INDEX_NAME} is missing "
                    "or invalid; search falls back to a sequential scan"
                )
        return problems

    def drop(self) -> None:
        """Delete the gallery's tables (and its schema, if this store created it)."""
        with (
            self._guard(),
            self._pool.connection(timeout=self._timeout) as conn,
            conn.transaction(),
        ):
            for statement in postgres_schema.drop_statements(self.schema):
                conn.execute(statement)
            if self._created_schema:
                conn.execute(sql.SQL("DROP SCHEMA {}").format(sql.Identifier(self.schema)))
        self.close()

    def close(self) -> None:
        self._pool.close()


def gallery_exists(url: str) -> bool:
    """Whether the schema ``url`` names holds a gallery; an unreachable server raises."""
    conninfo, schema, _ = parse_location(url)
    try:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            row = conn.execute("SELECT to_regclass(%s)", (f'"{schema}".meta',)).fetchone()
    except psycopg.Error as exc:
        raise translate(exc, redact(url), urlsplit(url).password) from exc
    return row is not None and row[0] is not None


__all__ = [
    "HNSW_EF_SEARCH",
    "HNSW_MIN_IDENTITIES",
    "HNSW_QUERY",
    "PostgresStore",
    "gallery_exists",
]
