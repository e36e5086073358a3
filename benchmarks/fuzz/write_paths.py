"""The write paths of the fault campaign, each as three steps on a folder: ``setup`` makes
version 0 of the file, ``write(v)`` replaces it by version ``v`` through the public API,
``read`` loads it back through the public API and returns the version it holds (or raises
the typed error a damaged file gives)."""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.fuzz.seeds import FACES

_CALIBRATION = "calibration.json"


def _face_bundle() -> Path:
    from bioverify.verify.api import default_bundle

    return Path(default_bundle("face"))


# ----------------------------------------------------------------------- calibration
def _calibration_setup(folder: Path) -> None:
    shutil.copy(_face_bundle() / "calibration.json", folder / "template.json")
    _calibration_write(folder, 0)


def _calibration_write(folder: Path, version: int) -> None:
    from bioverify.calibration import Calibration

    template = Calibration.load(folder / "template.json")
    dataclasses.replace(template, seed=version).save(folder / _CALIBRATION)


def _calibration_read(folder: Path) -> int:
    from bioverify.calibration import Calibration

    return Calibration.load(folder / _CALIBRATION).seed


# --------------------------------------------------------------------- bundle.json
def _bundle_setup(folder: Path) -> None:
    for item in _face_bundle().iterdir():  # copies: a link would lead writes to the original
        shutil.copy(item, folder)
    _bundle_write(folder, 0)


def _bundle_write(folder: Path, version: int) -> None:
    from bioverify.bundle import load_bundle, write_bundle_json

    info = load_bundle(folder, verify_sha256=False)
    write_bundle_json(dataclasses.replace(info, name=f"fuzz-v{version}"))


def _bundle_read(folder: Path) -> int:
    from bioverify.bundle import load_bundle

    return int(load_bundle(folder, verify_sha256=False).name.removeprefix("fuzz-v"))


# ---------------------------------------------------------------------------- split
def _split_write(folder: Path, version: int) -> None:
    from bioverify.datasets.splits import Split, save_split

    identities = [f"id{k}" for k in range(2000)]  # big enough for a kill to land mid-write
    split = Split(identities, ["val0"], ["test0"], seed=version, params={}, counts={})
    save_split(split, folder / "split.json")


def _split_read(folder: Path) -> int:
    from bioverify.datasets.splits import load_split

    return load_split(folder / "split.json", progress=False).seed


# ----------------------------------------------------------------------- checkpoint
def _checkpoint_write(folder: Path, version: int) -> None:
    import torch

    from bioverify.training.checkpoint import save_checkpoint

    save_checkpoint(folder / "last.pt", {"version": version, "weights": torch.zeros(500_000)})


def _checkpoint_read(folder: Path) -> int:
    from bioverify.training.checkpoint import load_checkpoint

    return int(load_checkpoint(folder / "last.pt")["version"])


# -------------------------------------------------------------------------- gallery
def _verifier() -> Any:
    from bioverify.verify.api import load_verifier

    return load_verifier(_face_bundle())


def _gallery_setup(folder: Path) -> None:
    _gallery_write(folder, 0)


def _gallery_write(folder: Path, version: int) -> None:
    """Enroll identity ``p<version>`` (version 0 creates the gallery)."""
    from bioverify.gallery import Gallery

    with Gallery(folder / "gallery.db", _verifier()) as gallery:
        gallery.enroll(f"p{version}", [FACES[version % 2]])


def _gallery_read(folder: Path) -> int:
    """The highest enrolled version; identities must be ``p0..pN`` without a gap and the
    gallery's own check must pass."""
    from bioverify.errors import GalleryError
    from bioverify.gallery import Gallery

    with Gallery(folder / "gallery.db") as gallery:
        problems = gallery.check()
        names = sorted(int(s.id[1:]) for s in gallery.list())
    if problems or names != list(range(len(names))):
        raise GalleryError(f"gallery damaged: {problems or names}")
    return len(names) - 1


def _backup_setup(folder: Path) -> None:
    _gallery_write(folder, 0)
    _backup_write(folder, 0)


def _backup_write(folder: Path, version: int) -> None:
    """Enroll ``p<n>`` up to ``p<version>``, then export the gallery to ``backup.json``."""
    from bioverify.gallery import Gallery

    with Gallery(folder / "gallery.db", _verifier()) as gallery:
        for k in range(len(gallery.list()), version + 1):
            gallery.enroll(f"p{k}", [FACES[k % 2]])
        gallery.export_json(folder / "backup.json")


def _backup_read(folder: Path) -> int:
    from bioverify.gallery.backup import read_export

    return len(read_export(folder / "backup.json")["identities"]) - 1


#: identities a remove-path gallery starts with (more than the kills can remove)
_REMOVABLE = 3000


def _remove_setup(folder: Path) -> None:
    """A gallery of ``p0`` … ``p<_REMOVABLE>``: ``p0`` enrolled from a photo, the others
    imported as copies of its templates (no embedding needed)."""
    import json

    from bioverify.gallery import Gallery

    with Gallery(folder / "gallery.db", _verifier()) as gallery:
        gallery.enroll("p0", [FACES[0]])
        gallery.export_json(folder / "p0.json")
        document = json.loads((folder / "p0.json").read_text())
        (entry,) = document["identities"]
        document["identities"] = [{**entry, "id": f"p{k}"} for k in range(1, _REMOVABLE + 1)]
        (folder / "copies.json").write_text(json.dumps(document))
        gallery.import_json(folder / "copies.json")


def _remove_write(folder: Path, version: int) -> None:
    """Remove ``p<version - 1>``: after version ``v``, ``p0`` … ``p<v - 1>`` are gone."""
    from bioverify.gallery import Gallery

    if version > 0:
        with Gallery(folder / "gallery.db") as gallery:
            gallery.remove(f"p{version - 1}")


def _remove_read(folder: Path) -> int:
    """How many identities were removed; the rest must be ``p<k>`` … ``p<_REMOVABLE>``
    without a gap, and the gallery's own check must pass."""
    from bioverify.errors import GalleryError
    from bioverify.gallery import Gallery

    with Gallery(folder / "gallery.db") as gallery:
        problems = gallery.check()
        names = sorted(int(s.id[1:]) for s in gallery.list())
    first = names[0] if names else _REMOVABLE + 1
    if problems or names != list(range(first, _REMOVABLE + 1)):
        raise GalleryError(f"gallery damaged: {problems or names[:5]}")
    return first


# --------------------------------------------------------------------------- export
def _export_setup(folder: Path) -> None:
    """A tiny face checkpoint (random weights) with the keys ``bioverify train`` writes."""
    import torch

    from bioverify.face_geometry import FaceGeometry
    from bioverify.training.checkpoint import save_checkpoint
    from bioverify.training.models import build_encoder

    torch.manual_seed(0)
    encoder = build_encoder("face", "mobilefacenet", 32, width=0.125, input_size=64)
    counts = {"train": {"identities": 5, "samples": 20}, "val": {"identities": 2, "samples": 8}}
    save_checkpoint(
        folder / "tiny.pt",
        {
            "modality": "face",
            "encoder": {"config": encoder.config, "state_dict": encoder.state_dict()},
            "head": None,
            "loss": {"name": "arcface", "kwargs": {"margin": 0.3}, "num_classes": 5},
            "config": {"epochs": 1},
            "identities": [f"id{k}" for k in range(5)],
            "face_geometry": FaceGeometry(output_size=64).to_dict(),
            "data": {"paths": ["faces"], "split": "split.json", "split_sha256": "0" * 64,
                     "split_counts": counts},
            "metrics": {"epoch": 0, "val_eer": 0.25},
            "progress": {"epoch": 1, "best_val_eer": 0.25, "best_epoch": 0},
        },
    )  # fmt: skip
    _export_write(folder, 0)


def _export_write(folder: Path, version: int) -> None:
    """``export`` (the whole pipeline: ONNX, parity, speed) over the bundle ``bundle/``."""
    from bioverify.export import export_bundle

    export_bundle(
        folder / "tiny.pt",
        folder / "bundle",
        name=f"fuzz-v{version}",
        overwrite=True,
        threads=1,
        timing_seconds=0.01,
        force=True,  # random weights: the collapse guard is not what is tested
    )


def _export_read(folder: Path) -> int:
    """The bundle's version; ``load_bundle`` checks the model file against its sha256."""
    from bioverify.bundle import load_bundle

    return int(load_bundle(folder / "bundle").name.removeprefix("fuzz-v"))


@dataclass(frozen=True)
class WritePath:
    """One write path: see the module docstring. A kill lands within ``kill_within_s`` of
    the writer being ready (longer for the slow writes, so that kills fall inside them)."""

    name: str
    setup: Callable[[Path], None]
    write: Callable[[Path, int], None]
    read: Callable[[Path], int]
    kill_within_s: float = 1.0


WRITE_PATHS = {
    p.name: p
    for p in (
        WritePath("calibration", _calibration_setup, _calibration_write, _calibration_read),
        WritePath("bundle_json", _bundle_setup, _bundle_write, _bundle_read),
        WritePath("split", lambda f: _split_write(f, 0), _split_write, _split_read),
        WritePath(
            "checkpoint", lambda f: _checkpoint_write(f, 0), _checkpoint_write, _checkpoint_read
        ),
        WritePath("gallery_enroll", _gallery_setup, _gallery_write, _gallery_read),
        WritePath("gallery_backup", _backup_setup, _backup_write, _backup_read),
        WritePath("gallery_remove", _remove_setup, _remove_write, _remove_read, 0.5),
        WritePath("export", _export_setup, _export_write, _export_read, kill_within_s=8.0),
    )
}
