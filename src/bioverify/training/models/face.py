"""Face backbones on normalised ``float32 [N, 3, 112, 112]`` crops → ``[N, embedding_dim]``.

* :class:`MobileFaceNet` — Chen et al. 2018: inverted-residual bottlenecks with depthwise
  3 × 3 convolutions and PReLU, a 1 × 1 expansion to 512 channels, a global depthwise
  convolution (GDC, 7 × 7) instead of average pooling, a linear layer and BatchNorm.
  About 1.2 M parameters at ``width=1`` with a 512-d embedding.
* :class:`IResNet` (``iresnet18``, ``iresnet50``) — the "improved" ResNet of insightface's
  ``arcface_torch``: pre-activation-style blocks BN → conv → BN → PReLU → conv → BN plus a
  shortcut, four stride-2 stages (112 → 7), then BN → flatten → dropout → FC → BatchNorm
  (``features``, its scale fixed at 1).

``width`` multiplies every channel count (not the embedding size), for small models that
train quickly on a CPU. ``input_size`` (default 112, a multiple of 16) is the side of the
square crop: four stride-2 stages bring it to ``input_size / 16`` (7 × 7 at 112), which the
last layer spans whole, so a network only takes the size it was built for. A smaller crop
(64: 3× fewer operations) trades some accuracy for speed on a CPU.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from bioverify.errors import InvalidInput

#: side of the square face crop the backbones take
INPUT_SIZE = 112


def _final_map(input_size: int) -> int:
    """Side of the feature map after the four stride-2 stages."""
    if isinstance(input_size, bool) or not isinstance(input_size, int) or input_size < 16:
        raise InvalidInput(f"input_size must be an integer >= 16, got {input_size!r}")
    if input_size % 16:
        raise InvalidInput(f"input_size must be a multiple of 16, got {input_size}")
    return input_size // 16


def _scaled(channels: int, width: float) -> int:
    if not width > 0:
        raise InvalidInput(f"width must be positive, got {width}")
    return max(1, round(channels * width))


def _conv_bn(
    in_channels: int,
    out_channels: int,
    kernel: int = 1,
    stride: int = 1,
    groups: int = 1,
    activation: bool = True,
    padding: int | None = None,
) -> nn.Sequential:
    """Conv2d without bias (``padding`` defaults to ``kernel // 2``) → BN [→ PReLU]."""
    layers: list[nn.Module] = [
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel,
            stride=stride,
            padding=kernel // 2 if padding is None else padding,
            groups=groups,
            bias=False,
        ),
        nn.BatchNorm2d(out_channels),
    ]
    if activation:
        layers.append(nn.PReLU(out_channels))
    return nn.Sequential(*layers)


class _Bottleneck(nn.Module):
    """1 × 1 expansion → depthwise 3 × 3 (``stride``) → linear 1 × 1 projection, with a
    residual connection when shapes allow."""

    def __init__(self, in_channels: int, out_channels: int, expanded: int, stride: int) -> None:
        super().__init__()
        self.residual = stride == 1 and in_channels == out_channels
        self.layers = nn.Sequential(
            _conv_bn(in_channels, expanded),
            _conv_bn(expanded, expanded, kernel=3, stride=stride, groups=expanded),
            _conv_bn(expanded, out_channels, activation=False),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layers(x)
        return x + out if self.residual else out


class MobileFaceNet(nn.Module):
    """MobileFaceNet (Chen et al. 2018, table 1) with a ``width`` multiplier."""

    #: (expansion factor t, output channels c, repeats n, first stride s), as in the paper
    STAGES: tuple[tuple[int, int, int, int], ...] = (
        (2, 64, 5, 2),
        (4, 128, 1, 2),
        (2, 128, 6, 1),
        (4, 128, 1, 2),
        (2, 128, 2, 1),
    )

    def __init__(
        self, embedding_dim: int = 512, width: float = 1.0, input_size: int = INPUT_SIZE
    ) -> None:
        super().__init__()
        final_map = _final_map(input_size)
        stem = _scaled(64, width)
        layers: list[nn.Module] = [
            _conv_bn(3, stem, kernel=3, stride=2),
            _conv_bn(stem, stem, kernel=3, groups=stem),
        ]
        channels = stem
        for expansion, out, repeats, stride in self.STAGES:
            out_channels = _scaled(out, width)
            for index in range(repeats):
                layers.append(
                    _Bottleneck(
                        channels,
                        out_channels,
                        expansion * channels,
                        stride if index == 0 else 1,
                    )
                )
                channels = out_channels
        wide = _scaled(512, width)
        layers.append(_conv_bn(channels, wide))
        self.body = nn.Sequential(*layers)
        self.gdc = _conv_bn(wide, wide, kernel=final_map, groups=wide, activation=False, padding=0)
        self.linear = nn.Linear(wide, embedding_dim, bias=False)
        self.features = nn.BatchNorm1d(embedding_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[N, 3, S, S]`` (S = ``input_size``) → ``[N, embedding_dim]``, not normalised."""
        return self.features(self.linear(torch.flatten(self.gdc(self.body(x)), 1)))


class _IBasicBlock(nn.Module):
    """BN → conv 3 × 3 → BN → PReLU → conv 3 × 3 (``stride``) → BN, plus the shortcut
    (a strided 1 × 1 conv and BN when the shape changes); no activation after the sum."""

    def __init__(self, in_channels: int, channels: int, stride: int) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.BatchNorm2d(in_channels),
            nn.Conv2d(in_channels, channels, 3, padding=1, bias=False),
            nn.BatchNorm2d(channels),
            nn.PReLU(channels),
            nn.Conv2d(channels, channels, 3, stride=stride, padding=1, bias=False),
            nn.BatchNorm2d(channels),
        )
        self.shortcut: nn.Module = (
            _conv_bn(in_channels, channels, stride=stride, activation=False)
            if stride != 1 or in_channels != channels
            else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.residual(x) + self.shortcut(x)


class IResNet(nn.Module):
    """insightface ``arcface_torch`` IResNet with ``layers`` blocks per stage."""

    def __init__(
        self,
        layers: Sequence[int],
        embedding_dim: int = 512,
        width: float = 1.0,
        dropout: float = 0.0,
        input_size: int = INPUT_SIZE,
    ) -> None:
        super().__init__()
        final_map = _final_map(input_size)
        if not 0 <= dropout < 1:
            raise InvalidInput(f"dropout must be in [0, 1), got {dropout}")
        stem = _scaled(64, width)
        modules: list[nn.Module] = [_conv_bn(3, stem, kernel=3)]
        channels = stem
        for stage, blocks in enumerate(layers):
            out_channels = _scaled(64 * 2**stage, width)
            for index in range(blocks):
                modules.append(_IBasicBlock(channels, out_channels, 2 if index == 0 else 1))
                channels = out_channels
        modules.append(nn.BatchNorm2d(channels))
        self.body = nn.Sequential(*modules)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(channels * final_map * final_map, embedding_dim)
        self.features = nn.BatchNorm1d(embedding_dim)
        nn.init.constant_(self.features.weight, 1.0)
        self.features.weight.requires_grad = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x``: ``[N, 3, S, S]`` (S = ``input_size``) → ``[N, embedding_dim]``, not normalised."""
        return self.features(self.fc(self.dropout(torch.flatten(self.body(x), 1))))


def mobilefacenet(
    embedding_dim: int, width: float = 1.0, input_size: int = INPUT_SIZE
) -> MobileFaceNet:
    """MobileFaceNet; ``width`` scales the channels."""
    return MobileFaceNet(embedding_dim, width, input_size)


def iresnet18(
    embedding_dim: int, width: float = 1.0, dropout: float = 0.0, input_size: int = INPUT_SIZE
) -> IResNet:
    """IResNet-18 (2, 2, 2, 2 blocks); ``width`` scales the channels."""
    return IResNet((2, 2, 2, 2), embedding_dim, width, dropout, input_size)


def iresnet50(
    embedding_dim: int, width: float = 1.0, dropout: float = 0.0, input_size: int = INPUT_SIZE
) -> IResNet:
    """IResNet-50 (3, 4, 14, 3 blocks); ``width`` scales the channels."""
    return IResNet((3, 4, 14, 3), embedding_dim, width, dropout, input_size)
