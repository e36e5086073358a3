"""Shared fixtures: tiny face and voice model bundles (see ``tiny_bundles.py``)."""

from __future__ import annotations

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
