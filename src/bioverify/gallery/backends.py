"""Which store a gallery location opens: an SQLite :class:`~bioverify.gallery.database.Database`
for a file, a :class:`~bioverify.gallery.postgres.PostgresStore` for a ``postgresql://`` URL
(imported on first use: it needs psycopg). Above both stores, which sit on
:mod:`bioverify.gallery.store`'s protocols and helpers."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

from bioverify.errors import GalleryError, MissingDependency
from bioverify.gallery.search import Backend
from bioverify.gallery.store import Store, is_url


def _postgres() -> ModuleType:
    """:mod:`bioverify.gallery.postgres`, imported on first use (it needs psycopg)."""
    if any(importlib.util.find_spec(name) is None for name in ("psycopg", "psycopg_pool")):
        raise MissingDependency(
            "a postgresql:// gallery needs psycopg 3 and psycopg-pool: "
            "pip install 'bioverify[postgres]'"
        )
    return importlib.import_module("bioverify.gallery.postgres")


def open_store(
    location: Path | str,
    new_meta: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    search_backend: Backend = "numpy",
) -> Store:
    """The store at ``location``; ``new_meta`` creates the gallery when there is none.

    Examples
    --------
    >>> import tempfile
    >>> from bioverify.gallery.store import read_meta
    >>> store = open_store(Path(tempfile.mkdtemp()) / "g.db", {"model_sha256": "0" * 64,
    ...                                   "modality": "face", "embedding_dim": "128"})
    >>> with store.read() as conn:
    ...     read_meta(conn)["modality"], store.engine
    ('face', 'sqlite')
    >>> store.close()
    """
    if is_url(location):
        if search_backend != "numpy":
            raise GalleryError(
                f"the {search_backend} search backend is for SQLite galleries; a PostgreSQL "
                "gallery searches in the server"
            )
        return _postgres().PostgresStore(str(location), new_meta, timeout)
    from bioverify.gallery.database import Database

    return Database(location, new_meta, timeout, search_backend)


def store_exists(location: Path | str) -> bool:
    """Whether a gallery (or at least a file) is at ``location``."""
    if is_url(location):
        return bool(_postgres().gallery_exists(str(location)))
    return Path(location).exists()


__all__ = ["open_store", "store_exists"]
