"""The :class:`Encoder`: raw input → front-end → backbone → L2-normalised embedding.

It is what training optimises and what the ONNX export writes out, unchanged: face
``uint8 [N, 112, 112, 3]`` RGB or voice ``float32 [N, T]`` (16 kHz, in [−1, 1]) in,
``float32 [N, D]`` of unit length out. A projection head used only for training is not part
of it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from bioverify.errors import ModelError

#: keys of :attr:`Encoder.config`
CONFIG_KEYS = ("modality", "name", "embedding_dim", "kwargs", "frontend")


class Encoder(nn.Module):
    """``frontend`` then ``backbone`` then L2 normalisation.

    ``config`` holds plain types only (``modality``, ``name``, ``embedding_dim``, the
    backbone ``kwargs`` and the front-end's ``config()``), so a checkpoint can store it and
    :meth:`from_config` can rebuild the same architecture to load a state dict into. Build
    encoders with :func:`bioverify.training.models.build_encoder`, which fills it in.
    """

    def __init__(self, frontend: nn.Module, backbone: nn.Module, config: Mapping[str, Any]):
        super().__init__()
        self.frontend = frontend
        self.backbone = backbone
        self.config: dict[str, Any] = dict(config)

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        """Raw input batch → ``float32 [N, embedding_dim]``, each row of unit length (also
        under mixed-precision autocast)."""
        return F.normalize(self.backbone(self.frontend(raw)).float(), dim=1)

    @property
    def modality(self) -> str:
        return str(self.config["modality"])

    @property
    def embedding_dim(self) -> int:
        return int(self.config["embedding_dim"])

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Encoder:
        """A freshly initialised encoder of the architecture ``config`` describes.

        Raises :class:`ModelError` when ``config`` is not an encoder config, and
        :class:`~bioverify.errors.InvalidInput` when it names an unknown model or argument.
        """
        # the registry imports this module, so it is imported here, not at the top
        from bioverify.training.models import build_encoder

        missing = [key for key in CONFIG_KEYS if key not in config]
        if missing:
            raise ModelError(
                f"encoder config lacks {missing}; it should come from Encoder.config "
                "(a checkpoint's encoder config)"
            )
        if not isinstance(config["kwargs"], Mapping) or not isinstance(config["frontend"], Mapping):
            raise ModelError("encoder config: 'kwargs' and 'frontend' must be mappings")
        return build_encoder(
            config["modality"],
            config["name"],
            config["embedding_dim"],
            frontend=config["frontend"],
            **config["kwargs"],
        )


class FlipFusedEncoder(Encoder):
    """A face :class:`Encoder` whose embedding fuses the image and its mirror image.

    Both go through the backbone in one batch of ``2N``; the two un-normalised embeddings
    are summed and L2-normalised (test-time flip augmentation, as face-recognition
    evaluations commonly do). The modules are the wrapped encoder's own, under the same
    names, so the exported graph's ``backbone`` scope — which int8 quantisation selects —
    is unchanged. Costs twice the compute of the plain encoder.
    """

    def __init__(self, encoder: Encoder) -> None:
        if encoder.modality != "face":
            raise ModelError(f"flip fusion is for face encoders, not {encoder.modality} ones")
        super().__init__(encoder.frontend, encoder.backbone, encoder.config)
        self.train(encoder.training)

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        """``uint8 [N, H, W, C]`` → ``float32 [N, D]`` of unit length."""
        n = raw.shape[0]
        both = self.backbone(self.frontend(torch.cat([raw, raw.flip(2)]))).float()
        return F.normalize(both[:n] + both[n:], dim=1)
