"""The packaged default models: where they live, and which bundle a ``model=`` argument
such as ``"face"`` names (below both the one-call API and :class:`~bioverify.verify.Verifier`)."""

from __future__ import annotations

from pathlib import Path

from bioverify.errors import ModelError

#: where packaged default bundles live: ``bioverify/models/<modality>/bundle.json``
MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
#: model names that mean the packaged default bundle of that modality
MODALITIES = ("face", "voice")
#: every packaged bundle's name: the defaults, and the voice model's int8 variant (dynamically
#: quantised LSTMs; 3.1 MB, about 1.4x the embeddings/s, docs/models.md)
PACKAGED = (*MODALITIES, "voice-int8")


def default_bundle(modality: str) -> Path:
    """The folder of the packaged default model bundle of a modality (or of another
    packaged bundle, ``"voice-int8"``).

    Parameters
    ----------
    modality : {"face", "voice", "voice-int8"}
        Which packaged model.

    Returns
    -------
    pathlib.Path
        ``bioverify/models/<modality>``, a bundle folder (``bundle.json``, ``model.onnx``,
        ``calibration.json``).

    Raises
    ------
    ModelError
        No packaged bundle of that name is installed.

    See Also
    --------
    resolve_model : the same for a ``model=`` argument that may also be a path.

    Examples
    --------
    >>> folder = default_bundle("voice")
    >>> folder.name, (folder / "bundle.json").is_file()
    ('voice', True)
    >>> default_bundle("voice-int8").name
    'voice-int8'
    >>> default_bundle("iris")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bioverify.errors.ModelError: no default iris model installed; pass model= ...
    """
    folder = MODELS_DIR / modality
    if modality not in PACKAGED or not (folder / "bundle.json").is_file():
        raise ModelError(
            f"no default {modality} model installed; pass model= (a bundle folder made by "
            "`bioverify export`)"
        )
    return folder


def resolve_model(model: Path | str) -> Path | str:
    """The bundle a ``model=`` argument names.

    Parameters
    ----------
    model : str or path-like
        ``"face"`` / ``"voice"`` / ``"voice-int8"`` (a packaged bundle, unless a file or
        folder of that name exists in the current directory) or a bundle path.

    Returns
    -------
    pathlib.Path or str
        The packaged bundle's folder for one of :data:`PACKAGED`; any other ``model``
        unchanged (it is not checked here: :meth:`Verifier.load
        <bioverify.verify.Verifier.load>` opens it).

    Raises
    ------
    ModelError
        A packaged model's name, but that bundle is not installed.

    Examples
    --------
    >>> resolve_model("face").name
    'face'
    >>> resolve_model("runs/face/bundle")
    'runs/face/bundle'
    """
    if str(model) in PACKAGED and not Path(model).exists():
        return default_bundle(str(model))
    return model


__all__ = ["MODALITIES", "MODELS_DIR", "PACKAGED", "default_bundle", "resolve_model"]
