"""The runtime: embed and verify faces or voices with an exported model bundle (no torch).

``from bioverify.verify import Verifier`` (or ``from bioverify import Verifier``). Note that
``bioverify.verify`` *as an attribute of the package* is the one-call function
:func:`~bioverify.verify.api.verify`; import names from this subpackage with ``from
bioverify.verify import …``.

Modules: ``session`` (onnxruntime + provider check), ``image_input`` / ``image_header``
(decoding any image input), ``face_detect`` / ``face_input`` (detection and the aligned
crop), ``voice_input`` (decoding, VAD, windows), ``inputs`` (modality of an input),
``result`` (:class:`Acquired`, :class:`VerifyResult`), ``verifier`` (:class:`Verifier`,
built from ``embedding``: acquire and embed, and ``decisions``: score and decide),
``evaluation`` (scoring a labelled dataset or LFW ``pairs.txt``), ``api`` (one-call form,
default models). The heavy ones load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bioverify.lazy import lazy_attributes
from bioverify.verify.api import load_verifier, verify
from bioverify.verify.defaults import default_bundle

if TYPE_CHECKING:
    from bioverify.verify.result import Acquired, Embeddings, VerifyResult
    from bioverify.verify.verifier import Verifier
    from bioverify.verify.voice_input import Audio, VoiceSettings

_LAZY = {
    "Acquired": "bioverify.verify.result",
    "Audio": "bioverify.verify.voice_input",
    "Embeddings": "bioverify.verify.result",
    "Verifier": "bioverify.verify.verifier",
    "VerifyResult": "bioverify.verify.result",
    "VoiceSettings": "bioverify.verify.voice_input",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = [
    "Acquired",
    "Audio",
    "Embeddings",
    "Verifier",
    "VerifyResult",
    "VoiceSettings",
    "default_bundle",
    "load_verifier",
    "verify",
]
