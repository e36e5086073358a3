"""What every :class:`~bioverify.gallery.Gallery` operation stands on: its store and its model.

:class:`GalleryBase` holds the opened store (``_db``) and the verifier (``_verifier``, or
``None`` to manage only), answers what the gallery is bound to (its ``meta``: model,
modality, embedding size, remembered bundle) and checks a verifier against it. The
operations are in :mod:`~bioverify.gallery.gallery` (open, enroll),
:mod:`~bioverify.gallery.matching` (verify, identify) and
:mod:`~bioverify.gallery.management` (show, list, check, remove, export, import, reembed).
"""

from __future__ import annotations

from pathlib import Path

from bioverify.errors import GalleryError, ModelMismatch, UnknownIdentity
from bioverify.gallery.protocol import GalleryVerifier
from bioverify.gallery.store import Store, read_meta


class GalleryBase:
    """A gallery's store and model; see :class:`~bioverify.gallery.Gallery`.

    ``Gallery.__init__`` sets ``_db`` (the opened :class:`~bioverify.gallery.store.Store`)
    and ``_verifier``.
    """

    _db: Store
    _verifier: GalleryVerifier | None

    # ----------------------------------------------------------------- properties
    @property
    def location(self) -> str:
        """Where the gallery is: its file, or its URL without the password."""
        return self._db.location

    @property
    def engine(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self._db.engine

    @property
    def meta(self) -> dict[str, str]:
        """The gallery's ``meta`` table: format, model_sha256, modality, embedding_dim…"""
        with self._db.read() as conn:
            return read_meta(conn)

    @property
    def model_sha256(self) -> str:
        """The sha256 of the model whose templates the gallery holds."""
        return self.meta["model_sha256"]

    @property
    def modality(self) -> str:
        """``"face"`` or ``"voice"``: what the gallery's templates are of."""
        return self.meta["modality"]

    @property
    def embedding_dim(self) -> int:
        """The size of the gallery's templates."""
        return int(self.meta["embedding_dim"])

    @property
    def bundle_path(self) -> Path | None:
        """The model bundle the gallery was enrolled with, as remembered (may have moved)."""
        value = self.meta.get("bundle_path")
        return Path(value) if value else None

    @property
    def verifier(self) -> GalleryVerifier | None:
        """The verifier the gallery was opened with (``None``: managing only)."""
        return self._verifier

    # ------------------------------------------------------------------- helpers
    def _check_model(self, meta: dict[str, str], verifier: GalleryVerifier) -> None:
        if meta["model_sha256"] != verifier.model_sha256:
            hint = f" (enrolled with {meta['bundle_path']})" if meta.get("bundle_path") else ""
            raise ModelMismatch(
                f"{self.location}: the gallery holds templates of model "
                f"{meta['model_sha256'][:12]}…{hint}, not of this model "
                f"{verifier.model_sha256[:12]}…; templates of two models cannot be compared: "
                f"open it with its own model, or move it to this one with "
                f"`bioverify gallery reembed --gallery {self.location} --model NEW_BUNDLE`"
            )
        if int(meta["embedding_dim"]) != verifier.embedding_dim:
            raise GalleryError(
                f"{self.location}: embedding_dim {meta['embedding_dim']} in the gallery but "
                f"{verifier.embedding_dim} from the model"
            )

    def _require_verifier(self, action: str) -> GalleryVerifier:
        if self._verifier is None:
            raise GalleryError(f"{self.location}: to {action}, open the gallery with its model")
        return self._verifier

    def _unknown(self, identity: str) -> UnknownIdentity:
        return UnknownIdentity(
            f"{self.location}: no identity {identity!r} in the gallery "
            "(`bioverify gallery list` shows who is enrolled)"
        )


__all__ = ["GalleryBase"]
