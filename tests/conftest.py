"""Shared fixtures: tiny face and voice model bundles (see ``tiny_bundles.py``), gallery
locations on both engines (a real PostgreSQL with pgvector, started by ``pgserver``), and
torch on one thread. Plain helpers the test modules share (data paths, running the CLI,
synthetic data) are in ``helpers.py``."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bioverify.bundle import CALIBRATION_FILE, BundleInfo
from pg_server import start_postgres


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
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server for this test session, in a folder of its own (not under pytest's
    basetemp, which concurrent pytest sessions may rotate away); deleted at the end."""
    server = start_postgres(Path(tempfile.mkdtemp(prefix="bioverify-pg-")))
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


@pytest.fixture(scope="module")
def one_torch_thread() -> Iterator[None]:
    """torch on one thread for a module of tiny models: with several threads, OpenMP
    synchronisation (and, on a busy machine, waiting for a core) costs more per op than the
    arithmetic. Use it as ``pytestmark = pytest.mark.usefixtures("one_torch_thread")``."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
