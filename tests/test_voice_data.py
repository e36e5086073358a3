"""Voice dataset: chunk lengths, repetition of short clips, resampling, augmentation, cache."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
import torchaudio.functional as AF

from bioverify.datasets.inventory import Sample
from bioverify.errors import DataError, InvalidInput
from bioverify.training.batches import Unreadable
from bioverify.training.voice_data import (
    VoiceAugmentation,
    VoiceDataset,
    pink_noise,
    repeat_to_length,
)

RATE = 4000  # a low rate keeps every sample of a 12 s ramp distinct in 16 bits
LABELS = {"s1": 0, "s2": 1}


def _clip(path: Path, samples: np.ndarray, rate: int = RATE) -> Sample:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, rate, subtype="PCM_16")
    return Sample(path, path.parent.name, "voices")


def _ramp(n: int) -> np.ndarray:
    """16-bit samples -32000, -31999, … so a sample's value gives its position."""
    assert n <= 64000
    return (np.arange(n) - 32000).astype(np.int16)


def _decoded(pcm: np.ndarray) -> np.ndarray:
    """What a 16-bit recording decodes to (libsndfile scales by 1 / 32768)."""
    return pcm.astype(np.float32) / 32768


def test_training_chunk_is_a_window_of_the_recording(tmp_path: Path) -> None:
    sample = _clip(tmp_path / "s1" / "long.wav", _ramp(3 * RATE))
    dataset = VoiceDataset(
        [sample], LABELS, sample_rate=RATE, chunk_seconds=1.0, train=True, augment=False
    )
    full = torch.from_numpy(_decoded(_ramp(3 * RATE)))
    torch.manual_seed(0)
    starts = set()
    for _ in range(5):
        chunk, label = dataset[0]
        assert chunk.dtype == torch.float32 and chunk.shape == (RATE,) and label == 0
        start = round(float(chunk[0]) * 32768) + 32000
        assert torch.equal(chunk, full[start : start + RATE])
        starts.add(start)
    assert len(starts) > 1  # random windows


def test_short_clip_is_repeated_to_fill_the_chunk(tmp_path: Path) -> None:
    clip = _ramp(RATE // 2 + 100)
    sample = _clip(tmp_path / "s1" / "short.wav", clip)
    dataset = VoiceDataset(
        [sample], LABELS, sample_rate=RATE, chunk_seconds=2.0, train=True, augment=False
    )
    chunk, _ = dataset[0]
    expected = np.tile(_decoded(clip), 4)[: 2 * RATE]
    np.testing.assert_array_equal(chunk.numpy(), expected)


def test_eval_modes(tmp_path: Path) -> None:
    long = _clip(tmp_path / "s1" / "long.wav", _ramp(12 * RATE))
    short = _clip(tmp_path / "s2" / "short.wav", _ramp(RATE))
    full = VoiceDataset([long, short], LABELS, RATE, train=False, max_eval_seconds=10.0)
    capped, _ = full[0]
    assert capped.shape == (10 * RATE,)
    np.testing.assert_array_equal(capped.numpy(), _decoded(_ramp(12 * RATE))[RATE : 11 * RATE])
    whole, label = full[1]
    assert whole.shape == (RATE,) and label == 1
    chunked = VoiceDataset(
        [long, short], LABELS, RATE, chunk_seconds=2, train=False, eval_mode="chunk"
    )
    centre, _ = chunked[0]
    np.testing.assert_array_equal(centre.numpy(), _decoded(_ramp(12 * RATE))[5 * RATE : 7 * RATE])
    padded, _ = chunked[1]
    np.testing.assert_array_equal(padded.numpy(), np.tile(_decoded(_ramp(RATE)), 2))


@pytest.mark.parametrize("rate", [8000, 44100])
def test_recordings_are_resampled(tmp_path: Path, rate: int) -> None:
    t = np.arange(rate) / rate
    sample = _clip(tmp_path / "s1" / "a.wav", 0.5 * np.sin(2 * np.pi * 300 * t), rate)
    dataset = VoiceDataset([sample], LABELS, sample_rate=16000, train=False)
    waveform, _ = dataset[0]
    assert waveform.shape == (16000,)
    source = torch.from_numpy(0.5 * np.sin(2 * np.pi * 300 * t)).float()
    reference = AF.resample(source, rate, 16000)  # an independent resampler
    middle = slice(1000, -1000)
    assert torch.allclose(waveform[middle], reference[middle], atol=2e-3)


def test_noise_is_added_at_the_requested_snr(tmp_path: Path) -> None:
    t = np.arange(2 * RATE) / RATE
    sample = _clip(tmp_path / "s1" / "tone.wav", 0.3 * np.sin(2 * np.pi * 200 * t))
    augmentation = VoiceAugmentation(noise_probability=1.0, snr_db=(10.0, 10.0), gain_db=0.0)
    clean = VoiceDataset([sample], LABELS, train=False, eval_mode="chunk")[0][0]
    noisy = VoiceDataset(
        [sample], LABELS, train=False, eval_mode="chunk", augment=True, augmentation=augmentation
    )
    torch.manual_seed(0)
    for _ in range(4):
        waveform = noisy[0][0]
        noise = waveform - clean
        snr = 10 * torch.log10(clean.pow(2).sum() / noise.pow(2).sum())
        assert abs(float(snr) - 10.0) < 0.05


def test_gain_stays_within_bounds(tmp_path: Path) -> None:
    sample = _clip(tmp_path / "s1" / "dc.wav", np.full(RATE, 0.25, np.float32))
    augmentation = VoiceAugmentation(noise_probability=0.0, gain_db=6.0)
    dataset = VoiceDataset(
        [sample], LABELS, train=False, eval_mode="chunk", augment=True, augmentation=augmentation
    )
    torch.manual_seed(1)
    levels = [float(dataset[0][0][0]) for _ in range(30)]
    gains = 20 * np.log10(np.array(levels) / 0.25)
    assert gains.min() >= -6.0 - 1e-4 and gains.max() <= 6.0 + 1e-4
    assert gains.max() - gains.min() > 3.0


def test_speed_perturbation_keeps_the_chunk_length(tmp_path: Path) -> None:
    sample = _clip(tmp_path / "s1" / "a.wav", _ramp(RATE))
    augmentation = VoiceAugmentation(noise_probability=0.0, gain_db=0.0, speed_factors=(0.9, 1.1))
    dataset = VoiceDataset([sample], LABELS, RATE, chunk_seconds=1.5, augmentation=augmentation)
    torch.manual_seed(0)
    for _ in range(6):
        chunk, _ = dataset[0]
        assert chunk.shape == (6000,)
    # at double speed a 16-bit ramp climbs two steps per sample instead of one
    fast = VoiceAugmentation(noise_probability=0.0, gain_db=0.0, speed_factors=(2.0,))
    long = _clip(tmp_path / "s1" / "b.wav", _ramp(4 * RATE))
    chunk, _ = VoiceDataset([long], LABELS, RATE, chunk_seconds=1.0, augmentation=fast)[0]
    steps = np.diff(chunk.numpy()) * 32768
    assert abs(np.median(steps) - 2.0) < 0.01


def test_cache_is_exact_for_16_bit_sources(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pcm = rng.integers(-32768, 32768, RATE, dtype=np.int16)
    sample = _clip(tmp_path / "s1" / "r.flac", pcm)
    cached = VoiceDataset([sample], LABELS, RATE, train=False, cache=True)
    uncached = VoiceDataset([sample], LABELS, RATE, train=False, cache=False)
    decoded = uncached[0][0]
    np.testing.assert_array_equal(decoded.numpy(), _decoded(pcm))
    assert cached.preload(progress=False) == []
    sample.path.unlink()  # the cached dataset serves it from memory now
    assert torch.equal(cached[0][0], decoded)
    assert isinstance(uncached[0], Unreadable)


def test_unreadable_recording_is_reported(tmp_path: Path) -> None:
    good = _clip(tmp_path / "s1" / "good.wav", _ramp(RATE))
    bad_path = tmp_path / "s2" / "bad.wav"
    bad_path.parent.mkdir()
    bad_path.write_bytes(b"RIFF junk")
    bad = Sample(bad_path, "s2", "voices")
    dataset = VoiceDataset([good, bad], LABELS, train=True)
    [reported] = dataset.preload(progress=False)
    assert reported.path == str(bad_path) and "not a readable audio file" in reported.reason
    assert isinstance(dataset[1], Unreadable)
    assert dataset.labels == [0, 1]


def test_bad_arguments(tmp_path: Path) -> None:
    sample = _clip(tmp_path / "s1" / "a.wav", _ramp(100))
    with pytest.raises(DataError, match="no label"):
        VoiceDataset([sample], {"s2": 0})
    with pytest.raises(InvalidInput, match="eval_mode"):
        VoiceDataset([sample], LABELS, eval_mode="middle")
    with pytest.raises(InvalidInput, match="snr_db"):
        VoiceAugmentation(snr_db=(20.0, 5.0))


def test_pink_noise_spectrum_falls_as_one_over_f() -> None:
    torch.manual_seed(0)
    noise = pink_noise(2**16)
    assert abs(float(noise.std()) - 1.0) < 1e-4
    power = torch.fft.rfft(noise).abs().pow(2).numpy()
    frequencies = np.arange(power.shape[0])
    bands = np.logspace(1, np.log10(frequencies[-1]), 12).astype(int)
    band_power = [power[lo:hi].mean() for lo, hi in itertools.pairwise(bands)]
    centres = np.sqrt(bands[:-1] * bands[1:])
    slope = np.polyfit(np.log10(centres), np.log10(band_power), 1)[0]
    assert -1.15 < slope < -0.85


def test_repeat_to_length() -> None:
    assert repeat_to_length(torch.tensor([1.0, 2.0, 3.0]), 7).tolist() == [1, 2, 3, 1, 2, 3, 1]
    assert repeat_to_length(torch.tensor([1.0, 2.0, 3.0]), 2).tolist() == [1, 2]


def test_trim_cuts_what_the_runtime_cuts(tmp_path: Path) -> None:
    from bioverify.verify.voice_input import VoiceSettings, speech_mask, trimmed

    t = np.arange(RATE) / RATE
    tone = (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16)
    silence = np.zeros(RATE, np.int16)
    pcm = np.concatenate([silence, tone, silence, tone, silence])
    sample = _clip(tmp_path / "s1" / "pauses.wav", pcm)
    audio = _decoded(pcm)
    mask = speech_mask(audio, RATE, VoiceSettings())
    for trim in ("none", "ends", "all"):
        dataset = VoiceDataset(
            [sample], LABELS, sample_rate=RATE, train=False, max_eval_seconds=10.0, trim=trim
        )
        waveform, _ = dataset[0]
        np.testing.assert_allclose(waveform.numpy(), trimmed(audio, mask, trim), atol=1 / 32768)
    assert len(dataset[0][0]) < 3 * RATE  # "all": the pauses are gone
    silent = _clip(tmp_path / "s2" / "silent.wav", np.zeros(RATE, np.int16))
    kept, _ = VoiceDataset([silent], LABELS, sample_rate=RATE, train=False, trim="all")[0]
    assert len(kept) == RATE  # no speech at all: kept whole rather than emptied
    with pytest.raises(InvalidInput, match="trim must be one of"):
        VoiceDataset([sample], LABELS, sample_rate=RATE, trim="middle")
