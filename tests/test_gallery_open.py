"""``Gallery.open``: a gallery with its model — given, or the bundle it remembers."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bioverify.errors import GalleryError, InvalidInput, ModelError
from bioverify.gallery import Gallery
from bioverify.gallery.opening import remembered_bundle
from bioverify.verify.verifier import Verifier
from gallery_fakes import FakeVerifier, write_samples


@pytest.fixture
def loads(tmp_path, monkeypatch) -> list[tuple[Path, dict]]:
    """``Verifier.load`` gives a FakeVerifier named after the bundle folder; the calls."""
    calls: list[tuple[Path, dict]] = []

    def fake_load(model, **options):
        calls.append((Path(model), options))
        return FakeVerifier(seed=Path(model).name, bundle=Path(model).resolve())

    monkeypatch.setattr(Verifier, "load", fake_load)
    return calls


def test_open_remembers_the_bundle_and_loads_it_again(tmp_path, loads) -> None:
    bundle = tmp_path / "model-a"
    bundle.mkdir()
    location = tmp_path / "g.db"
    with pytest.raises(GalleryError, match="no gallery there"):
        Gallery.open(location)
    with Gallery.open(location, bundle, operating_point=0.001, device="cpu") as gallery:
        assert gallery.enroll("alice", write_samples(tmp_path / "alice", "alice", 2)).ok
    assert loads[-1] == (bundle.resolve(), {"operating_point": 0.001, "device": "cpu"})
    assert remembered_bundle(location) == bundle.resolve()
    probe = write_samples(tmp_path / "probe", "alice", 1, start=5)[0]
    with Gallery.open(location, threshold=0.5) as gallery:  # the model it remembers
        assert gallery.identify(probe).decision == "alice"
    assert loads[-1] == (bundle.resolve(), {"threshold": 0.5})
    shutil.rmtree(bundle)
    with pytest.raises(ModelError, match="not there any more; pass --model"):
        Gallery.open(location)


def test_open_with_a_loaded_verifier(tmp_path, loads) -> None:
    verifier = FakeVerifier()
    with Gallery.open(tmp_path / "g.db", verifier) as gallery:
        assert gallery.verifier is verifier
    assert loads == []
    with pytest.raises(InvalidInput, match="already loaded verifier"):
        Gallery.open(tmp_path / "g.db", verifier, threshold=0.5)
