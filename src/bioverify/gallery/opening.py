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
from bioverify.gallery.search import Backend
from bioverify.gallery.store import redact, store_exists

if TYPE_CHECKING:
    from bioverify.gallery.gallery import Gallery
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
    from bioverify.gallery.gallery import Gallery

    with Gallery(location) as gallery:
        bundle, where = gallery.bundle_path, gallery.location
    if bundle is None:
        raise GalleryError(f"{where}: the gallery remembers no model; pass --model")
    if not bundle.exists():
        raise ModelError(
            f"{where}: the gallery's model {bundle} is not there any more; pass --model"
        )
    return bundle


def open_gallery(
    location: Path | str,
    model: GalleryVerifier | BundleInfo | Path | str | None = None,
    *,
    backend: Backend = "numpy",
    timeout: float = 30.0,
    **options: Any,
) -> Gallery:
    """A gallery opened with its model, ready to enroll, verify and identify.

    Parameters
    ----------
    location : path or str
        An SQLite file (created by the first enrollment) or a ``postgresql://`` URL.
    model : Verifier, BundleInfo, path, str or None
        A loaded verifier; a bundle (folder, ``.zip``, ``bundle.json`` or
        :class:`~bioverify.bundle.BundleInfo`), or ``"face"`` / ``"voice"`` for the
        packaged default models, which the gallery then remembers; ``None``: the bundle
        the gallery remembers (it must exist).
    backend, timeout
        As for :class:`~bioverify.gallery.Gallery`.
    **options
        :meth:`Verifier.load <bioverify.verify.Verifier.load>` options when ``model`` is
        not a loaded verifier: ``calibration``, ``operating_point``, ``threshold``,
        ``device``, ``face_mode``, ``detector``, ``score_normalization``…

    Returns
    -------
    Gallery
        The gallery with its verifier (close it, or use it in a ``with`` block).

    Raises
    ------
    GalleryError
        ``model=None`` and no gallery at ``location``, or one that remembers no model.
    ModelError
        ``model=None`` and the remembered bundle is gone.
    ModelMismatch
        The gallery holds templates of another model.
    InvalidInput
        ``options`` given with a loaded verifier.

    Examples
    --------
    >>> import tempfile
    >>> from bioverify import Gallery
    >>> location = Path(tempfile.mkdtemp()) / "staff.db"
    >>> with Gallery.open(location, "face") as gallery:  # creates it, remembers the model
    ...     report = gallery.enroll("alice", ["examples/face_a1.jpg"])
    >>> with Gallery.open(location) as gallery:  # the model it remembers
    ...     gallery.identify("examples/face_a2.jpg").decision
    'alice'
    """
    from bioverify.gallery.gallery import Gallery

    if model is None or isinstance(model, BundleInfo | Path | str):
        verifier, bundle_path = _load(location, model, options)
    elif options:
        raise InvalidInput("options cannot be applied to an already loaded verifier")
    else:
        verifier, bundle_path = model, None
    return Gallery(location, verifier, bundle_path=bundle_path, backend=backend, timeout=timeout)


def _load(
    location: Path | str, model: BundleInfo | Path | str | None, options: dict[str, Any]
) -> tuple[GalleryVerifier, Path | None]:
    """The verifier of ``model`` (or of the remembered bundle) and the bundle folder to
    remember (``None``: keep the remembered one)."""
    from bioverify.verify.api import resolve_model
    from bioverify.verify.verifier import Verifier

    if model is None:
        if not store_exists(location):
            raise GalleryError(
                f"{redact(location)}: no gallery there; enroll with --model to create one"
            )
        return Verifier.load(remembered_bundle(location), **options), None
    bundle = model.folder if isinstance(model, BundleInfo) else Path(resolve_model(model))
    return Verifier.load(model if isinstance(model, BundleInfo) else bundle, **options), bundle


__all__ = ["open_gallery", "remembered_bundle"]
