"""The one-call form ``bioverify.verify(a, b, model=...)`` and default models.

Kept free of heavy imports (onnxruntime, OpenCV) until first called, so ``import bioverify``
stays quick.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bioverify.errors import InvalidInput, ModelError

if TYPE_CHECKING:
    from bioverify.bundle import BundleInfo
    from bioverify.verify.result import VerifyResult
    from bioverify.verify.verifier import Verifier

#: where packaged default bundles live: ``bioverify/models/<modality>/bundle.json``
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
#: model names that mean the packaged default bundle of that modality
MODALITIES = ("face", "voice")
#: verifiers kept by :func:`verify` between calls (model load is the slow part)
_CACHE_SIZE = 4
_cache: OrderedDict[tuple[Any, ...], Verifier] = OrderedDict()


def default_bundle(modality: str) -> Path:
    """The packaged default bundle folder for ``"face"`` or ``"voice"``; :class:`ModelError`
    when none is installed."""
    folder = MODELS_DIR / modality
    if not (folder / "bundle.json").is_file():
        raise ModelError(
            f"no default {modality} model installed; pass model= (a bundle folder made by "
            "`bioverify export`)"
        )
    return folder


def resolve_model(model: Path | str) -> Path | str:
    """``"face"`` / ``"voice"`` → the packaged default bundle (unless a file or folder of that
    name exists here); any other path is returned as is.

    Examples
    --------
    >>> resolve_model("face").name
    'face'
    """
    if str(model) in MODALITIES and not Path(model).exists():
        return default_bundle(str(model))
    return model


def _cache_key(model: Path | str | BundleInfo, options: dict[str, Any]) -> tuple[Any, ...] | None:
    """Bundle location, its modification time (a re-export or an installed calibration
    replaces files, which changes the folder's) and the options; ``None``: do not cache."""
    path = Path(str(getattr(model, "folder", model))).resolve()
    if path.name == "bundle.json":
        path = path.parent
    try:
        key = (str(path), path.stat().st_mtime_ns, *sorted(options.items()))
        hash(key)
    except (OSError, TypeError):
        return None  # a missing path (Verifier.load explains) or an unhashable option
    return key


def load_verifier(model: Verifier | BundleInfo | Path | str, **options: Any) -> Verifier:
    """A :class:`Verifier` for ``model`` and ``Verifier.load`` options, reusing one made by
    an earlier call with the same arguments (up to four are kept)."""
    from bioverify.bundle import BundleInfo
    from bioverify.verify.verifier import Verifier

    if isinstance(model, Verifier):
        if options:
            raise InvalidInput("options cannot be applied to an already loaded Verifier")
        return model
    if not isinstance(model, Verifier | BundleInfo):
        model = resolve_model(model)
    key = _cache_key(model, options)
    if key is not None and key in _cache:
        _cache.move_to_end(key)
        return _cache[key]
    verifier = Verifier.load(model, **options)
    if key is not None:
        _cache[key] = verifier
        while len(_cache) > _CACHE_SIZE:
            _cache.popitem(last=False)
    return verifier


def verify(
    a: Any, b: Any, model: Verifier | BundleInfo | Path | str | None = None, **options: Any
) -> VerifyResult:
    """Are ``a`` and ``b`` the same person? Two photos or two recordings: paths, bytes, numpy
    arrays, PIL images, ``(waveform, sample_rate)`` pairs.

    ``model`` is ``"face"`` or ``"voice"`` (the packaged default models), a bundle (folder,
    ``.zip`` or ``bundle.json``) or a loaded :class:`~bioverify.verify.Verifier`; ``None``
    picks the packaged default model for the inputs' modality. ``options`` go to
    :meth:`Verifier.load <bioverify.verify.Verifier.load>` (``calibration``,
    ``operating_point``, ``threshold``, ``device``, ``face_mode``…). The loaded model is
    kept for the next call.
    """
    if model is None:
        from bioverify.verify.inputs import input_modality

        first, second = input_modality(a), input_modality(b)
        if first != second:
            raise InvalidInput(f"cannot compare a {first} input with a {second} input")
        model = default_bundle(first)
    return load_verifier(model, **options).verify(a, b)


__all__ = ["MODALITIES", "MODELS_DIR", "default_bundle", "load_verifier", "resolve_model", "verify"]
