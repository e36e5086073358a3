"""Speaker backbones on log-mel features ``float32 [N, n_mels, frames]`` → ``[N, embedding_dim]``.

Any number of frames works: the convolutional ones end in statistics pooling over time,
the LSTM keeps its last state.

* :class:`EcapaTdnn` — Desplanques et al. 2020 (as in SpeechBrain and WeSpeaker): a
  kernel-5 TDNN layer, three SE-Res2Blocks with dilations 2, 3, 4 (1 × 1 conv → Res2Net
  dilated conv with ``scale`` groups → 1 × 1 conv → squeeze-excitation, plus the input),
  multi-layer feature aggregation (the three block outputs concatenated, 1 × 1 conv to
  ``aggregate_channels``, 1536 in the paper whatever ``channels`` is),
  attentive statistics pooling with global context (the attention, 1 × 1 conv → tanh →
  1 × 1 conv → softmax over time, sees each frame together with the utterance mean and
  standard deviation), then BN → FC → BN. TDNN layers are conv → ReLU → BN, as in the
  paper. 6.2 M parameters at ``channels=512`` and 14.7 M at 1024 (80 mels, 192-d), the
  paper's counts.
* :class:`Ge2eLstm` — the GE2E speaker encoder of Wan et al. 2018 as Resemblyzer ships
  it: a 3-layer LSTM (256 units) over mel power frames ``[N, frames, n_mels]``, the last
  layer's final hidden state through a linear layer and a ReLU (the encoder then
  L2-normalises). Its features are :class:`~bioverify.training.frontends.MelSpectrogram`'s
  (40 mel bands, no logarithm); it is trained and used on 1.6 s partial windows.
* :class:`ResNet34` — the "thin" ResNet-34 of WeSpeaker (r-vector): the features as a
  one-channel image ``[N, 1, n_mels, frames]``, basic blocks (3, 4, 6, 3) with
  ``base_width`` · (1, 2, 4, 8) channels and strides (1, 2, 2, 2), the channel and frequency
  axes flattened, mean and standard deviation over time, one linear layer.

Standard deviations are ``sqrt(max(var, VARIANCE_FLOOR))`` with the variance taken around
the (weighted) mean, so silence, one frame or a peaked attention cannot give NaN gradients.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from bioverify.errors import InvalidInput

#: lower bound on pooled variances (features are O(1): a floor of 1e-3 on the std)
VARIANCE_FLOOR = 1e-6


def _mean_std(
    x: torch.Tensor, weights: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and standard deviation of ``x [N, C, T]`` over time, uniformly or with
    ``weights [N, C, T]`` that sum to 1 over time; each ``[N, C]``, in float32 (also
    under mixed precision)."""
    x = x.float()
    if weights is None:
        mean = x.mean(dim=-1)
        variance = (x - mean.unsqueeze(-1)).pow(2).mean(dim=-1)
    else:
        mean = (weights * x).sum(dim=-1)
        variance = (weights * (x - mean.unsqueeze(-1)).pow(2)).sum(dim=-1)
    return mean, variance.clamp(min=VARIANCE_FLOOR).sqrt()


class _ConvReluBn(nn.Sequential):
    """Conv1d ("same" padding) → ReLU → BN."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int = 1, dilation: int = 1):
        super().__init__(
            nn.Conv1d(
                in_channels,
                out_channels,
                kernel,
                dilation=dilation,
                padding=dilation * (kernel - 1) // 2,
            ),
            nn.ReLU(),
            nn.BatchNorm1d(out_channels),
        )


class _Res2Conv(nn.Module):
    """Res2Net hierarchy: split channels into ``scale`` groups; group 0 passes through,
    group i > 0 is convolved after adding the previous group's output (from group 2 on)."""

    def __init__(self, channels: int, kernel: int, dilation: int, scale: int) -> None:
        super().__init__()
        self.group = channels // scale
        self.convs = nn.ModuleList(
            _ConvReluBn(self.group, self.group, kernel, dilation) for _ in range(scale - 1)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        groups = torch.split(x, self.group, dim=1)
        outputs = [groups[0]]
        previous: torch.Tensor | None = None
        for conv, group in zip(self.convs, groups[1:], strict=True):
            previous = conv(group if previous is None else group + previous)
            outputs.append(previous)
        return torch.cat(outputs, dim=1)


class _SqueezeExcite(nn.Module):
    """Channel gates from the time-averaged input: Linear → ReLU → Linear → sigmoid."""

    def __init__(self, channels: int, bottleneck: int) -> None:
        super().__init__()
        self.gate = nn.Sequential(
            nn.Linear(channels, bottleneck),
            nn.ReLU(),
            nn.Linear(bottleneck, channels),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x.mean(dim=-1)).unsqueeze(-1)


class _SERes2Block(nn.Module):
    def __init__(
        self, channels: int, dilation: int, scale: int, se_bottleneck: int, kernel: int = 3
    ) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            _ConvReluBn(channels, channels),
            _Res2Conv(channels, kernel, dilation, scale),
            _ConvReluBn(channels, channels),
            _SqueezeExcite(channels, se_bottleneck),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.layers(x)


class AttentiveStatsPooling(nn.Module):
    """Attentive statistics pooling with global context: ``[N, C, T]`` → ``[N, 2C]``
    (attention-weighted mean and standard deviation per channel)."""

    def __init__(self, channels: int, bottleneck: int = 128) -> None:
        super().__init__()
        self.attention = nn.Sequential(
            nn.Conv1d(3 * channels, bottleneck, 1),
            nn.Tanh(),
            nn.Conv1d(bottleneck, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = _mean_std(x)
        context = torch.cat(
            [x, mean.unsqueeze(-1).expand_as(x), std.unsqueeze(-1).expand_as(x)], dim=1
        )
        weights = torch.softmax(self.attention(context), dim=-1)
        return torch.cat(_mean_std(x, weights), dim=1)


class EcapaTdnn(nn.Module):
    """ECAPA-TDNN with ``channels`` (512 or 1024 in the paper, or smaller) in its TDNN
    layers; the registry's ``ecapa_tdnn`` (built with keyword arguments)."""

    def __init__(
        self,
        n_mels: int,
        embedding_dim: int = 192,
        channels: int = 512,
        scale: int = 8,
        se_bottleneck: int = 128,
        attention_bottleneck: int = 128,
        aggregate_channels: int = 1536,
    ) -> None:
        super().__init__()
        if channels <= 0 or scale <= 0 or channels % scale:
            raise InvalidInput(
                f"channels ({channels}) must be a positive multiple of scale ({scale})"
            )
        self.layer1 = _ConvReluBn(n_mels, channels, kernel=5)
        self.blocks = nn.ModuleList(
            _SERes2Block(channels, dilation, scale, se_bottleneck) for dilation in (2, 3, 4)
        )
        self.aggregate = nn.Conv1d(3 * channels, aggregate_channels, 1)
        self.pool = AttentiveStatsPooling(aggregate_channels, attention_bottleneck)
        self.pool_norm = nn.BatchNorm1d(2 * aggregate_channels)
        self.fc = nn.Linear(2 * aggregate_channels, embedding_dim)
        self.features = nn.BatchNorm1d(embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[N, n_mels, frames]`` → ``[N, embedding_dim]`` (not normalised)."""
        out = self.layer1(x)
        block_outputs = []
        for block in self.blocks:
            out = block(out)
            block_outputs.append(out)
        out = F.relu(self.aggregate(torch.cat(block_outputs, dim=1)))
        return self.features(self.fc(self.pool_norm(self.pool(out))))


class _BasicBlock(nn.Module):
    """conv 3 × 3 (``stride``) → BN → ReLU → conv 3 × 3 → BN, plus the shortcut, → ReLU."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(in_channels, channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.ReLU(),
            nn.Conv2d(channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.shortcut: nn.Module = (
            nn.Sequential(
                nn.Conv2d(in_channels, channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(channels),
            )
            if stride != 1 or in_channels != channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.residual(x) + self.shortcut(x))


class ResNet34(nn.Module):
    """Thin ResNet-34 with temporal statistics pooling (WeSpeaker's ``ResNet34``)."""

    BLOCKS = (3, 4, 6, 3)
    STRIDES = (1, 2, 2, 2)

    def __init__(self, n_mels: int, embedding_dim: int = 192, base_width: int = 32) -> None:
        super().__init__()
        if base_width <= 0:
            raise InvalidInput(f"base_width must be positive, got {base_width}")
        modules: list[nn.Module] = [
            nn.Conv2d(1, base_width, 3, padding=1, bias=False),
            nn.BatchNorm2d(base_width),
            nn.ReLU(),
        ]
        channels, bands = base_width, n_mels
        for stage, (blocks, stride) in enumerate(zip(self.BLOCKS, self.STRIDES, strict=True)):
            out_channels = base_width * 2**stage
            for index in range(blocks):
                modules.append(_BasicBlock(channels, out_channels, stride if index == 0 else 1))
                channels = out_channels
            bands = (bands - 1) // stride + 1  # a 3 × 3 conv with padding 1
        self.body = nn.Sequential(*modules)
        self.fc = nn.Linear(2 * channels * bands, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[N, n_mels, frames]`` → ``[N, embedding_dim]`` (not normalised)."""
        maps = self.body(x.unsqueeze(1))  # [N, C, bands, frames / 8]
        return self.fc(torch.cat(_mean_std(torch.flatten(maps, 1, 2)), dim=1))


class Ge2eLstm(nn.Module):
    """LSTM (``layers`` × ``hidden``) → last layer's final hidden state → linear → ReLU.

    The parameter names are Resemblyzer's (``lstm.*``, ``linear.*``), so its
    ``model_state`` loads as it is.
    """

    def __init__(
        self, n_mels: int, embedding_dim: int = 256, hidden: int = 256, layers: int = 3
    ) -> None:
        super().__init__()
        if hidden <= 0 or layers <= 0:
            raise InvalidInput(f"hidden and layers must be positive, got {hidden}, {layers}")
        self.lstm = nn.LSTM(n_mels, hidden, layers, batch_first=True)
        self.linear = nn.Linear(hidden, embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[N, n_mels, frames]`` → ``[N, embedding_dim]`` (not normalised, >= 0)."""
        _, (hidden, _) = self.lstm(x.transpose(1, 2))
        return F.relu(self.linear(hidden[-1]))


def resnet34(embedding_dim: int, n_mels: int, base_width: int = 32) -> ResNet34:
    """Thin ResNet-34; ``base_width`` 32 (WeSpeaker) or 16 for a lighter model."""
    return ResNet34(n_mels, embedding_dim, base_width)


def ge2e_lstm(embedding_dim: int, n_mels: int, hidden: int = 256, layers: int = 3) -> Ge2eLstm:
    """GE2E LSTM encoder; the defaults are Resemblyzer's (with 40 mels and 256-d output).

    Examples
    --------
    >>> model = ge2e_lstm(256, n_mels=40)
    >>> tuple(model(torch.zeros(2, 40, 160)).shape)
    (2, 256)
    """
    return Ge2eLstm(n_mels, embedding_dim, hidden, layers)
