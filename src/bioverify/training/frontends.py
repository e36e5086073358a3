"""In-graph front-ends: everything between the raw model input and the first learned layer.

They are ``nn.Module``\\ s whose constants are buffers, so an exported ONNX graph takes the
raw input (``uint8`` pixels, a ``float32`` waveform) and training and serving cannot
disagree about preprocessing. Every op exports with ``torch.onnx.export`` in both its
TorchScript (``dynamo=False``) and its ``torch.export`` (``dynamo=True``) form, with a
dynamic batch and (voice) a dynamic length; hence no ``torch.stft``.

Each front-end's :meth:`config` returns ``{"type": ..., **constructor arguments}`` in plain
types: :func:`frontend_from_config` rebuilds it, and the ONNX export writes it into the
model's metadata. Buffers are not persistent (they are not in ``state_dict``): the config
alone determines them.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

import torch
import torchaudio.functional as AF
from torch import nn
from torch.nn import functional as F

from bioverify.errors import InvalidInput

#: window functions :class:`LogMelFbank` accepts (periodic, as ``torch.stft`` users pass them)
WINDOWS = {"hann": torch.hann_window, "hamming": torch.hamming_window}


def _dft_and_mel(
    n_fft: int,
    win_length: int,
    window: str,
    sample_rate: int,
    n_mels: int,
    f_min: float,
    f_max: float,
    mel_scale: str,
    mel_norm: str | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Float32 conv1d kernels ``[2 · (n_fft // 2 + 1), 1, win_length]`` (window·cos, then
    window·sin, the periodic window centred in an ``n_fft`` frame, as ``torch.stft`` pads it)
    and mel filters ``[n_mels, n_fft // 2 + 1]``."""
    n_freqs = n_fft // 2 + 1
    samples = torch.arange(win_length, dtype=torch.float64) + (n_fft - win_length) // 2
    frequencies = torch.arange(n_freqs, dtype=torch.float64)
    phase = 2 * math.pi * torch.outer(frequencies, samples) / n_fft
    taper = WINDOWS[window](win_length, periodic=True, dtype=torch.float64)
    basis = torch.cat([torch.cos(phase) * taper, torch.sin(phase) * taper])
    mel = AF.melscale_fbanks(
        n_freqs, f_min, f_max, n_mels, sample_rate, norm=mel_norm, mel_scale=mel_scale
    )
    return basis.unsqueeze(1).to(torch.float32), mel.T.contiguous().to(torch.float32)


class FaceInput(nn.Module):
    """``uint8 [N, H, W, 3]`` RGB pixels → ``float32 [N, 3, H, W]`` as ``(x − mean) / std``.

    With the defaults, 0…255 maps to about −1…1 (insightface's convention). ``mean`` is one
    number or three (R, G, B; dlib's models use ``(122.782, 117.001, 104.298)`` with
    ``std=256``). The crop size is the backbone's business.

    Examples
    --------
    >>> import torch
    >>> FaceInput(mean=[100.0, 110.0, 120.0], std=10.0)(torch.full((1, 2, 2, 3), 120,
    ...     dtype=torch.uint8))[0, :, 0, 0].tolist()
    [2.0, 1.0, 0.0]
    """

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: float | list[float] | tuple[float, ...] = 127.5, std: float = 128.0):
        super().__init__()
        if not std > 0:
            raise InvalidInput(f"FaceInput std must be positive, got {std}")
        if isinstance(mean, list | tuple):
            if len(mean) != 3:
                raise InvalidInput(f"FaceInput mean must be one number or three, got {mean!r}")
            self.mean_value: float | list[float] = [float(m) for m in mean]
            mean_tensor = torch.tensor(self.mean_value).reshape(1, 3, 1, 1)
        else:
            self.mean_value = float(mean)
            mean_tensor = torch.tensor(self.mean_value)
        self.std_value = float(std)
        self.register_buffer("mean", mean_tensor, persistent=False)
        self.register_buffer("std", torch.tensor(self.std_value), persistent=False)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        """``pixels``: ``uint8 [N, H, W, 3]`` RGB → normalised ``float32 [N, 3, H, W]``."""
        return (pixels.permute(0, 3, 1, 2).to(torch.float32) - self.mean) / self.std

    def config(self) -> dict[str, Any]:
        """Type and constructor arguments, in plain types."""
        return {"type": "face_input", "mean": self.mean_value, "std": self.std_value}


class LogMelFbank(nn.Module):
    """Waveform ``float32 [N, T]`` (mono, ``sample_rate`` Hz, in [−1, 1]) → log-mel
    filterbank energies ``float32 [N, n_mels, 1 + T // hop_length]``, mean-normalised over
    time per utterance.

    Steps, all in the graph:

    1. optional pre-emphasis over the whole waveform, ``y[t] = x[t] − a·x[t−1]`` with
       ``y[0] = x[0]`` (``scipy.signal.lfilter([1, −a], [1], x)``);
    2. framing as ``torch.stft(center=True, pad_mode="reflect")``: frame ``i`` is centred
       on sample ``i·hop_length``, the waveform is reflect-padded at both ends, so there are
       ``1 + T // hop_length`` frames; reflection needs ``T`` longer than about
       ``win_length / 2`` samples (``T >= 201`` with the defaults);
    3. a periodic Hann or Hamming window of ``win_length`` samples, centred in an ``n_fft``
       frame (as ``torch.stft`` zero-pads it), times a real DFT of size ``n_fft``, computed
       as one strided ``conv1d`` whose kernels are ``window·cos`` and ``window·sin``; since
       the padded window is zero outside its ``win_length`` samples, the kernels are only
       ``win_length`` long and the padding is adjusted to match;
    4. power spectrum ``re² + im²`` and a mel filterbank from
       :func:`torchaudio.functional.melscale_fbanks` (``mel_scale``, ``mel_norm``), built
       at construction: :meth:`power_mel` returns this, equal to
       ``torchaudio.transforms.MelSpectrogram`` with the same settings and ``power=2``;
    5. ``log(mel + log_offset)``, minus its mean over frames (cepstral mean normalisation,
       per utterance and mel band).

    Inputs are not validated here (the runtime checks dtype, rank, rate and range before
    calling the model); values outside [−1, 1] are processed as they are.
    """

    dft_basis: torch.Tensor  # [2 · (n_fft // 2 + 1), 1, win_length]: window·cos, window·sin
    mel_filters: torch.Tensor  # [n_mels, n_fft // 2 + 1]
    preemphasis_kernel: torch.Tensor | None  # [1, 1, 2]: (−a, 1)

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        win_length: int = 400,
        hop_length: int = 160,
        n_mels: int = 80,
        f_min: float = 20.0,
        f_max: float = 7600.0,
        window: str = "hamming",
        preemphasis: float | None = 0.97,
        mel_scale: str = "htk",
        mel_norm: str | None = None,
        log_offset: float = 1e-6,
    ) -> None:
        super().__init__()
        if window not in WINDOWS:
            raise InvalidInput(f"unknown window {window!r}; choose one of {sorted(WINDOWS)}")
        if not 0 < win_length <= n_fft:
            raise InvalidInput(f"need 0 < win_length <= n_fft, got {win_length} and {n_fft}")
        if hop_length <= 0 or n_mels <= 0:
            raise InvalidInput(
                f"hop_length and n_mels must be positive, got {hop_length}, {n_mels}"
            )
        if not 0 <= f_min < f_max <= sample_rate / 2:
            raise InvalidInput(
                f"need 0 <= f_min < f_max <= sample_rate / 2, got {f_min}, {f_max}, {sample_rate}"
            )
        if preemphasis is not None and not 0 <= preemphasis < 1:
            raise InvalidInput(f"preemphasis must be in [0, 1) or None, got {preemphasis}")
        if mel_scale not in ("htk", "slaney") or mel_norm not in (None, "slaney"):
            raise InvalidInput(
                f"mel_scale must be 'htk' or 'slaney' and mel_norm None or 'slaney', "
                f"got {mel_scale!r}, {mel_norm!r}"
            )
        if log_offset <= 0:
            raise InvalidInput(f"log_offset must be positive, got {log_offset}")
        self._config: dict[str, Any] = {
            "type": "log_mel_fbank",
            "sample_rate": int(sample_rate),
            "n_fft": int(n_fft),
            "win_length": int(win_length),
            "hop_length": int(hop_length),
            "n_mels": int(n_mels),
            "f_min": float(f_min),
            "f_max": float(f_max),
            "window": window,
            "preemphasis": None if preemphasis is None else float(preemphasis),
            "mel_scale": mel_scale,
            "mel_norm": mel_norm,
            "log_offset": float(log_offset),
        }
        self.n_mels = int(n_mels)
        self.hop_length = int(hop_length)
        self.log_offset = float(log_offset)
        # Frame i of torch.stft(center=True) spans padded[i·hop : i·hop + n_fft] after
        # n_fft // 2 samples of reflection on each side; the window sits at offset
        # (n_fft − win_length) // 2 inside it. Convolving kernels of win_length samples
        # over a waveform padded by pad_left on the left gives the same frames, and
        # pad_left + pad_right = win_length gives the same frame count, 1 + T // hop.
        offset = (n_fft - win_length) // 2
        self.pad_left = n_fft // 2 - offset
        self.pad_right = win_length - self.pad_left

        basis, mel = _dft_and_mel(
            n_fft, win_length, window, sample_rate, n_mels, f_min, f_max, mel_scale, mel_norm
        )
        self.register_buffer("dft_basis", basis, persistent=False)
        self.register_buffer("mel_filters", mel, persistent=False)
        kernel = None
        if preemphasis is not None:
            kernel = torch.tensor([[[-float(preemphasis), 1.0]]], dtype=torch.float32)
        self.register_buffer("preemphasis_kernel", kernel, persistent=False)

    def power_mel(self, waveform: torch.Tensor) -> torch.Tensor:
        """Mel power spectrogram ``[N, n_mels, 1 + T // hop_length]`` (steps 1–4).

        Always computed in float32, also under mixed-precision autocast: in bfloat16 or
        float16 the DFT of a rounded waveform would bury quiet bands under rounding noise,
        and training would see other features than the float32 model serves.
        """
        with torch.autocast(waveform.device.type, enabled=False):
            signal = waveform.unsqueeze(1)  # [N, 1, T]
            if self.preemphasis_kernel is not None:
                signal = F.conv1d(F.pad(signal, (1, 0)), self.preemphasis_kernel)
            signal = F.pad(signal, (self.pad_left, self.pad_right), mode="reflect")
            spectrum = F.conv1d(signal, self.dft_basis, stride=self.hop_length)
            real, imaginary = spectrum.chunk(2, dim=1)
            return torch.matmul(self.mel_filters, real * real + imaginary * imaginary)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``waveform``: ``float32 [N, T]`` → ``[N, n_mels, 1 + T // hop_length]``."""
        log_mel = torch.log(self.power_mel(waveform) + self.log_offset)
        return log_mel - log_mel.mean(dim=-1, keepdim=True)

    def config(self) -> dict[str, Any]:
        """Type and constructor arguments, in plain types."""
        return dict(self._config)


class MelSpectrogram(nn.Module):
    """Waveform ``float32 [N, T]`` (mono, ``sample_rate`` Hz) → mel power spectrogram
    ``float32 [N, n_mels, frames]``, with no logarithm and no normalisation: the features of
    Resemblyzer's GE2E encoder (``librosa.feature.melspectrogram`` with librosa's defaults).

    Steps, all in the graph: frames of ``n_fft`` samples every ``hop_length``, a periodic
    Hann window, the power of a real DFT of size ``n_fft`` as one strided ``conv1d`` (as
    :class:`LogMelFbank` computes it), a mel filterbank
    (:func:`torchaudio.functional.melscale_fbanks`, Slaney scale and area normalisation
    by default, as ``librosa.filters.mel``).

    ``center=True`` zero-pads ``n_fft // 2`` samples at both ends, as
    ``librosa.stft(center=True, pad_mode="constant")`` does: ``1 + T // hop_length``
    frames. ``center=False`` frames the input as it is: ``1 + (T − n_fft) // hop_length``
    frames (``T >= n_fft``), so a caller can hand over a window of a longer recording
    together with the ``n_fft // 2`` samples of context on each side that the centred
    frames of the whole recording would see (what
    :func:`bioverify.verify.voice_input.partial_windows` does).

    Examples
    --------
    >>> import torch
    >>> mel = MelSpectrogram(center=False)
    >>> tuple(mel(torch.zeros(2, 25840)).shape)
    (2, 40, 160)
    """

    dft_basis: torch.Tensor  # [2 · (n_fft // 2 + 1), 1, n_fft]: window·cos, window·sin
    mel_filters: torch.Tensor  # [n_mels, n_fft // 2 + 1]

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 400,
        hop_length: int = 160,
        n_mels: int = 40,
        f_min: float = 0.0,
        f_max: float | None = None,
        mel_scale: str = "slaney",
        mel_norm: str | None = "slaney",
        center: bool = False,
    ) -> None:
        super().__init__()
        top = sample_rate / 2 if f_max is None else f_max
        if n_fft <= 0 or hop_length <= 0 or n_mels <= 0:
            raise InvalidInput(
                f"n_fft, hop_length and n_mels must be positive, got {n_fft}, {hop_length}, "
                f"{n_mels}"
            )
        if not 0 <= f_min < top <= sample_rate / 2:
            raise InvalidInput(
                f"need 0 <= f_min < f_max <= sample_rate / 2, got {f_min}, {top}, {sample_rate}"
            )
        if mel_scale not in ("htk", "slaney") or mel_norm not in (None, "slaney"):
            raise InvalidInput(
                f"mel_scale must be 'htk' or 'slaney' and mel_norm None or 'slaney', "
                f"got {mel_scale!r}, {mel_norm!r}"
            )
        self._config: dict[str, Any] = {
            "type": "mel_spectrogram",
            "sample_rate": int(sample_rate),
            "n_fft": int(n_fft),
            "hop_length": int(hop_length),
            "n_mels": int(n_mels),
            "f_min": float(f_min),
            "f_max": float(top),
            "mel_scale": mel_scale,
            "mel_norm": mel_norm,
            "center": bool(center),
        }
        self.n_mels = int(n_mels)
        self.n_fft = int(n_fft)
        self.hop_length = int(hop_length)
        self.center = bool(center)
        basis, mel = _dft_and_mel(
            n_fft, n_fft, "hann", sample_rate, n_mels, f_min, top, mel_scale, mel_norm
        )
        self.register_buffer("dft_basis", basis, persistent=False)
        self.register_buffer("mel_filters", mel, persistent=False)

    def forward(self, waveform: torch.Tensor) -> torch.Tensor:
        """``waveform``: ``float32 [N, T]`` → mel power ``[N, n_mels, frames]`` (float32,
        also under mixed-precision autocast)."""
        with torch.autocast(waveform.device.type, enabled=False):
            signal = waveform.float().unsqueeze(1)  # [N, 1, T]
            if self.center:
                signal = F.pad(signal, (self.n_fft // 2, self.n_fft // 2))
            spectrum = F.conv1d(signal, self.dft_basis, stride=self.hop_length)
            real, imaginary = spectrum.chunk(2, dim=1)
            return torch.matmul(self.mel_filters, real * real + imaginary * imaginary)

    def config(self) -> dict[str, Any]:
        """Type and constructor arguments, in plain types."""
        return dict(self._config)


_FRONTENDS: dict[str, type[FaceInput] | type[LogMelFbank] | type[MelSpectrogram]] = {
    "face_input": FaceInput,
    "log_mel_fbank": LogMelFbank,
    "mel_spectrogram": MelSpectrogram,
}


def frontend_from_config(config: Mapping[str, Any]) -> FaceInput | LogMelFbank | MelSpectrogram:
    """Rebuild a front-end from its :meth:`config` (``type`` plus constructor arguments)."""
    arguments = dict(config)
    kind = arguments.pop("type", None)
    if kind not in _FRONTENDS:
        raise InvalidInput(f"unknown front-end type {kind!r}; expected one of {sorted(_FRONTENDS)}")
    frontend_class = _FRONTENDS[kind]
    accepted = set(inspect.signature(frontend_class).parameters)
    unknown = sorted(set(arguments) - accepted)
    if unknown:
        raise InvalidInput(
            f"unknown {kind} front-end arguments {unknown}; accepted: {sorted(accepted)}"
        )
    return frontend_class(**arguments)
