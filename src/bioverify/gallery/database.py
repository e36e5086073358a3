"""The gallery's SQLite file: private creation, schema, pragmas, transactions, error mapping.

A gallery file is an SQLite database in WAL mode whose ``application_id`` is
:data:`APPLICATION_ID` and whose ``meta`` table names the format. The file is created with
mode 0600 before SQLite touches it (SQLite gives its ``-wal`` / ``-shm`` files the same
mode). Writes run in ``BEGIN IMMEDIATE`` transactions, so concurrent writers queue on the
busy timeout instead of failing half-way; ``synchronous = FULL`` makes every committed
enrollment survive a crash. ``secure_delete`` zeroes deleted records, and :meth:`Database.scrub`
checkpoints and vacuums so that removed templates leave no readable copy in the files.

Every :class:`sqlite3.Error` raised inside :func:`guard` becomes a :class:`GalleryError`
naming the file: a corrupt file, a foreign database or a locked gallery never escapes as an
SQLite traceback.

Identification searches a cached ``float32 [N, D]`` matrix of the mean templates
(:class:`~bioverify.gallery.search.TemplateIndex`, exact), reloaded when the ``generation``
counter that every write transaction bumps has moved.
"""

from __future__ import annotations

import os
import random
import sqlite3
import stat
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import numpy as np

from bioverify.errors import GalleryError
from bioverify.gallery import records
from bioverify.gallery.search import Backend, TemplateIndex
from bioverify.gallery.store import FORMAT_VERSION, check_format, initial_meta, read_meta

#: ``PRAGMA application_id`` of a gallery file ("bvg1")
APPLICATION_ID = 0x62766731
_SQLITE_MAGIC = b"SQLite format 3\x00"
PAGE_SIZE = 16384

_SCHEMA = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE identities (
        id TEXT PRIMARY KEY,
        created TEXT NOT NULL,
        mean BLOB NOT NULL,
        n_templates INTEGER NOT NULL CHECK (n_templates > 0)
    )""",
    """CREATE TABLE templates (
        id INTEGER PRIMARY KEY,
        identity TEXT NOT NULL REFERENCES identities(id) ON DELETE CASCADE,
        embedding BLOB NOT NULL,
        source_name TEXT NOT NULL,
        source_path TEXT,
        source_sha256 TEXT,
        quality TEXT NOT NULL,
        notes TEXT NOT NULL,
        enrolled_at TEXT NOT NULL,
        model_sha256 TEXT NOT NULL
    )""",
    "CREATE INDEX templates_by_identity ON templates(identity)",
)


def _is_busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorname", "").startswith(("SQLITE_BUSY", "SQLITE_LOCKED"))


def _describe(path: Path, exc: sqlite3.Error) -> str:
    name = getattr(exc, "sqlite_errorname", "")
    if _is_busy(exc):
        return (
            f"{path}: the gallery is busy (another process held it longer than the timeout); "
            "try again"
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return (
            f"{path}: the gallery file is corrupt or not a gallery ({exc}); "
            "restore it from a backup (bioverify gallery import)"
        )
    if name.startswith(("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_IOERR")):
        return f"{path}: cannot read or write the gallery file ({exc}); check its permissions"
    return f"{path}: gallery database error ({exc})"


@contextmanager
def guard(path: Path) -> Iterator[None]:
    """Turn any :class:`sqlite3.Error` raised inside into a :class:`GalleryError`, and text
    that does not decode (a damaged page under a table name, an identity or a meta value)
    into the corrupt-file one."""
    try:
        yield
    except sqlite3.Error as exc:
        raise GalleryError(_describe(path, exc)) from exc
    except UnicodeDecodeError as exc:
        raise GalleryError(
            f"{path}: the gallery file is corrupt or not a gallery (text that is not UTF-8: "
            f"{exc.reason} at byte {exc.start}); restore it from a backup (bioverify gallery "
            "import)"
        ) from exc


def _create_private(path: Path) -> None:
    """Create an empty file readable and writable by its owner only (0600)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # another process created it first; its schema check follows
    except OSError as exc:
        raise GalleryError(f"{path}: cannot create the gallery file ({exc.strerror})") from exc
    os.fchmod(handle, 0o600)
    os.close(handle)


def writable(path: Path) -> bool:
    """Whether the gallery file and its folder can be written (not so on read-only media,
    or when the file or folder is read-only to this user). SQLite in WAL mode writes beside
    the file (``-wal``, ``-shm``) even to read."""
    return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)


def _check_file(path: Path) -> None:
    """Refuse a non-file or a file that is not SQLite before SQLite opens it."""
    if not path.is_file():
        raise GalleryError(f"{path}: not a file; give the path of a gallery file")
    try:
        with open(path, "rb") as handle:
            header = handle.read(len(_SQLITE_MAGIC))
    except OSError as exc:
        raise GalleryError(f"{path}: cannot read the gallery file ({exc.strerror})") from exc
    if header and header != _SQLITE_MAGIC:
        raise GalleryError(f"{path}: not a gallery (not an SQLite database)")


class SqliteTx:
    """A transaction on the gallery file (:class:`~bioverify.gallery.store.Tx`)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def executemany(self, sql: str, params: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, params)

    def lock_identity(self, identity: str) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already serialises every writer."""


def _mean_matrix(tx: SqliteTx, dim: int) -> tuple[list[str], np.ndarray]:
    """Every identity's id and mean template, as a list and a ``float32 [N, dim]`` matrix
    (in table order: a sequential scan, much faster than by name on a large gallery)."""
    rows = tx.execute("SELECT id, mean FROM identities ORDER BY rowid").fetchall()
    matrix = records.from_blobs([row[1] for row in rows], dim, "mean template")
    return [row[0] for row in rows], matrix


def _warn_if_shared(path: Path) -> None:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        warnings.warn(
            f"{path}: the gallery holds biometric templates but others may read it "
            f"(mode {stat.S_IMODE(mode):o}); run chmod 600 on it",
            stacklevel=4,
        )


class Database:
    """One connection to a gallery file (a :class:`~bioverify.gallery.store.Store`); use
    :meth:`read` / :meth:`write` transactions.

    ``new_meta`` (``model_sha256``, ``modality``, ``embedding_dim``, optional
    ``bundle_path``) creates the gallery when the file does not exist or is empty; without
    it a missing gallery is an error. ``search_backend`` is the identification search
    (``"numpy"`` or ``"faiss"``). A connection belongs to the thread that opened it.

    A gallery that cannot be written (read-only media, a read-only file or folder) is
    opened read-only — in a folder that cannot be written, SQLite's ``immutable`` mode,
    which needs no ``-shm`` file beside it — so ``identify``, ``verify``, ``list`` and
    ``show`` work, and any write raises :class:`GalleryError` saying the gallery is
    read-only (``read_only``).
    """

    engine = "sqlite"

    def __init__(
        self,
        path: Path | str,
        new_meta: Mapping[str, str] | None = None,
        timeout: float = 30.0,
        search_backend: Backend = "numpy",
    ) -> None:
        self.path = Path(path).absolute()
        self.location = str(self.path)
        self._search_backend: Backend = search_backend
        self._index: TemplateIndex | None = None
        self._index_generation = -1
        if not self.path.exists():
            if new_meta is None:
                raise GalleryError(f"{self.path}: no gallery there; enroll with a model first")
            _create_private(self.path)
        _check_file(self.path)
        self.read_only = not writable(self.path)
        with guard(self.path):
            if self.read_only:
                # immutable: no -shm beside the file, which a read-only folder cannot hold
                # (nothing there can change the file); plain read-only mode otherwise
                frozen = "&immutable=1" if not os.access(self.path.parent, os.W_OK) else ""
                uri = f"{self.path.as_uri()}?mode=ro{frozen}"
                self.conn = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                self.conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        try:
            with guard(self.path):
                self.conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
                for pragma in ("trusted_schema = OFF", "cell_size_check = ON"):
                    self.conn.execute(f"PRAGMA {pragma}")
                self._open_schema(new_meta, timeout)
                for pragma in ("secure_delete = ON", "foreign_keys = ON", "synchronous = FULL"):
                    self.conn.execute(f"PRAGMA {pragma}")
            _warn_if_shared(self.path)
        except BaseException:
            self.conn.close()
            raise

    def _tables(self) -> set[str]:
        rows = self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        return {row[0] for row in rows}

    def _open_schema(self, new_meta: Mapping[str, str] | None, timeout: float) -> None:
        """:meth:`_check_or_create`, retried while another process holds the file.

        Switching a new file to WAL needs an exclusive lock, and SQLite answers ``BUSY``
        at once, without waiting on the busy timeout, when two connections race for it
        (deadlock avoidance). Creation is idempotent, so retrying until ``timeout`` is safe.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._check_or_create(new_meta)
                return
            except sqlite3.OperationalError as exc:
                if not _is_busy(exc) or time.monotonic() >= deadline:
                    raise
                self._rollback()
                time.sleep(random.uniform(0.005, 0.05))

    def _check_or_create(self, new_meta: Mapping[str, str] | None) -> None:
        if not self._tables():
            if new_meta is None:
                raise GalleryError(f"{self.path}: empty file, not a gallery")
            self._create(new_meta)
        if (
            self.conn.execute("PRAGMA application_id").fetchone()[0] != APPLICATION_ID
            or "meta" not in self._tables()
        ):
            raise GalleryError(f"{self.path}: an SQLite database but not a bioverify gallery")
        check_format(read_meta(SqliteTx(self.conn)), f"{self.path}: an SQLite database")
        if self.read_only:
            return
        if self.conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
            self.conn.execute("PRAGMA journal_mode = WAL")

    def _create(self, new_meta: Mapping[str, str]) -> None:
        os.chmod(self.path, 0o600)  # an existing empty file becomes a private gallery
        # 16 KiB pages hold seven 512-d template rows (2 KiB each); 4 KiB pages hold one
        self.conn.execute(f"PRAGMA page_size = {PAGE_SIZE}")
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            if not self._tables():  # another process may have created it meanwhile
                for statement in _SCHEMA:
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
                self.conn.execute(f"PRAGMA user_version = {FORMAT_VERSION}")
                meta = {**initial_meta(new_meta), "generation": "0"}
                self.conn.executemany("INSERT INTO meta VALUES (?, ?)", meta.items())
            self.conn.execute("COMMIT")
        except BaseException:
            self._rollback()
            raise

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            # if the transaction is gone already, the original error is what matters
            with suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    @contextmanager
    def read(self) -> Iterator[SqliteTx]:
        """A read transaction: one consistent snapshot of the gallery."""
        with guard(self.path):
            self.conn.execute("BEGIN")
            try:
                yield SqliteTx(self.conn)
            finally:
                self._rollback()

    @contextmanager
    def write(self, new_dim: int | None = None) -> Iterator[SqliteTx]:
        """A write transaction (``BEGIN IMMEDIATE``): all of it is committed, or none.

        ``BEGIN IMMEDIATE`` serialises all writers, so a change of model (``new_dim``)
        needs nothing more. Committing bumps the ``generation`` counter in ``meta``, which
        tells every connection's search cache that the gallery changed.
        """
        if self.read_only:
            raise GalleryError(
                f"{self.path}: the gallery is read-only here (read-only media, or the file or "
                "its folder is not writable); it can be searched but not changed"
            )
        with guard(self.path):
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield SqliteTx(self.conn)
                self.conn.execute(
                    "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'"
                )
                self.conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise

    def generation(self) -> int:
        """The number of write transactions committed so far (cheap: one row)."""
        with guard(self.path):
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'generation'").fetchone()
        if row is None:
            raise GalleryError(f"{self.path}: the gallery's meta table lost its generation")
        return int(row[0])

    def search(
        self, query: np.ndarray, k: int, check: Callable[[dict[str, str]], None]
    ) -> tuple[list[str], np.ndarray, int]:
        """Exact top-``k`` over the cached mean templates, as
        :meth:`bioverify.gallery.store.Store.search`; the cache (and ``check``) is renewed
        whenever the gallery changed, a change of model included."""
        if self._index is None or self.generation() != self._index_generation:
            with self.read() as tx:
                meta = read_meta(tx)
                check(meta)
                ids, matrix = _mean_matrix(tx, int(meta["embedding_dim"]))
            self._index = TemplateIndex(ids, matrix, self._search_backend)
            self._index_generation = int(meta["generation"])
        rows, _ = self._index.search(query, k)
        ids = [self._index.ids[row] for row in rows.tolist()]
        return ids, self._index.vectors(rows), len(self._index)

    def scrub(self) -> bool:
        """Checkpoint the WAL into the file, ``VACUUM`` and truncate the WAL.

        With ``secure_delete`` this leaves no copy of deleted records in the files. Returns
        False when another connection's open read kept the checkpoint from finishing: old
        copies may then stay in the ``-wal`` file until the next scrub.
        """
        with guard(self.path):
            first = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            self.conn.execute("VACUUM")
            second = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return first[0] == 0 and second[0] == 0

    def integrity_check(self) -> list[str]:
        """SQLite's ``integrity_check`` plus foreign keys: an empty list means sound."""
        with guard(self.path):
            problems = [row[0] for row in self.conn.execute("PRAGMA integrity_check")]
            problems = [p for p in problems if p != "ok"]
            problems += [
                f"template row {row[1]} refers to a missing identity"
                for row in self.conn.execute("PRAGMA foreign_key_check")
            ]
        return problems

    def drop(self) -> None:
        """Close the connection and delete the gallery file and its companions."""
        self.close()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)

    def close(self) -> None:
        self.conn.close()


__all__ = ["APPLICATION_ID", "Database", "SqliteTx", "guard"]
