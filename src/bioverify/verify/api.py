"""The one-call form ``bioverify.verify(a, b, model=...)``, with the default models of
:mod:`bioverify.verify.defaults`.

Kept free of heavy imports (onnxruntime, OpenCV) until first called, so ``import bioverify``
stays quick.
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bioverify.errors import InvalidInput
from bioverify.verify.defaults import MODALITIES, MODELS_DIR, default_bundle, resolve_model

if TYPE_CHECKING:
    from bioverify.bundle import BundleInfo
    from bioverify.verify.result import VerifyResult
    from bioverify.verify.verifier import Verifier

#: verifiers kept by :func:`verify` between calls (model load is the slow part)
_CACHE_SIZE = 4
_cache: OrderedDict[tuple[Any, ...], Verifier] = OrderedDict()


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
    """A :class:`~bioverify.verify.Verifier` for ``model``, reused between calls.

    The four most recently used verifiers are kept, keyed by the bundle's location, its
    modification time (a re-export or a newly installed calibration makes a new one) and
    the options.

    Parameters
    ----------
    model : Verifier, BundleInfo, str or path-like
        ``"face"`` / ``"voice"`` (the packaged default models), a bundle (folder,
        ``bundle.json`` or ``.zip``), a :class:`~bioverify.bundle.BundleInfo`, or an already
        loaded :class:`~bioverify.verify.Verifier` (returned as is).
    **options
        Keyword arguments of :meth:`Verifier.load <bioverify.verify.Verifier.load>`
        (``calibration``, ``operating_point``, ``threshold``, ``device``…).

    Returns
    -------
    Verifier
        A loaded verifier; the same object for repeated calls with the same arguments.

    Raises
    ------
    InvalidInput
        ``options`` given with an already loaded :class:`~bioverify.verify.Verifier`, or an
        invalid option value.
    ModelError, ModelMismatch, CalibrationError, MissingDependency
        As raised by :meth:`Verifier.load <bioverify.verify.Verifier.load>`.

    Examples
    --------
    >>> face = load_verifier("face")
    >>> face is load_verifier("face"), face is load_verifier("face", operating_point=0.001)
    (True, False)
    """
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
    """Are ``a`` and ``b`` the same person?

    The one-call form of :meth:`Verifier.verify <bioverify.verify.Verifier.verify>`: the
    model is loaded on the first call and kept for the next ones (see
    :func:`load_verifier`).

    Parameters
    ----------
    a, b : str, path-like, bytes, numpy.ndarray, PIL image, (waveform, sample_rate) or Audio
        Two photos or two recordings: file paths, encoded file bytes, numpy arrays (an
        image ``[H, W]`` / ``[H, W, 3]`` RGB, or a 1-D waveform at the model's sample
        rate), PIL images, ``(waveform, sample_rate)`` pairs or
        :class:`~bioverify.verify.Audio`.
    model : Verifier, BundleInfo, str or path-like, optional
        ``"face"`` or ``"voice"`` (the packaged default models), a bundle (folder, ``.zip``
        or ``bundle.json``) or a loaded :class:`~bioverify.verify.Verifier`. Default: the
        packaged model for the inputs' modality.
    **options
        Keyword arguments of :meth:`Verifier.load <bioverify.verify.Verifier.load>`
        (``calibration``, ``operating_point``, ``threshold``, ``device``, ``face_mode``…).

    Returns
    -------
    VerifyResult
        ``match`` (``score >= threshold``), the score and threshold, and what the
        calibration measured at that threshold (FAR/FRR with intervals, LLR, probability,
        where the rates were measured).

    Raises
    ------
    InvalidInput
        An input that cannot be read, an image compared with audio, an input of another
        modality than the model's, or an invalid option.
    NoFaceFound, NoSpeechFound
        No face in a photo, or too little speech in a recording.
    CalibrationError
        The model has no calibration and no ``threshold=`` was given, or the calibration
        lacks the requested ``operating_point``.
    ModelError, ModelMismatch, MissingDependency
        As raised by :meth:`Verifier.load <bioverify.verify.Verifier.load>`.

    See Also
    --------
    bioverify.verify.Verifier : keeps a model loaded, embeds, verifies many pairs.
    bioverify.gallery.Gallery : verify against enrolled identities, identify.

    Examples
    --------
    >>> import bioverify
    >>> result = bioverify.verify("examples/face_a1.jpg", "examples/face_a2.jpg")
    >>> result.match, round(result.score, 3), result.operating_point
    (True, 0.963, 'FAR=0.01')
    >>> bioverify.verify("examples/voice_a1.ogg", "examples/voice_b1.ogg").match
    False

    A stricter operating point of the model's calibration:

    >>> strict = bioverify.verify(
    ...     "examples/face_a1.jpg", "examples/face_a2.jpg", operating_point="FAR=0.001")
    >>> strict.match, round(strict.threshold, 3)
    (True, 0.938)
    """
    if model is None:
        from bioverify.verify.inputs import input_modality

        first, second = input_modality(a), input_modality(b)
        if first != second:
            raise InvalidInput(f"cannot compare a {first} input with a {second} input")
        model = default_bundle(first)
    return load_verifier(model, **options).verify(a, b)


__all__ = ["MODALITIES", "MODELS_DIR", "default_bundle", "load_verifier", "resolve_model", "verify"]
