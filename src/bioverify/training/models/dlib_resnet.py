"""``dlib_resnet29``: the architecture of dlib's face recognition ResNet, as a torch module.

dlib's ``dlib_face_recognition_resnet_model_v1`` (Davis King, 2017; the weights are in the
public domain) is a 29-convolution ResNet on 150 × 150 RGB face chips:

* stem: 7 × 7 convolution, 32 filters, stride 2, no padding → per-channel affine → ReLU →
  3 × 3 max pool, stride 2, no padding (150 → 72 → 35);
* 14 residual blocks, each 3 × 3 conv (stride 1, padding 1; or stride 2, no padding in the
  first block of a stage) → affine → ReLU → 3 × 3 conv → affine, added to the shortcut, then
  ReLU. Stages (channels × blocks): 32 × 3, 64 × 4, 128 × 3, 256 × 3, 256 × 1; the first
  block of every stage after the first halves the size.
* Downsampling shortcut: a 2 × 2 average pool (stride 2) of the block's input. dlib's
  ``add_prev`` adds tensors of different shapes by zero-padding the smaller one's missing
  channels and bottom/right rows and columns (35 → 17 → 8 → 3 | 4 → 1 | 2), reproduced
  by :func:`padded_add`.
* global average pool → 256 → 128 linear layer without bias.

The "affine" layers are fixed per-channel scale and shift (dlib's inference form of batch
norm), trained here as plain parameters. Input normalisation (``(pixel − mean) / 256`` with
per-channel means) lives in the :class:`~bioverify.training.frontends.FaceInput` front-end.

dlib's output is not normalised (norms about 1.3–1.6) and compared by Euclidean distance;
the :class:`~bioverify.training.models.encoder.Encoder` L2-normalises it and scores by cosine.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from bioverify.errors import InvalidInput

#: the only crop side the architecture is defined for
INPUT_SIZE = 150
#: (channels, blocks) per stage, input side first
STAGES = ((32, 3), (64, 4), (128, 3), (256, 3), (256, 1))
#: dlib's input means (R, G, B) and scale: ``(pixel - mean) / 256``
DLIB_MEAN = (122.782, 117.001, 104.298)
DLIB_STD = 256.0


def padded_add(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a + b`` for ``[N, C, H, W]`` tensors of different C, H or W: the smaller one is
    zero-padded at the end of each dimension (dlib's ``add_prev``).

    Examples
    --------
    >>> padded_add(torch.ones(1, 1, 1, 1), torch.ones(1, 2, 2, 2)).sum().item()
    9.0
    """
    shape = [max(x, y) for x, y in zip(a.shape[1:], b.shape[1:], strict=True)]

    def pad(t: torch.Tensor) -> torch.Tensor:
        c, h, w = t.shape[1:]
        if (c, h, w) == tuple(shape):
            return t
        return F.pad(t, (0, shape[2] - w, 0, shape[1] - h, 0, shape[0] - c))

    return pad(a) + pad(b)


class Affine(nn.Module):
    """Per-channel ``x · weight + bias`` on ``[N, C, H, W]``."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class ResidualBlock(nn.Module):
    """conv → affine → ReLU → conv → affine, plus the shortcut (2 × 2 average pool when
    ``down``), then ReLU."""

    def __init__(self, in_channels: int, out_channels: int, down: bool) -> None:
        super().__init__()
        self.down = down
        self.conv1 = nn.Conv2d(
            in_channels, out_channels, 3, stride=2 if down else 1, padding=0 if down else 1
        )
        self.affine1 = Affine(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.affine2 = Affine(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.affine2(self.conv2(F.relu(self.affine1(self.conv1(x)))))
        shortcut = F.avg_pool2d(x, 2, 2) if self.down else x
        return F.relu(padded_add(y, shortcut))


class DlibResNet29(nn.Module):
    """Normalised ``float32 [N, 3, 150, 150]`` RGB → ``[N, embedding_dim]`` (not normalised).

    Parameter names (``stem_conv.*``, ``stem_affine.*``, ``blocks.<i>.*``, ``fc.weight``) are what
    :mod:`bioverify.training.dlib_weights` fills from dlib's ``.dat`` file.
    """

    def __init__(self, embedding_dim: int = 128) -> None:
        super().__init__()
        self.stem_conv = nn.Conv2d(3, 32, 7, stride=2)
        self.stem_affine = Affine(32)
        blocks = []
        in_channels = STAGES[0][0]
        for stage, (channels, count) in enumerate(STAGES):
            for index in range(count):
                blocks.append(ResidualBlock(in_channels, channels, down=stage > 0 and index == 0))
                in_channels = channels
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(in_channels, embedding_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.max_pool2d(F.relu(self.stem_affine(self.stem_conv(x))), 3, 2)
        x = self.blocks(x)
        return self.fc(x.mean(dim=(2, 3)))


def dlib_resnet29(embedding_dim: int, input_size: int = INPUT_SIZE) -> DlibResNet29:
    """The registry's factory: ``input_size`` must be 150 (the architecture's size).

    Examples
    --------
    >>> dlib_resnet29(128)(torch.zeros(1, 3, 150, 150)).shape
    torch.Size([1, 128])
    """
    if input_size != INPUT_SIZE:
        raise InvalidInput(
            f"dlib_resnet29 takes {INPUT_SIZE} px crops, got input_size={input_size}"
        )
    return DlibResNet29(embedding_dim)


__all__ = [
    "DLIB_MEAN",
    "DLIB_STD",
    "INPUT_SIZE",
    "STAGES",
    "Affine",
    "DlibResNet29",
    "ResidualBlock",
    "dlib_resnet29",
    "padded_add",
]
