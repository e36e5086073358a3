"""Encoder registry: :func:`build_encoder` by modality and name.

==========  =================  ============================================================
modality    name               backbone keyword arguments (defaults)
==========  =================  ============================================================
``face``    ``mobilefacenet``  ``width`` (1.0), ``input_size`` (112)
``face``    ``iresnet18``      ``width`` (1.0), ``dropout`` (0.0), ``input_size`` (112)
``face``    ``iresnet50``      ``width`` (1.0), ``dropout`` (0.0), ``input_size`` (112)
``face``    ``dlib_resnet29``  ``input_size`` (150, the only size; dlib's face ResNet,
                               weights from ``recipes/face_resnet_dlib/convert.py``)
``voice``   ``ecapa_tdnn``     ``channels`` (512), ``scale`` (8), ``se_bottleneck`` (128),
                               ``attention_bottleneck`` (128), ``aggregate_channels`` (1536)
``voice``   ``resnet34``       ``base_width`` (32)
``voice``   ``ge2e_lstm``      ``hidden`` (256), ``layers`` (3)
==========  =================  ============================================================

Face encoders take ``uint8 [N, S, S, 3]`` RGB (S = ``input_size``) through
:class:`~bioverify.training.frontends.FaceInput`; voice encoders take ``float32 [N, T]``
16 kHz waveforms through :class:`~bioverify.training.frontends.LogMelFbank` (or, for
``ge2e_lstm``, :class:`~bioverify.training.frontends.MelSpectrogram`), whose ``n_mels``
sets the backbone's input size. ``frontend`` passes keyword arguments to the
front-end (``{"n_mels": 64}``, ``{"preemphasis": None}``…).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from bioverify.errors import InvalidInput
from bioverify.training.frontends import (
    LogMelFbank,
    MelSpectrogram,
    frontend_from_config,
)
from bioverify.training.models import dlib_resnet, face, voice
from bioverify.training.models.encoder import Encoder

#: embedding size when ``build_encoder`` is given none
DEFAULT_EMBEDDING_DIM = {"face": 512, "voice": 192}

_BACKBONES: dict[str, dict[str, Callable[..., nn.Module]]] = {
    "face": {
        "mobilefacenet": face.mobilefacenet,
        "iresnet18": face.iresnet18,
        "iresnet50": face.iresnet50,
        "dlib_resnet29": dlib_resnet.dlib_resnet29,
    },
    "voice": {
        "ecapa_tdnn": voice.EcapaTdnn,
        "resnet34": voice.resnet34,
        "ge2e_lstm": voice.ge2e_lstm,
    },
}
_FRONTEND_TYPES = {"face": "face_input", "voice": "log_mel_fbank"}
#: a model's own defaults where they differ from its modality's: dlib's ResNet takes
#: 128-d embeddings and dlib's input normalisation (its converted weights expect them)
MODEL_DEFAULTS: dict[str, dict[str, Any]] = {
    "dlib_resnet29": {
        "embedding_dim": 128,
        "frontend": {"mean": list(dlib_resnet.DLIB_MEAN), "std": dlib_resnet.DLIB_STD},
    },
}
#: models whose front-end is not their modality's usual one
_MODEL_FRONTEND_TYPES = {"ge2e_lstm": "mel_spectrogram"}
# arguments build_encoder supplies itself
_SUPPLIED = {"embedding_dim", "n_mels"}


def available_models() -> dict[str, list[str]]:
    """Model names by modality: ``{"face": [...], "voice": [...]}``."""
    return {modality: sorted(models) for modality, models in _BACKBONES.items()}


def default_input_size(name: str) -> int:
    """The crop side a face model takes when no ``input_size`` is given (its factory's
    default: 112, or 150 for ``dlib_resnet29``).

    Examples
    --------
    >>> default_input_size("dlib_resnet29"), default_input_size("mobilefacenet")
    (150, 112)
    """
    factory = _BACKBONES["face"].get(name)
    if factory is None:
        raise InvalidInput(
            f"unknown face model {name!r}; choose one of {available_models()['face']}"
        )
    return int(inspect.signature(factory).parameters["input_size"].default)


def build_encoder(
    modality: str,
    name: str,
    embedding_dim: int | None = None,
    frontend: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> Encoder:
    """A new, randomly initialised :class:`Encoder`.

    ``embedding_dim`` defaults to 512 (face) or 192 (voice); ``frontend`` holds front-end
    keyword arguments (a front-end ``config()`` is accepted too); a model may have its own
    defaults for both (:data:`MODEL_DEFAULTS`: ``dlib_resnet29`` takes 128-d and dlib's
    per-channel input normalisation); ``kwargs`` go to the
    backbone (see the table in this module's docstring). Unknown modalities, names or
    arguments raise :class:`InvalidInput` listing what is accepted.
    """
    if modality not in _BACKBONES:
        raise InvalidInput(f"unknown modality {modality!r}; choose one of {sorted(_BACKBONES)}")
    if name not in _BACKBONES[modality]:
        raise InvalidInput(
            f"unknown {modality} model {name!r}; choose one of {available_models()[modality]}"
        )
    defaults = MODEL_DEFAULTS.get(name, {})
    if embedding_dim is None:
        embedding_dim = defaults.get("embedding_dim", DEFAULT_EMBEDDING_DIM[modality])
    if isinstance(embedding_dim, bool) or not isinstance(embedding_dim, int) or embedding_dim < 1:
        raise InvalidInput(f"embedding_dim must be a positive integer, got {embedding_dim!r}")

    frontend_config = dict(frontend or {})
    if set(frontend_config) <= {"type"}:
        frontend_config.update(defaults.get("frontend", {}))
    expected_type = _MODEL_FRONTEND_TYPES.get(name, _FRONTEND_TYPES[modality])
    if frontend_config.setdefault("type", expected_type) != expected_type:
        raise InvalidInput(
            f"a {modality} encoder needs a {expected_type!r} front-end, "
            f"got {frontend_config['type']!r}"
        )
    built_frontend = frontend_from_config(frontend_config)

    factory = _BACKBONES[modality][name]
    accepted = sorted(set(inspect.signature(factory).parameters) - _SUPPLIED)
    unknown = sorted(set(kwargs) - set(accepted))
    if unknown:
        hint = ""
        if modality == "voice" and "n_mels" in unknown:
            hint = " (set n_mels through frontend={'n_mels': ...})"
        raise InvalidInput(f"unknown argument(s) {unknown} for {name}; accepted: {accepted}{hint}")
    if isinstance(built_frontend, LogMelFbank | MelSpectrogram):
        backbone = factory(embedding_dim=embedding_dim, n_mels=built_frontend.n_mels, **kwargs)
    else:
        backbone = factory(embedding_dim=embedding_dim, **kwargs)

    config = {
        "modality": modality,
        "name": name,
        "embedding_dim": embedding_dim,
        "kwargs": dict(kwargs),
        "frontend": built_frontend.config(),
    }
    return Encoder(built_frontend, backbone, config)


__all__ = [
    "DEFAULT_EMBEDDING_DIM",
    "MODEL_DEFAULTS",
    "Encoder",
    "available_models",
    "build_encoder",
    "default_input_size",
]
