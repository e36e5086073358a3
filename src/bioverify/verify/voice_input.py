"""Voice preprocessing at run time: any audio input → the model's ``float32 [T]`` windows.

1. Decode (WAV, FLAC, OGG — whatever libsndfile reads) with
   :func:`bioverify.media.read_audio` / :func:`~bioverify.media.decode_audio`: channels are
   averaged and the signal resampled to the model's rate. A numpy input is a 1-D float
   waveform in [-1, 1] (int16 is scaled) at the model's rate, or an ``(array, sample_rate)``
   pair / :class:`Audio` at any rate.
2. Energy VAD: 20 ms frames; a frame is speech when its RMS level is above
   ``floor_db`` dBFS (default -55) and within ``range_db`` dB (default 35) of the loudest
   frames (the 99th percentile of frame levels). Speech frames are widened by ``hangover``
   seconds (default 0.1) on both sides.
3. Fewer than ``min_speech_seconds`` (default 0.5 s) of speech: :class:`NoSpeechFound`.
4. ``trim`` says what the VAD removes before the model
   (:data:`~bioverify.bundle.VOICE_TRIM_MODES`): by default what the model was trained
   with, as its bundle states (``preprocessing.trim``; ``"none"`` when absent). A mismatch
   costs accuracy: the default voice model, trained on untrimmed clips, had 11.9 % EER on
   the val speakers with ``"none"`` and 15.1 % with ``"all"`` (every non-speech frame cut)
   or ``"ends"`` (leading and trailing non-speech cut).
5. Up to ``window_seconds`` (default 6 s) is one model input; a longer recording is cut
   into windows of that length every ``hop_seconds`` (default 3 s, the last window ending
   at the end) whose embeddings the verifier averages.

A recording longer than ``max_seconds`` (default 600 s) is refused before decoding it (and
decoding stops there whatever the header claims), and one recorded at a sample rate outside
:data:`MIN_SAMPLE_RATE` … :data:`MAX_SAMPLE_RATE` is refused.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from bioverify.bundle import VOICE_TRIM_MODES
from bioverify.errors import InvalidInput, NoSpeechFound
from bioverify.media import decode_audio, read_audio, resample
from bioverify.verify.image_input import describe
from bioverify.verify.result import Prepared

_FRAME_SECONDS = 0.02
#: lowest and highest accepted input sample rates (Hz): below 4 kHz nothing of speech is left
MIN_SAMPLE_RATE = 4000
MAX_SAMPLE_RATE = 192000


def check_sample_rate(rate: Any, source: str) -> int:
    """``rate`` as an int, or :class:`InvalidInput` when it is not a supported sample rate."""
    if isinstance(rate, bool) or not isinstance(rate, int | np.integer):
        raise InvalidInput(f"{source}: the sample rate must be an integer (Hz), got {rate!r}")
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise InvalidInput(
            f"{source}: sample rate {rate} Hz is not supported; use {MIN_SAMPLE_RATE}.."
            f"{MAX_SAMPLE_RATE} Hz (16000 is typical for speech)"
        )
    return int(rate)


@dataclass(frozen=True)
class Audio:
    """A waveform with its sample rate: ``float32 [T]`` in [-1, 1] (or int16)."""

    waveform: np.ndarray
    sample_rate: int


@dataclass(frozen=True)
class VoiceSettings:
    """Voice preprocessing parameters (see the module docstring for what each does)."""

    min_speech_seconds: float = 0.5
    window_seconds: float = 6.0
    hop_seconds: float = 3.0
    floor_db: float = -55.0
    range_db: float = 35.0
    hangover: float = 0.1
    max_seconds: float = 600.0
    #: what the VAD cuts (:data:`~bioverify.bundle.VOICE_TRIM_MODES`); None: the bundle's
    trim: str | None = None

    def __post_init__(self) -> None:
        if self.trim is not None and self.trim not in VOICE_TRIM_MODES:
            raise InvalidInput(f"trim must be one of {VOICE_TRIM_MODES}, got {self.trim!r}")
        if not 0 < self.hop_seconds <= self.window_seconds:
            raise InvalidInput("voice windows need 0 < hop_seconds <= window_seconds")
        if self.min_speech_seconds < 0 or self.max_seconds <= 0:
            raise InvalidInput("min_speech_seconds must be >= 0 and max_seconds > 0")


def speech_mask(waveform: np.ndarray, sample_rate: int, settings: VoiceSettings) -> np.ndarray:
    """Boolean per sample: inside a speech frame (widened by the hangover)."""
    frame = max(1, round(_FRAME_SECONDS * sample_rate))
    n_frames = int(np.ceil(waveform.size / frame))
    padded = np.zeros(n_frames * frame, np.float32)
    padded[: waveform.size] = waveform
    power = np.mean(padded.reshape(n_frames, frame).astype(np.float64) ** 2, axis=1)
    level = 10.0 * np.log10(np.maximum(power, 1e-20))
    loud = float(np.percentile(level, 99))
    speech = (level > settings.floor_db) & (level > loud - settings.range_db)
    widen = round(settings.hangover / _FRAME_SECONDS)
    if widen and speech.any():
        kernel = np.ones(2 * widen + 1)
        speech = np.convolve(speech.astype(np.float64), kernel, mode="same") > 0
    return np.repeat(speech, frame)[: waveform.size]


def trimmed(waveform: np.ndarray, speech: np.ndarray, trim: str) -> np.ndarray:
    """``waveform`` without the non-speech samples that ``trim`` cuts (``"none"``,
    ``"ends"`` or ``"all"``, :data:`~bioverify.bundle.VOICE_TRIM_MODES`)."""
    if trim == "all":
        return waveform[speech]
    if trim == "ends" and speech.any():
        found = np.flatnonzero(speech)
        return waveform[found[0] : found[-1] + 1]
    return waveform


def windows(speech: np.ndarray, sample_rate: int, settings: VoiceSettings) -> list[np.ndarray]:
    """The model inputs for a speech-only waveform: itself, or windows averaged later."""
    size = round(settings.window_seconds * sample_rate)
    if speech.size <= size:
        return [speech]
    hop = round(settings.hop_seconds * sample_rate)
    starts = list(range(0, speech.size - size + 1, hop))
    if starts[-1] + size < speech.size:
        starts.append(speech.size - size)
    return [speech[s : s + size] for s in starts]


class VoicePreprocessor:
    """Turns an audio input into model windows at ``sample_rate``; ``trim`` is the model's
    (its bundle's ``preprocessing.trim``) unless ``settings.trim`` overrides it."""

    def __init__(
        self, sample_rate: int, settings: VoiceSettings | None = None, trim: str = "none"
    ) -> None:
        self.sample_rate = sample_rate
        self.settings = settings or VoiceSettings()
        self.trim = self.settings.trim or trim
        if self.trim not in VOICE_TRIM_MODES:
            raise InvalidInput(f"trim must be one of {VOICE_TRIM_MODES}, got {self.trim!r}")

    def load(self, x: Any) -> np.ndarray:
        """Decode any supported audio input to ``float32 [T]`` mono at the model's rate."""
        source = describe(x)
        if isinstance(x, str | os.PathLike):
            path = Path(x)
            if not path.is_file():
                problem = "is a folder" if path.is_dir() else "does not exist"
                raise InvalidInput(f"{source}: cannot read audio file ({problem})")
            self._check_length(path, source)
            return read_audio(path, self.sample_rate, self.settings.max_seconds)
        if isinstance(x, bytes | bytearray | memoryview):
            self._check_length(io.BytesIO(bytes(x)), source)
            return decode_audio(bytes(x), self.sample_rate, source, self.settings.max_seconds)
        if isinstance(x, Audio):
            return self._from_array(x.waveform, x.sample_rate, source)
        if isinstance(x, tuple) and len(x) == 2 and isinstance(x[0], np.ndarray):
            return self._from_array(x[0], x[1], source)
        if isinstance(x, np.ndarray):
            return self._from_array(x, self.sample_rate, source)
        raise InvalidInput(
            f"cannot read audio from {source}; pass a file path, encoded bytes, a 1-D float "
            "numpy array at the model's rate, or (array, sample_rate)"
        )

    def _check_length(self, file: Path | io.BytesIO, source: str) -> None:
        try:
            info = soundfile.info(file)
        except (soundfile.LibsndfileError, RuntimeError, OSError) as exc:
            raise InvalidInput(
                f"{source}: not a readable audio file ({exc}); expected WAV, FLAC or OGG"
            ) from exc
        check_sample_rate(info.samplerate, source)
        if info.duration > self.settings.max_seconds:
            raise InvalidInput(
                f"{source}: the recording lasts {info.duration:.0f} s, more than the limit of "
                f"{self.settings.max_seconds:g} s; cut it first"
            )

    def _from_array(self, array: np.ndarray, rate: Any, source: str) -> np.ndarray:
        rate = check_sample_rate(rate, source)
        if array.ndim != 1:
            raise InvalidInput(
                f"{source}: an audio array must be 1-D mono, got shape {tuple(array.shape)}; "
                "downmix with array.mean(axis=1)"
            )
        if array.dtype == np.int16:
            array = array.astype(np.float32) / 32768.0
        elif array.dtype.kind != "f":
            raise InvalidInput(f"{source}: audio samples must be float or int16, got {array.dtype}")
        with np.errstate(over="ignore"):  # float64 beyond float32's range becomes inf below
            array = array.astype(np.float32, copy=False)
        if array.size == 0 or not np.all(np.isfinite(array)):
            raise InvalidInput(f"{source}: the audio array is empty or holds NaN/inf")
        if array.size / rate > self.settings.max_seconds:
            raise InvalidInput(
                f"{source}: {array.size / rate:.0f} s of audio is more than the limit of "
                f"{self.settings.max_seconds:g} s"
            )
        return resample(array, rate, self.sample_rate)

    def __call__(self, x: Any) -> Prepared:
        source = describe(x)
        waveform = self.load(x)
        rate, settings = self.sample_rate, self.settings
        mask = speech_mask(waveform, rate, settings)
        speech = trimmed(waveform, mask, self.trim)
        duration, speech_seconds = waveform.size / rate, int(mask.sum()) / rate
        if speech_seconds < settings.min_speech_seconds:
            raise NoSpeechFound(
                f"{source}: {speech_seconds:.2f} s of speech found in {duration:.2f} s, fewer "
                f"than the {settings.min_speech_seconds:g} s needed; record more speech"
            )
        parts = windows(speech, rate, settings)
        notes = []
        if len(parts) > 1:
            notes.append(
                f"{speech_seconds:.1f} s of speech embedded as the average of {len(parts)} "
                f"windows of {settings.window_seconds:g} s"
            )
        quality = {
            "duration_seconds": round(duration, 3),
            "speech_seconds": round(speech_seconds, 3),
            "windows": len(parts),
        }
        return Prepared(parts, quality, notes, source)


__all__ = [
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "Audio",
    "VoicePreprocessor",
    "VoiceSettings",
    "check_sample_rate",
    "speech_mask",
    "windows",
]
