"""Torch dataset of voice recordings: fixed-length training chunks, torchaudio augmentation.

Each recording is decoded with :func:`bioverify.media.read_audio` (mono float32, resampled
to ``sample_rate``, as at runtime). What an item holds:

* training (``train=True``): a random ``chunk_seconds`` window; a shorter recording is
  repeated end to end until it fills the window;
* evaluation, ``eval_mode="full"``: the whole recording, or its central
  ``max_eval_seconds`` when longer (lengths differ: batch them one at a time);
* evaluation, ``eval_mode="chunk"``: the central ``chunk_seconds`` window (repeated if short).

With ``partials`` (a model served in :class:`~bioverify.verify.voice_input.PartialWindows`,
such as the converted GE2E encoder) an item is instead what the runtime feeds that model:
the recording's level is raised to ``target_dbfs`` when it is quieter
(:func:`~bioverify.verify.voice_input.raise_level`, when ``target_dbfs`` is set), then

* training: ONE window of ``partials.window_samples`` samples whose frames start at a
  random sample of the recording (:meth:`PartialWindows.filled` and
  :meth:`~PartialWindows.read`: a recording shorter than a window is filled as the runtime
  fills it — zeros after the clip, or the clip repeated with ``fill="loop"`` — and the
  context samples on both sides are the recording's own, zeros beyond its ends);
  ``chunk_seconds`` does not apply;
* evaluation: every window of the whole recording (:meth:`PartialWindows.windows`,
  ``float32 [W, window_samples]``; ``eval_mode`` and ``max_eval_seconds`` do not apply),
  whose embeddings validation averages as the runtime does.

The augmentation then acts on the whole recording before its level is raised: speed,
gain and noise model how the recording might have been captured, and the runtime raises
any capture quieter than ``target_dbfs``, so a gain that made it quieter is undone as it
would be at run time and the model sees what the runtime feeds it.

``trim`` cuts non-speech out of every decoded recording first, with the runtime's energy
VAD (:func:`bioverify.verify.voice_input.speech_mask` at its default settings and
:func:`~bioverify.verify.voice_input.trimmed`), so that a model is trained on what the
runtime will feed it; the export writes the setting into the bundle. A recording with less
than 0.1 s of speech is kept whole.

With ``augment`` (by default when training) a :class:`VoiceAugmentation` is applied to the
chunk: optional speed perturbation (:func:`torchaudio.functional.speed`, before chunking,
since it changes the length; it shifts pitch too and the label is kept, whereas some
recipes count perturbed copies as new speakers), a random gain, and white or pink noise at
a random SNR (:func:`torchaudio.functional.add_noise`); the result is clipped to [-1, 1].
Randomness comes from torch's global generator, which ``DataLoader`` seeds per worker.

Decoded audio can be cached in memory as int16 (about 115 MB per hour at 16 kHz). A cached
recording is returned as ``int16 / 32768``: exact for 16-bit sources at the target rate,
within 1/32768 otherwise. The cache lives in each process; call :meth:`VoiceDataset.preload`
before creating ``DataLoader`` workers so that they share the decoded audio instead of each
decoding its own copy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from math import ceil

import numpy as np
import torch
import torchaudio.functional as AF

from bioverify.bundle import VOICE_TRIM_MODES
from bioverify.datasets.inventory import Sample
from bioverify.errors import InvalidInput
from bioverify.media import read_audio
from bioverify.progress import progress_iter
from bioverify.training.batches import LabelledDataset, Unreadable
from bioverify.verify.voice_input import (
    PartialWindows,
    VoiceSettings,
    raise_level,
    speech_mask,
    trimmed,
)

EVAL_MODES = ("full", "chunk")
_INT16_SCALE = 32768.0

#: a recording trimmed to less than this (seconds) is kept whole instead
MIN_TRIMMED_SECONDS = 0.1


@dataclass(frozen=True)
class VoiceAugmentation:
    """Training augmentation settings.

    ``noise_probability``: chance of adding noise (white or pink, equally likely) at an SNR
    drawn uniformly from ``snr_db``; ``gain_db``: the gain is drawn uniformly from
    ±``gain_db``; ``speed_factors``: speed perturbation factors drawn uniformly, e.g.
    ``(0.9, 1.0, 1.1)``; empty disables it.
    """

    noise_probability: float = 0.8
    snr_db: tuple[float, float] = (5.0, 20.0)
    gain_db: float = 6.0
    speed_factors: tuple[float, ...] = ()

    def __post_init__(self) -> None:
        low, high = self.snr_db
        if not 0.0 <= self.noise_probability <= 1.0:
            raise InvalidInput(f"noise_probability must be in [0, 1], got {self.noise_probability}")
        if low > high:
            raise InvalidInput(f"snr_db must be (low, high) with low <= high, got {self.snr_db}")
        if self.gain_db < 0:
            raise InvalidInput(f"gain_db must be >= 0, got {self.gain_db}")
        if any(f <= 0 for f in self.speed_factors):
            raise InvalidInput(f"speed_factors must be positive, got {self.speed_factors}")


def pink_noise(length: int) -> torch.Tensor:
    """Noise with a 1/f power spectrum, unit variance, from torch's global generator."""
    spectrum = torch.fft.rfft(torch.randn(length))
    frequencies = torch.arange(spectrum.shape[0], dtype=torch.float32)
    frequencies[0] = 1.0
    noise = torch.fft.irfft(spectrum / frequencies.sqrt(), n=length)
    return noise / noise.std().clamp_min(1e-12)


def repeat_to_length(waveform: torch.Tensor, length: int) -> torch.Tensor:
    """``waveform`` repeated end to end and cut to exactly ``length`` samples."""
    repeats = ceil(length / waveform.shape[0])
    return waveform.repeat(repeats)[:length]


def _uniform(low: float, high: float) -> float:
    return low + (high - low) * float(torch.rand(()))


class VoiceDataset(LabelledDataset):
    """``(float32 tensor [T], label)`` per recording (``[W, T]`` windows when evaluating
    with ``partials``), or an :class:`Unreadable` (see
    :class:`~bioverify.training.batches.LabelledDataset`); the module docstring says what
    an item holds."""

    def __init__(
        self,
        samples: Sequence[Sample],
        label_map: Mapping[str, int],
        sample_rate: int = 16000,
        chunk_seconds: float = 2.0,
        train: bool = True,
        augment: bool | None = None,
        eval_mode: str = "full",
        max_eval_seconds: float = 10.0,
        augmentation: VoiceAugmentation | None = None,
        cache: bool = True,
        trim: str = "none",
        partials: PartialWindows | None = None,
        target_dbfs: float | None = None,
    ) -> None:
        if target_dbfs is not None and partials is None:
            raise InvalidInput("target_dbfs is only supported with partials (as served)")
        if eval_mode not in EVAL_MODES:
            raise InvalidInput(f"eval_mode must be one of {EVAL_MODES}, got {eval_mode!r}")
        if sample_rate <= 0 or chunk_seconds <= 0 or max_eval_seconds <= 0:
            raise InvalidInput(
                "sample_rate, chunk_seconds and max_eval_seconds must be positive, got "
                f"{sample_rate}, {chunk_seconds}, {max_eval_seconds}"
            )
        if trim not in VOICE_TRIM_MODES:
            raise InvalidInput(f"trim must be one of {VOICE_TRIM_MODES}, got {trim!r}")
        super().__init__(samples, label_map)
        self.trim = trim
        self.sample_rate = sample_rate
        self.chunk_length = round(chunk_seconds * sample_rate)
        self.max_eval_length = round(max_eval_seconds * sample_rate)
        self.train = train
        self.augment = train if augment is None else augment
        self.eval_mode = eval_mode
        self.augmentation = augmentation or VoiceAugmentation()
        self.cache = cache
        self.partials = partials
        self.target_dbfs = target_dbfs
        self._decoded: dict[int, np.ndarray] = {}
        self._unreadable: dict[int, str] = {}

    def preload(self, progress: bool = True) -> list[Unreadable]:
        """Decode every recording into the cache now; returns the ones that failed."""
        if not self.cache:
            raise InvalidInput("preload needs cache=True")
        for index in progress_iter(range(len(self)), "decoding audio", "file", enabled=progress):
            self._waveform(index)
        return [Unreadable(str(self.samples[i].path), r) for i, r in self._unreadable.items()]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int] | Unreadable:
        waveform = self._waveform(index)
        if waveform is None:
            return Unreadable(str(self.samples[index].path), self._unreadable[index])
        if self.partials is not None:
            return self._as_served(waveform, self.partials), self.labels[index]
        if self.train:
            waveform = self._training_chunk(waveform)
        elif self.eval_mode == "chunk":
            waveform = _centre(_at_least(waveform, self.chunk_length), self.chunk_length)
        else:
            waveform = _centre(waveform, self.max_eval_length)
        if self.augment:
            waveform = self._perturb(waveform)
        return waveform.contiguous(), self.labels[index]

    def _waveform(self, index: int) -> torch.Tensor | None:
        if index in self._unreadable:
            return None
        if index in self._decoded:
            return torch.from_numpy(self._decoded[index].astype(np.float32) / _INT16_SCALE)
        try:
            audio = read_audio(self.samples[index].path, self.sample_rate)
        except InvalidInput as exc:
            self._unreadable[index] = str(exc)
            return None
        audio = self._trimmed(audio)
        if not self.cache:
            return torch.from_numpy(audio)
        quantised = np.clip(np.round(audio * _INT16_SCALE), -32768, 32767).astype(np.int16)
        self._decoded[index] = quantised
        return torch.from_numpy(quantised.astype(np.float32) / _INT16_SCALE)

    def _trimmed(self, audio: np.ndarray) -> np.ndarray:
        if self.trim == "none":
            return audio
        mask = speech_mask(audio, self.sample_rate, VoiceSettings())
        kept = trimmed(audio, mask, self.trim)
        return kept if kept.size >= MIN_TRIMMED_SECONDS * self.sample_rate else audio

    def _as_served(self, waveform: torch.Tensor, partials: PartialWindows) -> torch.Tensor:
        """Augmented whole recording → level raised → one random window (training) or every
        window (evaluation), as the module docstring says."""
        if self.augment:
            waveform = self._perturb(self._speed(waveform, self._speed_factor()))
        audio = waveform.numpy()
        if self.target_dbfs is not None:
            audio = raise_level(audio, self.target_dbfs)
        if not self.train:
            return torch.from_numpy(partials.windows(audio, self.sample_rate))
        audio = partials.filled(audio)
        offset = int(torch.randint(max(0, audio.size - partials.span) + 1, ()))
        return torch.from_numpy(partials.read(audio, [offset])[0])

    def _training_chunk(self, waveform: torch.Tensor) -> torch.Tensor:
        factor = self._speed_factor() if self.augment else 1.0
        needed = ceil(self.chunk_length * factor)
        waveform = self._speed(_random_window(_at_least(waveform, needed), needed), factor)
        return repeat_to_length(waveform, self.chunk_length)

    def _speed_factor(self) -> float:
        factors = self.augmentation.speed_factors
        return factors[int(torch.randint(len(factors), ()))] if factors else 1.0

    def _speed(self, waveform: torch.Tensor, factor: float) -> torch.Tensor:
        if factor == 1.0:
            return waveform
        return AF.speed(waveform[None], self.sample_rate, factor)[0][0]

    def _perturb(self, waveform: torch.Tensor) -> torch.Tensor:
        settings = self.augmentation
        gain = _uniform(-settings.gain_db, settings.gain_db)
        waveform = waveform * 10.0 ** (gain / 20.0)
        if float(torch.rand(())) < settings.noise_probability:
            length = waveform.shape[0]
            noise = torch.randn(length) if float(torch.rand(())) < 0.5 else pink_noise(length)
            snr = torch.tensor([_uniform(*settings.snr_db)])
            waveform = AF.add_noise(waveform[None], noise[None], snr)[0]
        return waveform.clamp(-1.0, 1.0)


def _at_least(waveform: torch.Tensor, length: int) -> torch.Tensor:
    return waveform if waveform.shape[0] >= length else repeat_to_length(waveform, length)


def _centre(waveform: torch.Tensor, length: int) -> torch.Tensor:
    if waveform.shape[0] <= length:
        return waveform
    start = (waveform.shape[0] - length) // 2
    return waveform[start : start + length]


def _random_window(waveform: torch.Tensor, length: int) -> torch.Tensor:
    start = int(torch.randint(waveform.shape[0] - length + 1, ()))
    return waveform[start : start + length]


__all__ = [
    "EVAL_MODES",
    "VoiceAugmentation",
    "VoiceDataset",
    "pink_noise",
    "repeat_to_length",
]
