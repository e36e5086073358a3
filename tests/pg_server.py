"""Starting a real PostgreSQL with pgvector for the gallery tests (``pgserver``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


def start_postgres(folder: Path) -> Any:
    """A PostgreSQL server with pgvector (a ``pgserver`` handle) in ``folder``, or a skip
    saying why it cannot start here."""
    pgserver = pytest.importorskip("pgserver", reason="pgserver (dev extra) is not installed")
    pytest.importorskip("psycopg_pool", reason="psycopg-pool (postgres extra) is not installed")
    try:
        server = pgserver.get_server(folder, cleanup_mode="delete")
        server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    except Exception as exc:  # whatever keeps the server from starting here
        pytest.skip(f"pgserver could not start PostgreSQL here: {exc}")
    return server
