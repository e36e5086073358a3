"""Seed files for the campaign, made from the repository's example photos and recordings
and the default model bundles (nothing is downloaded)."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import soundfile

ROOT = Path(__file__).resolve().parents[2]
FACES = [
    ROOT / "examples" / "face_a1.jpg",
    ROOT / "tests" / "data" / "faces" / "Colin_Powell_0001.jpg",
]
VOICE = ROOT / "examples" / "voice_a1.ogg"

IMAGE_KINDS = ("jpeg", "png", "pgm", "webp", "bmp", "tiff")
AUDIO_KINDS = ("wav", "flac", "ogg", "mp3")
FILE_KINDS = ("scores_csv", "bundle", "calibration", "gallery")
KINDS = IMAGE_KINDS + AUDIO_KINDS + FILE_KINDS
SUFFIX = {
    "jpeg": ".jpg",
    "png": ".png",
    "pgm": ".pgm",
    "webp": ".webp",
    "bmp": ".bmp",
    "tiff": ".tif",
    "wav": ".wav",
    "flac": ".flac",
    "ogg": ".ogg",
    "mp3": ".mp3",
    "scores_csv": ".csv",
    "bundle": ".json",
    "calibration": ".json",
    "gallery": ".db",
}


def _images(kind: str) -> list[bytes]:
    out = []
    for path in FACES:
        image = cv2.imread(str(path))
        for size in (250, 96):
            small = cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)
            if kind == "pgm":
                small = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
            params = [cv2.IMWRITE_PNG_COMPRESSION, 9] if kind == "png" else []
            ok, data = cv2.imencode(SUFFIX[kind], small, params)
            assert ok, kind
            out.append(data.tobytes())
    if kind == "png":  # interlaced and 16-bit variants reach other libpng paths
        from PIL import Image

        buffer = io.BytesIO()
        Image.open(FACES[0]).resize((96, 96)).save(buffer, "PNG", interlace=1)
        out.append(buffer.getvalue())
        ok, data = cv2.imencode(".png", cv2.imread(str(FACES[0])).astype(np.uint16) * 257)
        out.append(data.tobytes())
    if kind == "jpeg":
        from PIL import Image

        buffer = io.BytesIO()
        Image.open(FACES[0]).save(buffer, "JPEG", progressive=True, quality=80)
        out.append(buffer.getvalue())
    return out


def _audio(kind: str) -> list[bytes]:
    samples, rate = soundfile.read(VOICE, dtype="float32")
    samples = samples[: 3 * rate]
    fmt = {"wav": "WAV", "flac": "FLAC", "ogg": "OGG", "mp3": "MP3"}[kind]
    subtypes = {
        "wav": ["PCM_16", "FLOAT"],
        "flac": ["PCM_16"],
        "ogg": ["VORBIS"],
        "mp3": ["MPEG_LAYER_III"],
    }[kind]
    out = []
    for subtype in subtypes:
        buffer = io.BytesIO()
        soundfile.write(buffer, samples, rate, format=fmt, subtype=subtype)
        out.append(buffer.getvalue())
    return out


def _scores_csv() -> list[bytes]:
    rng = np.random.default_rng(0)
    rows = ["score,label,subject_a,subject_b"]
    for k in range(40):
        same = k % 2
        rows.append(f"{rng.normal(0.6 if same else 0.2, 0.1):.4f},{same},s{k},s{k + same}")
    return ["\n".join(rows).encode() + b"\n"]


def _bundle(modality: str) -> Path:
    from bioverify.verify.api import default_bundle

    return Path(default_bundle(modality))


def seeds(kind: str, workdir: Path) -> list[bytes]:
    """The seed files of one input kind (a gallery seed is built in ``workdir``)."""
    if kind in IMAGE_KINDS:
        return _images(kind)
    if kind in AUDIO_KINDS:
        return _audio(kind)
    if kind == "scores_csv":
        return _scores_csv()
    if kind == "bundle":
        return [(_bundle("face") / "bundle.json").read_bytes()]
    if kind == "calibration":
        return [(_bundle(m) / "calibration.json").read_bytes() for m in ("face", "voice")]
    return [_gallery(workdir)]


def _gallery(workdir: Path) -> bytes:
    from bioverify.gallery import Gallery
    from bioverify.verify.api import load_verifier

    path = workdir / "seed-gallery.db"
    if not path.exists():
        building = workdir / "seed-gallery.tmp.db"
        building.unlink(missing_ok=True)
        with Gallery(building, load_verifier(_bundle("face"))) as gallery:
            gallery.enroll("a", [FACES[0]])
            gallery.enroll("b", [FACES[1]])
        shutil.move(building, path)
    return path.read_bytes()


def bundle_folder(workdir: Path, bundle_json: bytes) -> Path:
    """A bundle folder whose ``bundle.json`` is ``bundle_json`` (the other files linked to
    the default face bundle's)."""
    folder = workdir / "bundle"
    if not folder.exists():
        folder.mkdir()
        for item in _bundle("face").iterdir():
            if item.name != "bundle.json":
                (folder / item.name).symlink_to(item)
    (folder / "bundle.json").write_bytes(bundle_json)
    return folder


def child_env() -> dict[str, str]:
    """The environment of a campaign's child process: this checkout's ``src`` and root first
    on ``PYTHONPATH``, one thread per math library (the campaign shares its machine)."""
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT), os.environ.get("PYTHONPATH", "")])
    return {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": "1", "ORT_NUM_THREADS": "1"}


def describe_seeds() -> dict[str, str]:
    """Where each kind's seeds come from (for the results file)."""
    return {
        **{k: "examples/face_a1.jpg, tests/data/faces/Colin_Powell_0001.jpg" for k in IMAGE_KINDS},
        **{k: "examples/voice_a1.ogg (first 3 s)" for k in AUDIO_KINDS},
        "scores_csv": "40 synthetic rows",
        "bundle": "models/face/bundle.json",
        "calibration": "models/{face,voice}/calibration.json",
        "gallery": "SQLite gallery, default face model, 2 identities",
    }


__all__ = ["KINDS", "SUFFIX", "bundle_folder", "child_env", "describe_seeds", "seeds"]
