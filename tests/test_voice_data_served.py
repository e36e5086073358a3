"""Voice dataset items of a model served in partial windows (``partials``, ``target_dbfs``):
training windows and validation windows are what the runtime feeds the model, and the
validation embedding is the runtime's mean of window embeddings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile
import torch
from torch.nn import functional as F

from bioverify.datasets.inventory import Sample
from bioverify.errors import InvalidInput
from bioverify.training.models import build_encoder
from bioverify.training.validation import embed_batch
from bioverify.training.voice_data import VoiceAugmentation, VoiceDataset
from bioverify.verify.voice_input import PartialWindows, raise_level

RATE = 4000
LABELS = {"s1": 0}
#: a small window at 4 kHz: frames 40 samples apart (a 400-sample span), 20 samples of
#: context: 400 samples per input
PARTIALS = PartialWindows(frames=10, hop_length=40, context=20, rate=20.0)
TARGET = -30.0


def _clip(path: Path, audio: np.ndarray) -> Sample:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, audio, RATE, subtype="FLOAT")
    return Sample(path, path.parent.name, "voices")


def _tone(n: int, amplitude: float) -> np.ndarray:
    t = np.arange(n) / RATE
    noise = np.random.default_rng(n).normal(0, 0.1 * amplitude, n)
    return (amplitude * np.sin(2 * np.pi * 310 * t) + noise).astype(np.float32)


def _served(sample: Sample, train: bool, **settings: object) -> VoiceDataset:
    options: dict[str, object] = {"partials": PARTIALS, "target_dbfs": TARGET, "augment": False}
    options["cache"] = False  # exact float samples (the cache holds int16)
    return VoiceDataset([sample], LABELS, RATE, train=train, **(options | settings))  # type: ignore[arg-type]


def _rms_dbfs(x: np.ndarray) -> float:
    return float(20 * np.log10(np.sqrt(np.mean(x.astype(np.float64) ** 2))))


def test_short_clip_is_zero_filled_to_one_window_as_served(tmp_path: Path) -> None:
    clip = _tone(250, 0.3)  # louder than -30 dBFS: left as it is
    window, label = _served(_clip(tmp_path / "s1" / "short.wav", clip), train=True)[0]
    assert label == 0 and window.shape == (PARTIALS.window_samples,)
    expected = np.zeros(PARTIALS.window_samples, np.float32)
    expected[20:270] = clip
    np.testing.assert_array_equal(window.numpy(), expected)
    np.testing.assert_array_equal(window.numpy(), PARTIALS.windows(clip, RATE)[0])


def test_short_clip_is_repeated_with_loop_fill(tmp_path: Path) -> None:
    clip = _tone(250, 0.3)
    looped = PartialWindows(frames=10, hop_length=40, context=20, rate=20.0, fill="loop")
    sample = _clip(tmp_path / "s1" / "short.wav", clip)
    window, _ = _served(sample, train=True, partials=looped)[0]
    np.testing.assert_array_equal(window.numpy(), looped.windows(clip, RATE)[0])
    np.testing.assert_array_equal(window.numpy()[20:], np.resize(clip, 400)[:380])


def test_quiet_recording_is_raised_then_one_random_window_is_cut(tmp_path: Path) -> None:
    clip = _tone(3 * RATE, 0.001)  # about -63 dBFS
    raised = raise_level(clip, TARGET)
    assert abs(_rms_dbfs(raised) - TARGET) < 0.01
    dataset = _served(_clip(tmp_path / "s1" / "quiet.wav", clip), train=True)
    candidates = PARTIALS.read(raised, range(clip.size - PARTIALS.span + 1))
    torch.manual_seed(0)
    offsets = set()
    for _ in range(6):
        window = dataset[0][0].numpy()
        (found,) = np.flatnonzero(np.all(candidates == window, axis=1))
        offsets.add(int(found))
    assert len(offsets) > 1  # random offsets, any sample, each a window of the raised clip


def test_gain_augmentation_comes_before_the_level_is_raised(tmp_path: Path) -> None:
    """A gain that leaves the recording under -30 dBFS is undone, as at run time."""
    clip = _tone(250, 0.003)
    sample = _clip(tmp_path / "s1" / "quiet.wav", clip)
    gain_only = VoiceAugmentation(noise_probability=0.0, gain_db=6.0)
    dataset = _served(sample, train=True, augment=True, augmentation=gain_only)
    torch.manual_seed(0)
    for _ in range(3):
        window = dataset[0][0].numpy()
        assert abs(_rms_dbfs(window[20:270]) - TARGET) < 0.01


def test_validation_item_holds_every_window_of_the_raised_recording(tmp_path: Path) -> None:
    clip = _tone(RATE, 0.001)
    sample = _clip(tmp_path / "s1" / "quiet.wav", clip)
    windows, _ = _served(sample, train=False, max_eval_seconds=0.1)[0]
    expected = PARTIALS.windows(raise_level(clip, TARGET), RATE)
    assert windows.shape == expected.shape and expected.shape[0] > 1
    np.testing.assert_array_equal(windows.numpy(), expected)  # the whole recording


def test_validation_embedding_is_the_mean_of_window_embeddings(tmp_path: Path) -> None:
    torch.manual_seed(0)
    frontend = {"type": "mel_spectrogram", "sample_rate": RATE, "n_fft": 40, "hop_length": 40}
    frontend |= {"n_mels": 8, "f_max": RATE / 2, "center": False}
    encoder = build_encoder("voice", "ge2e_lstm", 8, frontend=frontend, hidden=16, layers=2)
    encoder.eval()
    noise = np.random.default_rng(1).normal(0, 0.2, RATE // 2).astype(np.float32)
    clip = np.concatenate([_tone(RATE // 2, 0.2), noise])  # windows that differ
    windows, _ = _served(_clip(tmp_path / "s1" / "a.wav", clip), train=False)[0]
    with torch.no_grad():
        (embedding,) = embed_batch(encoder, windows[None], windowed=True)
        each = encoder(windows)
        assert torch.allclose(embedding, F.normalize(each.mean(dim=0), dim=0), atol=1e-6)
        assert not torch.allclose(embedding, each[0], atol=1e-5)  # the windows differ
        plain = torch.stack([windows[0], windows[1]])
        assert torch.equal(embed_batch(encoder, plain, windowed=False), encoder(plain))


def test_target_dbfs_needs_partials(tmp_path: Path) -> None:
    sample = _clip(tmp_path / "s1" / "a.wav", _tone(100, 0.1))
    with pytest.raises(InvalidInput, match="target_dbfs"):
        VoiceDataset([sample], LABELS, RATE, target_dbfs=TARGET)
