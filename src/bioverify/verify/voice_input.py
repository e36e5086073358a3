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
3. Fewer than ``min_speech_seconds`` (default 0.2 s) of speech: :class:`NoSpeechFound`.
4. With a bundle ``target_dbfs`` (Resemblyzer's -30), a recording quieter than that RMS
   level is raised to it (never lowered), as the model's training data was.
5. ``trim`` says what the VAD removes before the model
   (:data:`~bioverify.bundle.VOICE_TRIM_MODES`): by default what the model was trained
   with, as its bundle states (``preprocessing.trim``; ``"none"`` when absent). A mismatch
   costs accuracy: the default voice model, trained on untrimmed clips, had 11.9 % EER on
   the val speakers with ``"none"`` and 15.1 % with ``"all"`` (every non-speech frame cut)
   or ``"ends"`` (leading and trailing non-speech cut).
6. Up to ``window_seconds`` (default 6 s) is one model input; a longer recording is cut
   into windows of that length every ``hop_seconds`` (default 3 s, the last window ending
   at the end) whose embeddings the verifier averages. A bundle with ``partials``
   (:class:`PartialWindows`) is cut instead as Resemblyzer's ``embed_utterance`` cuts:
   windows of ``frames`` spectrogram frames (1.6 s), ``rate`` of them per second, the last
   one zero-padded if it covers ``min_coverage`` of a window, each handed to the model
   with the ``context`` samples its centred frames see on either side; all windows have
   the same length, so clips of any length are batched together. A clip shorter than one
   window is zero-padded (``fill="zeros"``, as Resemblyzer does) or repeated to fill it
   (``"loop"``, measured worse).

The result's quality values are ``duration_seconds``, ``speech_seconds``, ``windows`` and
``snr_db``, an estimate of the signal-to-noise ratio: the mean power of speech frames over
that of the non-speech frames (or of the quietest 10 % of frames when all are speech); under
:data:`LOW_SNR_DB` a note says the input may be noise (stationary noise has nothing to set
apart, so it scores about -20 dB).

A recording longer than ``max_seconds`` (default 600 s) is refused before decoding it (and
decoding stops there whatever the header claims), and one recorded at a sample rate outside
:data:`MIN_SAMPLE_RATE` … :data:`MAX_SAMPLE_RATE` is refused.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from bioverify.bundle import VOICE_TRIM_MODES
from bioverify.errors import InvalidInput, ModelError, NoSpeechFound
from bioverify.media import decode_audio, read_audio, resample
from bioverify.verify.image_input import describe
from bioverify.verify.result import Prepared

_FRAME_SECONDS = 0.02
#: below this estimated SNR (dB) the result carries a "may be noise" note
LOW_SNR_DB = 3.0
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

    min_speech_seconds: float = 0.2
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


def _frame_power(waveform: np.ndarray, sample_rate: int) -> tuple[np.ndarray, int]:
    """Mean power of each 20 ms frame (the last one zero-padded) and the frame length."""
    frame = max(1, round(_FRAME_SECONDS * sample_rate))
    n_frames = int(np.ceil(waveform.size / frame))
    padded = np.zeros(n_frames * frame, np.float32)
    padded[: waveform.size] = waveform
    return np.mean(padded.reshape(n_frames, frame).astype(np.float64) ** 2, axis=1), frame


def speech_mask(waveform: np.ndarray, sample_rate: int, settings: VoiceSettings) -> np.ndarray:
    """Boolean per sample: inside a speech frame (widened by the hangover)."""
    power, frame = _frame_power(waveform, sample_rate)
    level = 10.0 * np.log10(np.maximum(power, 1e-20))
    loud = float(np.percentile(level, 99))
    speech = (level > settings.floor_db) & (level > loud - settings.range_db)
    widen = round(settings.hangover / _FRAME_SECONDS)
    if widen and speech.any():
        kernel = np.ones(2 * widen + 1)
        speech = np.convolve(speech.astype(np.float64), kernel, mode="same") > 0
    return np.repeat(speech, frame)[: waveform.size]


def snr_db(waveform: np.ndarray, mask: np.ndarray, sample_rate: int) -> float:
    """Estimated signal-to-noise ratio (dB) of a recording whose speech samples ``mask``
    marks: mean speech-frame power over the mean power of the non-speech frames (or of the
    quietest 10 % of frames when every frame is speech), the noise subtracted from the
    speech power; within [-20, 100] dB.

    Examples
    --------
    >>> t = np.arange(16000) / 16000
    >>> x = np.where(t > 0.5, np.sin(2 * np.pi * 200 * t), 0.0).astype(np.float32)
    >>> x += np.random.default_rng(0).normal(0, 0.01, x.size).astype(np.float32)
    >>> round(snr_db(x, t > 0.5, 16000))
    37
    """
    power, frame = _frame_power(waveform, sample_rate)
    flags = np.zeros(power.size * frame, bool)
    flags[: mask.size] = mask
    speech = flags.reshape(power.size, frame).any(axis=1)
    if speech.all() or not speech.any():
        noise = float(np.mean(np.sort(power)[: max(1, power.size // 10)]))
    else:
        noise = float(np.mean(power[~speech]))
    signal = float(np.mean(power[speech])) if speech.any() else noise
    ratio = max(signal - noise, 1e-20) / max(noise, 1e-20)
    return float(np.clip(10.0 * np.log10(ratio), -20.0, 100.0))


def raise_level(waveform: np.ndarray, target_dbfs: float) -> np.ndarray:
    """``waveform`` scaled up to an RMS level of ``target_dbfs`` if it is quieter (as
    Resemblyzer's ``normalize_volume(increase_only=True)``); louder ones are returned as
    they are.

    Examples
    --------
    >>> x = np.full(100, 0.001, np.float32)
    >>> round(float(np.sqrt(np.mean(raise_level(x, -30.0) ** 2))), 4)
    0.0316
    """
    rms = float(np.sqrt(np.mean(waveform.astype(np.float64) ** 2)))
    if rms <= 0.0:
        return waveform
    gain = 10.0 ** (target_dbfs / 20.0) / rms
    return (waveform * np.float32(gain)).astype(np.float32) if gain > 1.0 else waveform


#: how :class:`PartialWindows` fills a clip shorter than one window: zeros (Resemblyzer's way
#: and the default: on the val speakers it gave 7.7 % EER against 9.2 % for repeating the
#: clip, and 17.9 % against 28.9 % on 0.3 s excerpts) or the clip repeated
FILL_MODES = ("zeros", "loop")


@dataclass(frozen=True)
class PartialWindows:
    """Resemblyzer's partial utterances (``VoiceEncoder.compute_partial_slices``): windows
    of ``frames`` spectrogram frames ``hop_length`` samples apart, ``rate`` windows per
    second, the last kept if it covers ``min_coverage`` of a window (always at least one);
    each model input adds ``context`` samples on both sides (half the FFT size: what the
    centred frames of the whole recording see). ``fill``: a clip shorter than one window
    is zero-padded (``"zeros"``) or repeated (``"loop"``) to fill it.

    Examples
    --------
    >>> partials = PartialWindows()
    >>> partials.window_samples
    25840
    >>> partials.windows(np.ones(3 * 16000, np.float32), 16000).shape
    (3, 25840)
    """

    frames: int = 160
    hop_length: int = 160
    context: int = 200
    rate: float = 1.3
    min_coverage: float = 0.75
    fill: str = "zeros"

    def __post_init__(self) -> None:
        if self.frames < 1 or self.hop_length < 1 or self.context < 0:
            raise ModelError("partials: frames and hop_length must be >= 1, context >= 0")
        if not 0 < self.min_coverage <= 1 or self.rate <= 0:
            raise ModelError("partials: need 0 < min_coverage <= 1 and rate > 0")
        if self.fill not in FILL_MODES:
            raise ModelError(f"partials: fill must be one of {FILL_MODES}, got {self.fill!r}")

    @classmethod
    def from_dict(cls, data: Any) -> PartialWindows:
        """From a bundle's ``preprocessing.partials``; :class:`ModelError` if malformed."""
        if not isinstance(data, dict) or set(data) - set(cls.__dataclass_fields__):
            raise ModelError(f"preprocessing.partials must be an object of {cls.__name__} fields")
        try:
            return cls(**data)
        except TypeError as exc:
            raise ModelError(f"preprocessing.partials: {exc}") from exc

    @property
    def window_samples(self) -> int:
        """Samples in one model input: ``(frames − 1) · hop_length + 2 · context``."""
        return (self.frames - 1) * self.hop_length + 2 * self.context

    @property
    def span(self) -> int:
        """Samples that a window's frames step over, ``frames · hop_length`` (1.6 s)."""
        return self.frames * self.hop_length

    def starts(self, n_samples: int, sample_rate: int) -> list[int]:
        """First frame of each window over ``n_samples`` samples (Resemblyzer's slices)."""
        n_frames = int(np.ceil((n_samples + 1) / self.hop_length))
        step = max(1, min(self.frames, round(sample_rate / self.rate / self.hop_length)))
        starts = list(range(0, max(1, n_frames - self.frames + step + 1), step))
        coverage = (n_samples - starts[-1] * self.hop_length) / self.span
        if coverage < self.min_coverage and len(starts) > 1:
            starts.pop()
        return starts

    def filled(self, waveform: np.ndarray) -> np.ndarray:
        """``waveform`` repeated to one :attr:`span` when shorter and ``fill`` is ``"loop"``;
        otherwise as it is (:meth:`read` pads it with zeros)."""
        if 0 < waveform.size < self.span and self.fill == "loop":
            return np.resize(waveform, self.span)
        return waveform

    def read(self, waveform: np.ndarray, offsets: Sequence[int]) -> np.ndarray:
        """``float32 [len(offsets), window_samples]``: the model inputs whose frames start at
        sample ``offsets`` of a :meth:`filled` ``waveform``, each with ``context`` samples on
        both sides (zeros beyond the recording)."""
        end = max(offsets) + self.window_samples
        padded = np.zeros(max(end, waveform.size + 2 * self.context), np.float32)
        padded[self.context : self.context + waveform.size] = waveform
        return np.stack([padded[offset : offset + self.window_samples] for offset in offsets])

    def windows(self, waveform: np.ndarray, sample_rate: int) -> np.ndarray:
        """``float32 [W, window_samples]``: the model inputs of ``waveform``."""
        waveform = self.filled(waveform)
        starts = self.starts(waveform.size, sample_rate)
        return self.read(waveform, [start * self.hop_length for start in starts])


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
    (its bundle's ``preprocessing.trim``) unless ``settings.trim`` overrides it;
    ``partials`` and ``target_dbfs`` are the bundle's (see the module docstring)."""

    def __init__(
        self,
        sample_rate: int,
        settings: VoiceSettings | None = None,
        trim: str = "none",
        partials: PartialWindows | None = None,
        target_dbfs: float | None = None,
    ) -> None:
        self.sample_rate = sample_rate
        self.settings = settings or VoiceSettings()
        self.trim = self.settings.trim or trim
        self.partials = partials
        self.target_dbfs = target_dbfs
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
        if self.target_dbfs is not None:
            speech = raise_level(speech, self.target_dbfs)
        notes = []
        if self.partials is not None:
            parts = list(self.partials.windows(speech, rate))
            span = self.partials.span / rate
            if speech.size / rate < span:
                how = "repeated" if self.partials.fill == "loop" else "zero-padded"
                notes.append(
                    f"{speech.size / rate:.2f} s of audio is shorter than the model's "
                    f"{span:g} s window: {how} to fill it"
                )
        else:
            parts = windows(speech, rate, settings)
            if len(parts) > 1:
                notes.append(
                    f"{speech_seconds:.1f} s of speech embedded as the average of {len(parts)} "
                    f"windows of {settings.window_seconds:g} s"
                )
        snr = round(snr_db(waveform, mask, rate), 1)
        if snr < LOW_SNR_DB:
            notes.append(
                f"estimated SNR {snr:g} dB: the level hardly rises above the background, so "
                "this may be noise rather than speech"
            )
        quality = {
            "duration_seconds": round(duration, 3),
            "speech_seconds": round(speech_seconds, 3),
            "windows": len(parts),
            "snr_db": snr,
        }
        return Prepared(parts, quality, notes, source)


__all__ = [
    "FILL_MODES",
    "LOW_SNR_DB",
    "MAX_SAMPLE_RATE",
    "MIN_SAMPLE_RATE",
    "Audio",
    "PartialWindows",
    "VoicePreprocessor",
    "VoiceSettings",
    "check_sample_rate",
    "raise_level",
    "snr_db",
    "speech_mask",
    "windows",
]
