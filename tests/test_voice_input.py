"""Voice preprocessing: decoding, resampling, the energy VAD, windows of long recordings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

from bioverify.errors import InvalidInput, ModelError, NoSpeechFound
from bioverify.verify.voice_input import (
    Audio,
    PartialWindows,
    VoicePreprocessor,
    VoiceSettings,
    raise_level,
    snr_db,
    speech_mask,
    windows,
)

RATE = 16000


def _tone(seconds: float, rate: int, frequency: float = 440.0, level: float = 0.3) -> np.ndarray:
    t = np.arange(round(seconds * rate)) / rate
    return (level * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def test_8k_and_44k_stereo_files_are_resampled(tmp_path: Path) -> None:
    soundfile.write(tmp_path / "low.wav", _tone(1.5, 8000), 8000)
    stereo = np.stack([_tone(1.5, 44100), _tone(1.5, 44100, level=0.1)], axis=1)
    soundfile.write(tmp_path / "high.flac", stereo, 44100)
    soundfile.write(tmp_path / "c.ogg", _tone(1.5, RATE), RATE)
    pre = VoicePreprocessor(RATE)
    for name in ("low.wav", "high.flac", "c.ogg"):
        waveform = pre.load(tmp_path / name)
        assert waveform.dtype == np.float32 and abs(waveform.size - 1.5 * RATE) <= 2
    mixed = pre.load(tmp_path / "high.flac")
    assert np.abs(mixed).max() == pytest.approx(0.2, abs=0.01)  # the channel mean
    spectrum = np.abs(np.fft.rfft(pre.load(tmp_path / "low.wav")))
    assert np.argmax(spectrum) * RATE / (1.5 * RATE) == pytest.approx(440, abs=2)


def test_bytes_arrays_and_rates() -> None:
    pre = VoicePreprocessor(RATE)
    assert pre.load(_tone(1.0, RATE)).size == RATE  # a bare array is at the model's rate
    assert pre.load((_tone(1.0, 8000), 8000)).size == RATE
    assert pre.load(Audio(_tone(1.0, 48000), 48000)).size == RATE
    ints = (_tone(1.0, RATE) * 32767).astype(np.int16)
    assert np.abs(pre.load(ints)).max() == pytest.approx(0.3, abs=1e-3)
    with pytest.raises(InvalidInput, match="1-D"):
        pre.load(np.zeros((100, 2), np.float32))
    with pytest.raises(InvalidInput, match="NaN"):
        pre.load(np.full(100, np.nan, np.float32))
    with pytest.raises(InvalidInput, match="not a readable audio file"):
        pre.load(b"RIFF nonsense")


def test_bytes_of_a_file(tmp_path: Path) -> None:
    soundfile.write(tmp_path / "a.wav", _tone(1.0, 22050), 22050)
    prepared = VoicePreprocessor(RATE)((tmp_path / "a.wav").read_bytes())
    assert prepared.quality["duration_seconds"] == pytest.approx(1.0, abs=1e-3)
    assert prepared.source.startswith("<") and "bytes" in prepared.source


def test_silence_is_no_speech() -> None:
    pre = VoicePreprocessor(RATE)
    with pytest.raises(NoSpeechFound, match=r"0\.00 s of speech"):
        pre(np.zeros(3 * RATE, np.float32))
    quiet = np.random.default_rng(0).normal(0, 1e-4, 3 * RATE).astype(np.float32)  # -80 dBFS
    with pytest.raises(NoSpeechFound):
        pre(quiet)
    with pytest.raises(NoSpeechFound, match=r"fewer than the 0\.2 s"):
        pre(_tone(0.1, RATE))


def test_vad_measures_speech_and_trim_says_what_is_cut() -> None:
    silence = np.zeros(RATE, np.float32)
    burst = _tone(1.0, RATE)
    waveform = np.concatenate([silence, burst, silence, burst, silence])
    mask = speech_mask(waveform, RATE, VoiceSettings(hangover=0.1))
    kept = mask.sum() / RATE
    assert 2.0 <= kept <= 2.0 + 4 * 0.1 + 0.05  # the bursts plus the hangovers
    first, last = np.flatnonzero(mask)[[0, -1]]
    expected = {"none": waveform, "all": waveform[mask], "ends": waveform[first : last + 1]}
    for trim, model_input in expected.items():
        prepared = VoicePreprocessor(RATE, VoiceSettings(hangover=0.1, trim=trim))(waveform)
        assert prepared.quality["duration_seconds"] == pytest.approx(5.0)
        assert prepared.quality["speech_seconds"] == pytest.approx(kept, abs=1e-3)
        assert prepared.quality["windows"] == 1
        np.testing.assert_array_equal(prepared.arrays[0], model_input)
    # without a setting the bundle's trim applies (a bundle without one: "none")
    for trim, model_input in expected.items():
        prepared = VoicePreprocessor(RATE, VoiceSettings(hangover=0.1), trim=trim)(waveform)
        np.testing.assert_array_equal(prepared.arrays[0], model_input)
    assert VoicePreprocessor(RATE).trim == "none"
    with pytest.raises(InvalidInput, match="trim must be one of"):
        VoiceSettings(trim="middle")
    with pytest.raises(InvalidInput, match="trim must be one of"):
        VoicePreprocessor(RATE, trim="middle")


def test_long_recordings_are_windowed() -> None:
    settings = VoiceSettings(window_seconds=6.0, hop_seconds=3.0)
    parts = windows(np.arange(20 * RATE, dtype=np.float32), RATE, settings)
    starts = [int(p[0]) for p in parts]
    assert starts == [0, 3 * RATE, 6 * RATE, 9 * RATE, 12 * RATE, 14 * RATE]
    assert all(p.size == 6 * RATE for p in parts)
    assert windows(np.zeros(6 * RATE, np.float32), RATE, settings)[0].size == 6 * RATE
    prepared = VoicePreprocessor(RATE, settings)(_tone(20.0, RATE))
    assert prepared.quality["windows"] == 6
    assert "average of 6 windows" in prepared.notes[0]


def test_too_long_recordings_are_refused(tmp_path: Path) -> None:
    pre = VoicePreprocessor(RATE, VoiceSettings(max_seconds=2.0))
    soundfile.write(tmp_path / "long.wav", _tone(3.0, 8000), 8000)
    with pytest.raises(InvalidInput, match="more than the limit"):
        pre(tmp_path / "long.wav")
    with pytest.raises(InvalidInput, match="more than the limit"):
        pre(_tone(3.0, RATE))
    with pytest.raises(InvalidInput, match="hop_seconds"):
        VoiceSettings(window_seconds=2.0, hop_seconds=3.0)


@pytest.mark.parametrize(
    ("seconds", "starts"),
    [
        # Resemblyzer's compute_partial_slices(rate=1.3, min_coverage=0.75): frame step 77
        (1.0, [0]),
        (1.6, [0]),
        (3.0, [0, 77, 154]),
        (2.5, [0, 77]),  # a third window would cover 0.40 of itself: dropped
        (4.0, [0, 77, 154, 231]),
    ],
)
def test_partial_windows_follow_resemblyzers_slices(seconds: float, starts: list[int]) -> None:
    partials = PartialWindows()
    assert partials.starts(round(seconds * RATE), RATE) == starts
    waveform = np.arange(1, round(seconds * RATE) + 1, dtype=np.float32)
    parts = partials.windows(waveform, RATE)
    assert parts.shape == (len(starts), 25840)
    for part, start in zip(parts, starts, strict=True):
        # context: the 200 samples before the window's first frame centre, zeros before 0
        first = start * 160 - 200
        expected = np.arange(first, first + 25840) + 1.0
        expected[(expected < 1) | (expected > waveform.size)] = 0.0
        np.testing.assert_array_equal(part, expected)


def test_short_clips_are_repeated_or_zero_filled() -> None:
    clip = np.arange(1, 8001, dtype=np.float32)  # 0.5 s
    (looped,) = PartialWindows(fill="loop").windows(clip, RATE)
    np.testing.assert_array_equal(looped[200:8200], clip)
    np.testing.assert_array_equal(looped[8200:16200], clip)
    (zeros,) = PartialWindows().windows(clip, RATE)
    assert not zeros[8200:].any()
    with pytest.raises(ModelError, match="fill must be one of"):
        PartialWindows(fill="mirror")
    with pytest.raises(ModelError, match="partials must be an object"):
        PartialWindows.from_dict({"frames": 160, "stride": 3})


def _word(seconds: float, noise: float = 0.001) -> np.ndarray:
    """A "word": a tone whose level rises and falls, in 0.3 s of quiet noise on each side."""
    rng = np.random.default_rng(0)
    tone = _tone(seconds, RATE) * np.hanning(round(seconds * RATE)).astype(np.float32)
    quiet = np.zeros(round(0.3 * RATE), np.float32)
    clip = np.concatenate([quiet, tone, quiet])
    return clip + rng.normal(0, noise, clip.size).astype(np.float32)


def test_a_single_short_word_is_accepted_with_its_quality() -> None:
    pre = VoicePreprocessor(RATE, partials=PartialWindows(), target_dbfs=-30.0)
    prepared = pre(_word(0.3))
    assert len(prepared.arrays) == 1 and prepared.arrays[0].shape == (25840,)
    assert 0.2 <= prepared.quality["speech_seconds"] <= 0.6
    assert prepared.quality["snr_db"] > 20
    assert "shorter than the model's 1.6 s window: zero-padded" in prepared.notes[0]
    with pytest.raises(NoSpeechFound, match=r"0\.00 s of speech"):
        pre(np.zeros(RATE, np.float32))


def test_steady_noise_gets_a_low_snr_note() -> None:
    noise = np.random.default_rng(1).normal(0, 0.1, 2 * RATE).astype(np.float32)
    prepared = VoicePreprocessor(RATE, partials=PartialWindows())(noise)
    assert prepared.quality["snr_db"] < 3
    assert any("may be noise" in note for note in prepared.notes)
    assert snr_db(noise, np.ones(noise.size, bool), RATE) < 3


def test_quiet_recordings_are_raised_and_loud_ones_left() -> None:
    quiet = _tone(1.0, RATE, level=0.001)
    raised = raise_level(quiet, -30.0)
    assert np.sqrt(np.mean(raised.astype(np.float64) ** 2)) == pytest.approx(10 ** (-1.5), 1e-4)
    loud = _tone(1.0, RATE, level=0.5)
    assert raise_level(loud, -30.0) is loud
