"""Bounded fuzzing (hypothesis) of the image and audio decoders and the scores CSV parser:
whatever the bytes, only :class:`~bioverify.errors.BioverifyError` may come out."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bioverify.calibration.scores_csv import read_scores_csv
from bioverify.errors import BioverifyError
from bioverify.verify.image_input import load_image
from bioverify.verify.voice_input import VoicePreprocessor, VoiceSettings

FUZZ = settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_RNG = np.random.default_rng(0)


def _image(ext: str) -> bytes:
    ok, data = cv2.imencode(ext, _RNG.integers(0, 255, (24, 16, 3), dtype=np.uint8))
    assert ok
    return data.tobytes()


def _audio(fmt: str) -> bytes:
    buffer = io.BytesIO()
    samples = (0.3 * _RNG.standard_normal(4000)).astype(np.float32)
    soundfile.write(buffer, samples, 8000, format=fmt, subtype="PCM_16")
    return buffer.getvalue()


IMAGES = [_image(ext) for ext in (".png", ".jpg", ".bmp", ".webp", ".tif")]
AUDIO = [_audio(fmt) for fmt in ("WAV", "FLAC")]
CSV = b"score,label,subject_a,subject_b\n0.9,1,a,a\n0.1,0,a,b\n0.5,0,b,c\n"


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A valid file with some bytes overwritten, a slice cut out, or truncated."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    action = draw(st.sampled_from(["keep", "truncate", "cut", "extend"]))
    if action == "truncate":
        data = data[: draw(st.integers(0, len(data)))]
    elif action == "cut":
        start = draw(st.integers(0, len(data)))
        data = data[:start] + data[start + draw(st.integers(1, 64)) :]
    elif action == "extend":
        data += draw(st.binary(max_size=256))
    return bytes(data)


def _only_typed_errors(call, x) -> None:
    with contextlib.suppress(BioverifyError):
        call(x)


@FUZZ
@given(data=st.binary(max_size=512) | mutated(IMAGES))
def test_image_decoder(data: bytes) -> None:
    _only_typed_errors(lambda x: load_image(x, max_pixels=1_000_000), data)


_VOICE = VoicePreprocessor(16000, VoiceSettings(max_seconds=30))


@FUZZ
@given(data=st.binary(max_size=512) | mutated(AUDIO))
def test_audio_decoder(data: bytes) -> None:
    _only_typed_errors(_VOICE, data)


@FUZZ
@given(data=st.binary(max_size=256) | mutated([CSV]) | st.text(max_size=200).map(str.encode))
def test_scores_csv_parser(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    path: Path = tmp_path_factory.getbasetemp() / "fuzz-scores.csv"
    path.write_bytes(data)
    _only_typed_errors(read_scores_csv, path)
