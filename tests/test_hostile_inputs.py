"""Hostile inputs through the public API and the CLI: each gives a typed bioverify error.

One table per entry point (``Verifier.acquire`` / ``embed`` / ``verify`` for faces and
voices, ``Gallery.enroll``, the scores CSV reader, ``Calibration.load``, the CLI); every row
must raise a :class:`~bioverify.errors.BioverifyError` subclass (or, for the CLI, print one
``error:`` line and exit non-zero) and never crash, hang or grow memory without bound.
"""

from __future__ import annotations

import io
import json
import os
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import soundfile

from bioverify.bundle import BundleInfo
from bioverify.calibration import Calibration
from bioverify.calibration.scores_csv import read_scores_csv
from bioverify.errors import (
    BioverifyError,
    CalibrationError,
    GalleryError,
    InvalidInput,
    ModelError,
    NoFaceFound,
    NoSpeechFound,
    UnknownIdentity,
)
from bioverify.gallery import Gallery
from bioverify.gallery.backup import read_export
from bioverify.verify import Verifier
from bioverify.verify.image_input import MAX_PIXELS
from bioverify.verify.voice_input import MAX_SAMPLE_RATE, MIN_SAMPLE_RATE
from helpers import POWELL_1 as FACE
from helpers import one_line_error, run_bioverify, run_cli, run_python

RATE = 16000


# ------------------------------------------------------------------ builders
def png_header(width: int, height: int) -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` with a few bytes of image data."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + chunk(b"IEND", b"")
    )


def jpeg_header(width: int, height: int) -> bytes:
    """SOI + a baseline SOF0 claiming ``width`` x ``height``: the start of a JPEG bomb."""
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    return b"\xff\xd8\xff\xc0" + struct.pack(">H", len(sof) + 2) + sof + b"\x00" * 32


def encoded_image(ext: str = ".png", shape: tuple[int, ...] = (64, 48, 3)) -> bytes:
    image = np.random.default_rng(0).integers(0, 255, shape, dtype=np.uint8)
    ok, data = cv2.imencode(ext, image)
    assert ok
    return data.tobytes()


def wav_bytes(seconds: float, rate: int = RATE, channels: int = 1, fmt: str = "WAV") -> bytes:
    n = max(1, round(seconds * rate))
    rng = np.random.default_rng(0)
    samples = (0.3 * rng.standard_normal((n, channels))).clip(-1, 1).astype(np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, samples, rate, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


def sparse_long_wav(path: Path, hours: float, rate: int = RATE) -> Path:
    """A 16-bit mono WAV lasting ``hours``, written as a sparse file (no disk, no time)."""
    data_bytes = round(hours * 3600 * rate) * 2
    header = b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVEfmt "
    header += struct.pack("<IHHIIHH", 16, 1, 1, rate, rate * 2, 2, 16)
    header += b"data" + struct.pack("<I", data_bytes)
    with path.open("wb") as handle:
        handle.write(header)
        handle.truncate(len(header) + data_bytes)
    return path


def hostile_files(root: Path) -> dict[str, Path]:
    """Files of every hostile kind, named for the case they test."""
    root.mkdir(parents=True, exist_ok=True)
    face, png, wav = encoded_image(".jpg"), encoded_image(".png"), wav_bytes(1.0)
    contents = {
        "empty.jpg": b"",
        "empty.wav": b"",
        "text.jpg": b"hello, I am not a photo\n",
        "text.wav": b"hello, I am not a recording\n",
        "truncated.jpg": face[: len(face) // 3],
        "truncated.png": png[: len(png) // 3],
        "header-only.jpg": face[:20],
        "truncated.wav": wav[:30],
        "header-only.wav": wav[:44],
        "bomb.png": png_header(100_000, 100_000),
        "bomb.jpg": jpeg_header(65_000, 65_000),
        "zero-size.png": png_header(0, 0),
        "unknown-format.jpg": b"GARBAGE\x00" * 100,
        "wav-named.jpg": wav,
        "jpg-named.wav": face,
        "one-sample.wav": wav_bytes(1 / RATE),
        "rate-1000.wav": wav_bytes(1.0, rate=1000),
        "rate-384000.wav": wav_bytes(0.1, rate=384000),
    }
    paths = {name: root / name for name in contents}
    for name, data in contents.items():
        paths[name].write_bytes(data)
    paths["zero-samples.wav"] = root / "zero-samples.wav"
    soundfile.write(paths["zero-samples.wav"], np.zeros(0, np.float32), RATE)
    paths["folder.jpg"] = root / "folder.jpg"
    paths["folder.jpg"].mkdir()
    paths["folder.wav"] = root / "folder.wav"
    paths["folder.wav"].mkdir()
    paths["missing.jpg"] = root / "missing.jpg"
    paths["missing.wav"] = root / "missing.wav"
    paths["long-name.jpg"] = root / ("x" * 300 + ".jpg")  # longer than NAME_MAX
    paths["non-utf8.jpg"] = Path(os.fsdecode(os.fsencode(root) + b"/\xff\xfe-photo.jpg"))
    paths["non-utf8.jpg"].write_bytes(b"\xff\xd8 not really")
    paths["hours.wav"] = sparse_long_wav(root / "hours.wav", hours=3)
    return paths


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return hostile_files(tmp_path_factory.mktemp("hostile"))


@pytest.fixture(scope="module")
def face_verifier(face_bundle: BundleInfo) -> Verifier:
    return Verifier.load(face_bundle, threshold=0.5, face_mode="auto", intra_op_threads=1)


@pytest.fixture(scope="module")
def voice_verifier(voice_bundle: BundleInfo) -> Verifier:
    return Verifier.load(voice_bundle, threshold=0.5, intra_op_threads=1)


# ------------------------------------------------------------------ face and voice inputs
FILE_CASES = [
    ("face", "empty.jpg", InvalidInput, "empty image"),
    ("face", "text.jpg", InvalidInput, "not a readable image"),
    ("face", "truncated.jpg", InvalidInput, "not a readable image"),
    ("face", "truncated.png", InvalidInput, "not a readable image"),
    ("face", "header-only.jpg", InvalidInput, "not a readable image"),
    ("face", "bomb.png", InvalidInput, "10,000,000,000 pixels, more than the limit of 50,000,000"),
    ("face", "bomb.jpg", InvalidInput, "more than the limit"),
    ("face", "zero-size.png", InvalidInput, "empty"),
    ("face", "unknown-format.jpg", InvalidInput, "not a readable image"),
    ("face", "wav-named.jpg", InvalidInput, "not a readable image"),
    ("face", "folder.jpg", InvalidInput, "cannot read image file"),
    ("face", "missing.jpg", InvalidInput, "cannot read image file"),
    ("face", "long-name.jpg", InvalidInput, "cannot read image file"),
    ("face", "non-utf8.jpg", InvalidInput, "not a readable image"),
    ("voice", "empty.wav", InvalidInput, "not a readable audio file"),
    ("voice", "text.wav", InvalidInput, "not a readable audio file"),
    ("voice", "truncated.wav", InvalidInput, "not a readable audio file"),
    ("voice", "header-only.wav", InvalidInput, "holds no samples"),
    ("voice", "zero-samples.wav", InvalidInput, "holds no samples"),
    ("voice", "one-sample.wav", NoSpeechFound, "0.00 s of speech"),
    ("voice", "jpg-named.wav", InvalidInput, "not a readable audio file"),
    ("voice", "rate-1000.wav", InvalidInput, "1000 Hz is not supported"),
    ("voice", "rate-384000.wav", InvalidInput, "384000 Hz is not supported"),
    ("voice", "hours.wav", InvalidInput, "lasts 10800 s, more than the limit of 600 s"),
    ("voice", "folder.wav", InvalidInput, "is a folder"),
    ("voice", "missing.wav", InvalidInput, "does not exist"),
]

VALUE_CASES: list[tuple[str, str, Any, type[BioverifyError], str]] = [
    ("face", "bomb bytes", png_header(100_000, 100_000), InvalidInput, "more than the limit"),
    ("face", "empty bytes", b"", InvalidInput, "empty image"),
    ("face", "random bytes", bytes(range(256)) * 4, InvalidInput, "not a readable image"),
    ("face", "1-pixel image", np.zeros((1, 1, 3), np.uint8), NoFaceFound, "no face"),
    ("face", "1-pixel file", encoded_image(".png", (1, 1, 3)), NoFaceFound, "no face"),
    ("face", "all-black 640x480", np.zeros((480, 640, 3), np.uint8), NoFaceFound, "no face"),
    ("face", "all-white 640x480", np.full((480, 640, 3), 255, np.uint8), NoFaceFound, "no face"),
    ("face", "NaN floats", np.full((112, 112, 3), np.nan, np.float32), InvalidInput, "uint8"),
    ("face", "inf floats", np.full((112, 112, 3), np.inf, np.float64), InvalidInput, "uint8"),
    ("face", "int64 pixels", np.zeros((112, 112, 3), np.int64), InvalidInput, "uint8"),
    ("face", "bool pixels", np.zeros((112, 112), bool), InvalidInput, "uint8"),
    ("face", "object array", np.array([[None, 1]], dtype=object), InvalidInput, "uint8"),
    ("face", "0-d array", np.array(7, np.uint8), InvalidInput, r"shape \(\)"),
    ("face", "4-D array", np.zeros((2, 112, 112, 3), np.uint8), InvalidInput, "shape"),
    ("face", "5 channels", np.zeros((112, 112, 5), np.uint8), InvalidInput, r"\[H, W, 3\]"),
    ("face", "empty array", np.zeros((0, 112, 3), np.uint8), InvalidInput, "empty"),
    ("face", "huge array", np.broadcast_to(np.uint8(0), (10_000, 10_000)), InvalidInput, "limit"),
    ("face", "audio array", np.zeros(RATE, np.float32), InvalidInput, "is audio"),
    ("face", "None", None, InvalidInput, "cannot read an image from <NoneType>"),
    ("face", "a number", 3.5, InvalidInput, "cannot read an image from <float>"),
    ("voice", "empty bytes", b"", InvalidInput, "not a readable audio file|empty"),
    ("voice", "0 samples", np.zeros(0, np.float32), InvalidInput, "empty"),
    ("voice", "1 sample", np.zeros(1, np.float32), NoSpeechFound, "speech"),
    ("voice", "1 sample with rate", (np.ones(1, np.float32), RATE), NoSpeechFound, "speech"),
    ("voice", "NaN", np.full(RATE, np.nan, np.float32), InvalidInput, "NaN"),
    ("voice", "inf", np.full(RATE, -np.inf, np.float64), InvalidInput, "NaN/inf"),
    ("voice", "beyond float32", np.full(RATE, 1e300), InvalidInput, "NaN/inf"),
    ("voice", "int32 samples", np.zeros(RATE, np.int32), InvalidInput, "float or int16"),
    ("voice", "complex samples", np.zeros(RATE, np.complex64), InvalidInput, "float or int16"),
    ("voice", "stereo array", np.zeros((2, RATE), np.float32), InvalidInput, "is an image"),
    ("voice", "image array", np.zeros((112, 112, 3), np.uint8), InvalidInput, "is an image"),
    ("voice", "rate 0", (np.ones(100, np.float32), 0), InvalidInput, "0 Hz is not supported"),
    ("voice", "rate -8000", (np.ones(100, np.float32), -8000), InvalidInput, "not supported"),
    ("voice", "rate 1", (np.ones(100, np.float32), 1), InvalidInput, "1 Hz is not supported"),
    ("voice", "rate 10 MHz", (np.ones(100, np.float32), 10**7), InvalidInput, "not supported"),
    ("voice", "rate NaN", (np.ones(100, np.float32), float("nan")), InvalidInput, "integer"),
    ("voice", "rate 16000.5", (np.ones(100, np.float32), 16000.5), InvalidInput, "integer"),
    ("voice", "rate as text", (np.ones(100, np.float32), "16000"), InvalidInput, "integer"),
    (
        "voice",
        "3 hours array",
        np.broadcast_to(np.float32(0), (3 * 3600 * RATE,)),
        InvalidInput,
        "limit",
    ),
]


@pytest.mark.parametrize(("modality", "name", "error", "match"), FILE_CASES)
@pytest.mark.parametrize("method", ["acquire", "embed"])
def test_hostile_files(request, files, method, modality, name, error, match) -> None:
    verifier = request.getfixturevalue(f"{modality}_verifier")
    call = verifier.acquire if method == "acquire" else lambda x: verifier.embed([x])
    with pytest.raises(error, match=match):
        call(files[name])


@pytest.mark.parametrize(
    ("modality", "name", "value", "error", "match"),
    VALUE_CASES,
    ids=[f"{c[0]}: {c[1]}" for c in VALUE_CASES],
)
def test_hostile_values(request, modality, name, value, error, match) -> None:
    verifier = request.getfixturevalue(f"{modality}_verifier")
    with pytest.raises(error, match=match):
        verifier.acquire(value)


# ------------------------------------------------------------------ face only
def test_black_aligned_crop_is_a_typed_error_or_an_embedding(face_verifier) -> None:
    # An all-black 112x112 crop taken as already aligned: the tiny model maps a constant image
    # to a zero vector, which must come out as a ModelError, never a NaN score.
    verifier = Verifier.load(face_verifier.info, threshold=0.5, face_mode="aligned")
    with pytest.raises(ModelError, match="zero or non-finite embedding"):
        verifier.verify(np.zeros((112, 112, 3), np.uint8), np.zeros((112, 112, 3), np.uint8))


def test_verify_with_one_hostile_side_is_typed(face_verifier, files) -> None:
    with pytest.raises(InvalidInput, match="more than the limit"):
        face_verifier.verify(FACE, files["bomb.png"])


# ------------------------------------------------------------------ voice only
def test_supported_rates_at_the_limits_are_accepted(voice_verifier) -> None:
    for rate in (MIN_SAMPLE_RATE, 8000, 44100, MAX_SAMPLE_RATE):
        tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate).astype(np.float32)
        assert voice_verifier.acquire((tone, rate)).quality["duration_seconds"] == 1.0


def test_long_audio_bytes_are_refused_before_decoding(voice_verifier) -> None:
    eleven_minutes = wav_bytes(660, rate=MIN_SAMPLE_RATE)
    with pytest.raises(InvalidInput, match="lasts 660 s, more than the limit of 600 s"):
        voice_verifier.acquire(eleven_minutes)


_RSS_SCRIPT = """
import resource, sys
sys.path.insert(0, {tests!r})
from bioverify.errors import InvalidInput
from bioverify.media import read_audio
from bioverify.verify.voice_input import VoicePreprocessor, VoiceSettings
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for x in ({path!r},):
    try:
        VoicePreprocessor(16000)(x)
    except InvalidInput as exc:
        print("refused:", exc)
    # the decoder's own cap, whatever a header claims: at most max_seconds are held
    try:
        read_audio(x, 16000, max_seconds=60)
    except InvalidInput as exc:
        print("capped:", exc)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("growth_kib", after - before)
"""


def test_hours_long_audio_uses_bounded_memory(files) -> None:
    # 3 hours of 16 kHz audio decode to 690 MB of float32; refused, RSS must barely move
    script = _RSS_SCRIPT.format(tests=str(Path(__file__).parent), path=str(files["hours.wav"]))
    done = run_python(script)
    assert done.returncode == 0, done.stderr
    assert "refused:" in done.stdout and "capped:" in done.stdout, done.stdout + done.stderr
    growth_kib = int(done.stdout.split("growth_kib")[1])
    assert growth_kib < 64 * 1024, f"peak RSS grew by {growth_kib} KiB"


# ------------------------------------------------------------------ gallery
@pytest.mark.parametrize(
    "name", ["empty.jpg", "text.jpg", "bomb.png", "folder.jpg", "missing.jpg", "long-name.jpg"]
)
def test_enroll_skips_hostile_files_and_writes_nothing(face_verifier, files, tmp_path, name):
    with Gallery(tmp_path / "g.db", face_verifier) as gallery:
        report = gallery.enroll("alice", [files[name]])
        assert not report.ok and report.n_templates == 0
        assert len(report.skipped) == 1 and report.skipped[0].message
        with pytest.raises(UnknownIdentity):
            gallery.show("alice")  # no partial identity was written


def test_enroll_a_non_utf8_file_name(face_verifier, tmp_path) -> None:
    # the name is stored as text: undecodable bytes must not break the SQLite write
    path = Path(os.fsdecode(os.fsencode(tmp_path) + b"/\xff\xfe-powell.jpg"))
    path.write_bytes(FACE.read_bytes())
    with Gallery(tmp_path / "g.db", face_verifier) as gallery:
        report = gallery.enroll("powell", [path])
        assert report.ok, report.to_dict()
        assert gallery.show("powell").templates[0].source_name


@pytest.mark.parametrize("identity", ["", " ", "a" * 10_000, "x\x00y", "\ud800"])
def test_enroll_refuses_hostile_identity_names(face_verifier, tmp_path, identity) -> None:
    with Gallery(tmp_path / "g.db", face_verifier) as gallery, pytest.raises(BioverifyError):
        gallery.enroll(identity, [FACE])


# ------------------------------------------------------------------ scores / calibration
SCORE_CASES: list[tuple[str, bytes, str]] = [
    ("empty", b"", "empty"),
    ("header only", b"score,label\n", "no rows"),
    ("text", b"hello world\n", "no 'score'"),
    ("binary", bytes(range(256)), "not UTF-8|no 'score'|field|NUL"),
    ("utf-16", "score,label\n0.5,1\n0.1,0\n".encode("utf-16"), "not UTF-8|no 'score'|NUL"),
    ("NaN score", b"score,label\nnan,1\n0.1,0\n", "NaN"),
    ("inf score", b"score,label\ninf,1\n0.1,0\n", "infinite"),
    ("huge score", b"score,label\n1e999,1\n0.1,0\n", "infinite"),
    ("bad label", b"score,label\n0.5,2\n0.1,0\n", "label"),
    ("one class", b"score,label\n0.5,1\n0.6,1\n", "genuine"),
    ("ragged", b"score,label\n0.5,1,7\n0.1,0\n", "field"),
    ("NUL byte", b"score,label\n0.5\x00,1\n0.1,0\n", "NUL|not a number|line contains"),
    ("huge field", b"score,label\n" + b"9" * 200_000 + b",1\n0.1,0\n", "field larger|limit"),
]


@pytest.mark.parametrize(("name", "data", "match"), SCORE_CASES, ids=[c[0] for c in SCORE_CASES])
def test_hostile_score_files(tmp_path, name, data, match) -> None:
    path = tmp_path / "scores.csv"
    path.write_bytes(data)
    with pytest.raises(InvalidInput, match=match):
        read_scores_csv(path)


@pytest.mark.parametrize("name", ["folder.jpg", "missing.jpg", "long-name.jpg"])
def test_score_and_calibration_paths_that_are_not_files(files, name) -> None:
    with pytest.raises(InvalidInput):
        read_scores_csv(files[name])
    with pytest.raises(CalibrationError):
        Calibration.load(files[name])


@pytest.mark.parametrize(
    "data",
    [b"", b"\xff\xfe", b"null", b"[]", b'{"format_version": 99}', b"1" * 100_000, b"[" * 100_000],
    ids=["empty", "not utf-8", "null", "list", "future version", "huge number", "deep nesting"],
)
def test_hostile_calibration_files(tmp_path, data) -> None:
    path = tmp_path / "cal.json"
    path.write_bytes(data)
    with pytest.raises(CalibrationError):
        Calibration.load(path)
    with pytest.raises(GalleryError):
        read_export(path)


# ------------------------------------------------------------------ CLI
CLI_FACE_FILES = ["empty.jpg", "text.jpg", "bomb.png", "folder.jpg", "missing.jpg", "non-utf8.jpg"]


@pytest.mark.parametrize("name", CLI_FACE_FILES)
def test_cli_verify_hostile_faces(face_bundle, files, name) -> None:
    code, _, stderr = run_cli(
        "verify", FACE, files[name], "--model", face_bundle.folder, "--threshold", 0.5
    )
    one_line_error(code, stderr)


@pytest.mark.parametrize("name", ["empty.wav", "text.wav", "hours.wav", "rate-1000.wav"])
def test_cli_verify_hostile_voices(voice_bundle, files, name) -> None:
    code, _, stderr = run_cli(
        "verify", files[name], files[name], "--model", voice_bundle.folder, "--threshold", 0.5
    )
    one_line_error(code, stderr)


@pytest.mark.parametrize("name", ["empty.jpg", "bomb.png", "folder.jpg", "missing.jpg"])
def test_cli_enroll_hostile_faces(face_bundle, files, tmp_path, name) -> None:
    code, out, err = run_cli(
        *("enroll", "--gallery", tmp_path / "g.db", "--model", face_bundle.folder),
        *("--id", "alice", files[name]),
    )
    assert code == NoFaceFound.exit_code, out + err
    assert "Traceback" not in out + err and f"skipped {files[name]}" in out
    assert err.strip().splitlines() == ["error: no sample of 'alice' could be enrolled"]


@pytest.mark.parametrize("data", [b"", b"hello\n", b"score,label\nnan,1\n", bytes(range(256))])
def test_cli_calibrate_hostile_scores(tmp_path, data) -> None:
    path = tmp_path / "scores.csv"
    path.write_bytes(data)
    code, _, stderr = run_cli("calibrate", "--scores", path, "--out", tmp_path / "cal.json")
    one_line_error(code, stderr)


@pytest.mark.slow  # a child process each
@pytest.mark.parametrize(
    "make",
    [
        lambda root, files: ["verify", FACE, files["bomb.png"], "--threshold", "0.5"],
        lambda root, files: ["verify", FACE, files["truncated.png"], "--threshold", "0.5"],
        lambda root, files: ["verify", files["hours.wav"], files["hours.wav"], "--threshold", "0"],
        lambda root, files: ["calibrate", "--scores", files["text.wav"], "--out", root / "c"],
    ],
    ids=["bomb", "truncated PNG (OpenCV logs a warning)", "hours-long audio", "text as scores"],
)
def test_real_process_prints_one_line_and_no_traceback(
    face_bundle, voice_bundle, files, tmp_path, make: Callable[..., list[Any]]
) -> None:
    args = [str(a) for a in make(tmp_path, files)]
    if args[0] == "verify":
        bundle = voice_bundle if args[1].endswith(".wav") else face_bundle
        args += ["--model", str(bundle.folder)]
    done = run_bioverify(*args)
    one_line_error(done.returncode, done.stderr)
    assert done.returncode == InvalidInput.exit_code


def test_pixel_limit_is_the_documented_value() -> None:
    docs = (Path(__file__).parents[1] / "docs" / "security.md").read_text(encoding="utf-8")
    assert f"{MAX_PIXELS:,}" in docs and "600 s" in docs and f"{MAX_SAMPLE_RATE:,}" in docs
    assert json.dumps(MIN_SAMPLE_RATE) in docs.replace(",", "")
