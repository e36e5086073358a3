"""In-graph front-ends: the log-mel front-end against torchaudio and scipy, CMN, frame
count, the face input layout and config round trips. (ONNX export of whole encoders, front-end
included, is tested in test_models.py.)"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torchaudio
from scipy.signal import lfilter

from bioverify.errors import InvalidInput
from bioverify.training.frontends import (
    FaceInput,
    LogMelFbank,
    MelSpectrogram,
    frontend_from_config,
)

WINDOW_FUNCTIONS = {"hann": torch.hann_window, "hamming": torch.hamming_window}


pytestmark = pytest.mark.usefixtures("one_torch_thread")  # conftest.py


def _speechlike(batch: int, samples: int, seed: int = 0) -> torch.Tensor:
    """Noise plus a few tones, in [-1, 1]."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / 16000
    tones = sum(0.2 * torch.sin(2 * torch.pi * f * t) for f in (220.0, 1250.0, 3100.0))
    return (0.05 * torch.randn(batch, samples, generator=generator) + tones).clamp(-1, 1)


def _oracle(frontend: LogMelFbank, waveform: torch.Tensor) -> torch.Tensor:
    """torchaudio's MelSpectrogram with the front-end's settings, in float64."""
    c = frontend.config()
    transform = torchaudio.transforms.MelSpectrogram(
        sample_rate=c["sample_rate"],
        n_fft=c["n_fft"],
        win_length=c["win_length"],
        hop_length=c["hop_length"],
        f_min=c["f_min"],
        f_max=c["f_max"],
        n_mels=c["n_mels"],
        window_fn=WINDOW_FUNCTIONS[c["window"]],
        power=2.0,
        center=True,
        pad_mode="reflect",
        norm=c["mel_norm"],
        mel_scale=c["mel_scale"],
    ).double()
    return transform(waveform.double())


def _assert_mel_close(ours: torch.Tensor, reference: torch.Tensor) -> None:
    assert ours.dtype == torch.float32
    torch.testing.assert_close(
        ours.double(), reference, rtol=1e-4, atol=1e-6 * float(reference.max())
    )


@pytest.mark.parametrize(
    ("settings", "samples"),
    [
        ({"window": "hamming"}, 16000),
        ({"window": "hann"}, 16079),  # not a multiple of the hop
        (
            {"n_fft": 400, "n_mels": 40, "f_min": 0.0, "f_max": 8000.0, "window": "hann"},
            12345,
        ),
        ({"n_mels": 64, "mel_scale": "slaney", "mel_norm": "slaney", "win_length": 399}, 8000),
    ],
)
def test_power_mel_matches_torchaudio(settings: dict, samples: int) -> None:
    frontend = LogMelFbank(preemphasis=None, **settings)
    waveform = _speechlike(3, samples)
    _assert_mel_close(frontend.power_mel(waveform), _oracle(frontend, waveform))


def test_preemphasis_is_the_first_order_filter_before_framing() -> None:
    frontend = LogMelFbank(preemphasis=0.97)
    waveform = _speechlike(2, 16000, seed=1)
    filtered = torch.from_numpy(lfilter([1.0, -0.97], [1.0], waveform.double().numpy()))
    _assert_mel_close(frontend.power_mel(waveform), _oracle(frontend, filtered))


def test_forward_is_log_mel_minus_its_mean_over_time() -> None:
    frontend = LogMelFbank(preemphasis=None)
    waveform = _speechlike(2, 24000, seed=2)
    features = frontend(waveform)
    log_mel = torch.log(_oracle(frontend, waveform) + 1e-6)
    expected = log_mel - log_mel.mean(dim=-1, keepdim=True)
    torch.testing.assert_close(features.double(), expected, rtol=0, atol=1e-4)
    # cepstral mean normalisation: every utterance and band has zero mean over frames
    torch.testing.assert_close(
        features.mean(dim=-1), torch.zeros(2, frontend.n_mels), rtol=0, atol=1e-5
    )


def test_features_stay_float32_under_mixed_precision_autocast() -> None:
    # bfloat16 rounding of the waveform and DFT kernels moves quiet bands by ~1 (in log)
    frontend = LogMelFbank()
    waveform = _speechlike(2, 16000, seed=5)
    expected = frontend(waveform)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        features = frontend(waveform)
    assert features.dtype == torch.float32
    torch.testing.assert_close(features, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize("samples", [201, 16000, 16159, 16160, 48000])
def test_frame_count_is_one_plus_length_over_hop(samples: int) -> None:
    features = LogMelFbank()(_speechlike(1, samples))
    assert features.shape == (1, 80, 1 + samples // 160)
    assert torch.isfinite(features).all()


def test_face_input_is_channels_first_and_normalised() -> None:
    generator = torch.Generator().manual_seed(3)
    pixels = torch.randint(0, 256, (2, 5, 4, 3), dtype=torch.uint8, generator=generator)
    pixels[0, 0, 0] = torch.tensor([0, 255, 128], dtype=torch.uint8)
    out = FaceInput()(pixels)
    expected = (pixels.numpy().astype(np.float64).transpose(0, 3, 1, 2) - 127.5) / 128.0
    assert out.dtype == torch.float32 and out.shape == (2, 3, 5, 4)
    np.testing.assert_allclose(out.numpy(), expected, rtol=0, atol=1e-6)
    assert out[0, :, 0, 0].tolist() == [-127.5 / 128, 127.5 / 128, 0.5 / 128]


@pytest.mark.parametrize(
    "frontend",
    [
        FaceInput(mean=127.5, std=127.5),
        LogMelFbank(n_mels=40, window="hann", preemphasis=None, f_max=8000.0),
    ],
)
def test_config_is_json_and_rebuilds_the_same_frontend(frontend: FaceInput | LogMelFbank) -> None:
    config = json.loads(json.dumps(frontend.config()))
    rebuilt = frontend_from_config(config)
    assert type(rebuilt) is type(frontend) and rebuilt.config() == frontend.config()
    sample = (
        torch.randint(0, 256, (1, 8, 8, 3), dtype=torch.uint8)
        if isinstance(frontend, FaceInput)
        else _speechlike(1, 4000)
    )
    assert torch.equal(rebuilt(sample), frontend(sample))
    assert frontend.state_dict() == {}  # everything is derived from the config


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"type": "mfcc"}, "unknown front-end type"),
        ({"type": "log_mel_fbank", "nmels": 40}, "unknown log_mel_fbank front-end arguments"),
        ({"type": "log_mel_fbank", "window": "povey"}, "unknown window"),
        ({"type": "log_mel_fbank", "win_length": 600}, "win_length <= n_fft"),
        ({"type": "log_mel_fbank", "f_max": 9000.0}, "f_max <= sample_rate / 2"),
        ({"type": "log_mel_fbank", "preemphasis": 1.0}, "preemphasis"),
        ({"type": "log_mel_fbank", "mel_scale": "kaldi"}, "mel_scale"),
        ({"type": "face_input", "std": 0.0}, "std must be positive"),
    ],
)
def test_bad_configs_raise_invalid_input(config: dict, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        frontend_from_config(config)


@pytest.mark.parametrize("center", [True, False])
def test_mel_spectrogram_matches_torchaudio_with_librosas_defaults(center: bool) -> None:
    # librosa.feature.melspectrogram's defaults: periodic Hann, centred frames zero-padded,
    # Slaney mel scale and area normalisation, power 2, no logarithm
    frontend = MelSpectrogram(center=center)
    waveform = _speechlike(2, 16000 + 37)
    reference = torchaudio.transforms.MelSpectrogram(
        sample_rate=16000,
        n_fft=400,
        hop_length=160,
        n_mels=40,
        window_fn=torch.hann_window,
        power=2.0,
        center=True,
        pad_mode="constant",
        norm="slaney",
        mel_scale="slaney",
    ).double()(waveform.double())
    ours = frontend(waveform).double()
    if not center:  # the same frames once the caller adds the n_fft / 2 samples of context
        ours = frontend(torch.nn.functional.pad(waveform, (200, 200))).double()
    assert ours.shape == reference.shape == (2, 40, 1 + (16000 + 37) // 160)
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4 * float(reference.max()))
    assert frontend_from_config(json.loads(json.dumps(frontend.config()))).config() == (
        frontend.config()
    )


def test_mel_spectrogram_refuses_bad_settings() -> None:
    with pytest.raises(InvalidInput, match="f_max"):
        MelSpectrogram(f_max=9000.0)
    with pytest.raises(InvalidInput, match="mel_scale"):
        MelSpectrogram(mel_scale="bark")
