"""Shared fixtures: tiny face and voice model bundles (see ``tiny_bundles.py``), and gallery
locations on both engines (a real PostgreSQL with pgvector, started by ``pgserver``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bioverify.bundle import CALIBRATION_FILE, BundleInfo


@pytest.fixture(scope="session")
def face_bundle(tmp_path_factory: pytest.TempPathFactory) -> BundleInfo:
    """A tiny face bundle without calibration."""
    pytest.importorskip("onnx")
    from tiny_bundles import write_bundle

    return write_bundle(tmp_path_factory.mktemp("face-bundle"), "face")


@pytest.fixture(scope="session")
def voice_bundle(tmp_path_factory: pytest.TempPathFactory) -> BundleInfo:
    """A tiny voice bundle without calibration."""
    pytest.importorskip("onnx")
    from tiny_bundles import write_bundle

    return write_bundle(tmp_path_factory.mktemp("voice-bundle"), "voice")


@pytest.fixture()
def calibrated_face_bundle(tmp_path: Path) -> BundleInfo:
    """A tiny face bundle with a calibration.json bound to its model."""
    pytest.importorskip("onnx")
    from tiny_bundles import synthetic_calibration, write_bundle

    info = write_bundle(tmp_path / "bundle", "face")
    synthetic_calibration(info.model_sha256).save(info.folder / CALIBRATION_FILE)
    return info


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server with pgvector in a temporary folder, for this test session."""
    pgserver = pytest.importorskip("pgserver", reason="pgserver (dev extra) is not installed")
    pytest.importorskip("psycopg_pool", reason="psycopg-pool (postgres extra) is not installed")
    try:
        server = pgserver.get_server(tmp_path_factory.mktemp("pg"), cleanup_mode="stop")
        server.psql("CREATE EXTENSION IF NOT EXISTS vector;")
    except Exception as exc:  # whatever keeps the server from starting here
        pytest.skip(f"pgserver could not start PostgreSQL here: {exc}")
    yield server.get_uri()
    server.cleanup()


@pytest.fixture(params=["sqlite", "postgresql"])
def locate(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], Path | str]:
    """Gallery locations on one engine: ``locate("g")`` is ``tmp_path/g.db``, or a
    ``postgresql://`` URL of a schema of its own for this test."""
    if request.param == "sqlite":
        return lambda name: tmp_path / f"{name}.db"
    url = request.getfixturevalue("postgres_url")
    tag = uuid.uuid4().hex[:10]
    return lambda name: f"{url}&schema={name}_{tag}"
