"""Opening a gallery with its model: :meth:`Gallery.open <bioverify.gallery.Gallery.open>`.

A gallery remembers the bundle it was enrolled with (``meta.bundle_path``), so the model
can be left out once the gallery exists; it is still checked (the bundle's sha256, then
the gallery's). The model is loaded with
:meth:`Verifier.load <bioverify.verify.Verifier.load>` (imported on first use: managing a
gallery needs no onnxruntime).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from bioverify.bundle import BundleInfo
from bioverify.errors import GalleryError, InvalidInput, ModelError
from bioverify.gallery.backends import open_store, store_exists
from bioverify.gallery.store import read_meta, redact

if TYPE_CHECKING:
    from bioverify.gallery.protocol import GalleryVerifier


def remembered_bundle(location: Path | str) -> Path:
    """The model bundle a gallery was enrolled with, when it is still there.

    Parameters
    ----------
    location : path or str
        The gallery: an SQLite file or a ``postgresql://`` URL.

    Returns
    -------
    Path
        The bundle folder the gallery remembers.

    Raises
    ------
    GalleryError
        The gallery remembers no model, or cannot be opened.
    ModelError
        The remembered bundle is not there any more.

    Examples
    --------
    >>> import tempfile
    >>> from bioverify import Gallery, Verifier
    >>> location = Path(tempfile.mkdtemp()) / "staff.db"
    >>> Gallery(location, Verifier.load("face")).close()  # a new, empty gallery
    >>> remembered_bundle(location).name
    'face'
    """
    store = open_store(location)
    try:
        with store.read() as conn:
            remembered = read_meta(conn).get("bundle_path")
    finally:
        store.close()
    bundle, where = (Path(remembered) if remembered else None), redact(location)
    if bundle is None:
        raise GalleryError(f"{where}: the gallery remembers no model; pass --model")
    if not bundle.exists():
        raise ModelError(
            f"{where}: the gallery's model {bundle} is not there any more; pass --model"
        )
    return bundle


def verifier_for(
    location: Path | str,
    model: GalleryVerifier | BundleInfo | Path | str | None,
    options: dict[str, Any],
) -> tuple[GalleryVerifier, Path | None]:
    """The verifier a gallery at ``location`` is opened with, and the bundle folder it is to
    remember (``None``: keep what it remembers); see :meth:`Gallery.open
    <bioverify.gallery.Gallery.open>` for ``model`` and ``options``.

    Raises
    ------
    InvalidInput
        ``options`` given with a loaded verifier.
    GalleryError, ModelError
        As :func:`remembered_bundle`, when ``model`` is ``None``.
    """
    if model is None or isinstance(model, BundleInfo | Path | str):
        return _load(location, model, options)
    if options:
        raise InvalidInput("options cannot be applied to an already loaded verifier")
    return model, None


def _load(
    location: Path | str, model: BundleInfo | Path | str | None, options: dict[str, Any]
) -> tuple[GalleryVerifier, Path | None]:
    """The verifier of ``model`` (or of the remembered bundle) and the bundle folder to
    remember (``None``: keep the remembered one)."""
    from bioverify.verify.defaults import resolve_model
    from bioverify.verify.verifier import Verifier

    if model is None:
        if not store_exists(location):
            raise GalleryError(
                f"{redact(location)}: no gallery there; enroll with --model to create one"
            )
        return Verifier.load(remembered_bundle(location), **options), None
    bundle = model.folder if isinstance(model, BundleInfo) else Path(resolve_model(model))
    return Verifier.load(model if isinstance(model, BundleInfo) else bundle, **options), bundle


__all__ = ["remembered_bundle", "verifier_for"]
