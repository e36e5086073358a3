"""The enrollment gallery: enroll samples, verify a claimed identity (1:1), identify (1:N).

A :class:`Gallery` lives in one SQLite file (see :mod:`bioverify.gallery.database`, the
default) or in a PostgreSQL database with pgvector (a ``postgresql://`` URL, see
:mod:`bioverify.gallery.postgres`), and is bound to one model: every template in it was
made by the model whose sha256 is in its ``meta`` table, and opening it with another model
raises :class:`ModelMismatch` (move a gallery to a new model with :meth:`Gallery.reembed`).
Each identity keeps its individual templates and the L2-normalised mean of them;
verification and identification score a probe against that mean template.

Open a gallery without a verifier to manage it (list, show, remove, export, reembed); give
one to enroll, verify or identify. A :class:`Gallery` object belongs to the thread that
opened it; any number of processes may use one gallery at the same time.

This module opens a gallery and enrolls into it; the rest of :class:`Gallery` comes from
:mod:`~bioverify.gallery.matching` (verify, identify), :mod:`~bioverify.gallery.management`
(show, list, check, remove, export, import, reembed) and :mod:`~bioverify.gallery.base`
(the store, the model it is bound to, and the checks both sides share).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from bioverify.bundle import BundleInfo
from bioverify.gallery import records
from bioverify.gallery.backends import open_store
from bioverify.gallery.management import GalleryManagement
from bioverify.gallery.matching import GalleryMatching
from bioverify.gallery.opening import verifier_for
from bioverify.gallery.protocol import GalleryVerifier
from bioverify.gallery.reports import EnrolledSample, EnrollReport, SkippedSample
from bioverify.gallery.samples import acquire_all, check_identity, describe_all, sample_label
from bioverify.gallery.search import Backend
from bioverify.gallery.store import UPSERT_META, read_meta


def _duplicate(label: str, identity: str) -> SkippedSample:
    return SkippedSample(label, "duplicate", f"{identity!r} already holds this file")


class Gallery(GalleryMatching, GalleryManagement):
    """An enrollment gallery: enroll samples, verify a claimed identity (1:1), identify (1:N).

    Opening a gallery that does not exist creates it (with a ``verifier``). A gallery is
    bound to one model; it is a context manager that closes it.

    Parameters
    ----------
    location : str or path-like
        An SQLite file path, or a ``postgresql://`` URL (user, password, host, port,
        database; ``?schema=NAME`` picks the schema, default ``bioverify``; needs the
        ``postgres`` extra).
    verifier : Verifier, optional
        The gallery's model: needed to create a gallery and to enroll, verify or identify.
        Without it the gallery can be managed (:meth:`list`, :meth:`show`, :meth:`remove`,
        :meth:`export_json`, :meth:`check`, :meth:`reembed`).
    bundle_path : str or path-like, optional
        The bundle to remember in the gallery, so the CLI can find the model again
        (default: the verifier's bundle folder).
    backend : {"numpy", "faiss"}
        The search of an SQLite gallery (same results; ``"faiss"`` needs the ``faiss``
        extra). A PostgreSQL gallery searches in the server.
    timeout : float
        Seconds a write waits for another process's write, or a PostgreSQL connection for
        the server.

    Raises
    ------
    ModelMismatch
        The gallery holds templates of another model than ``verifier``'s.
    GalleryError
        No gallery at ``location`` and no verifier to create one; a file that is not a
        bioverify gallery or of an unsupported format version; the ``faiss`` backend for a
        PostgreSQL gallery.
    GalleryUnavailable
        The PostgreSQL server cannot be reached.
    MissingDependency
        A ``postgresql://`` URL without psycopg, or ``backend="faiss"`` without faiss.

    See Also
    --------
    bioverify.gallery.restore : a new gallery from a JSON backup.

    Notes
    -----
    A :class:`Gallery` object belongs to the thread that opened it; any number of processes
    may use one gallery at the same time. Each identity keeps its individual templates and
    their L2-normalised mean; :meth:`verify` and :meth:`identify` score a probe against that
    mean template, as the verifier scores a pair.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from bioverify import Gallery, Verifier
    >>> face = Verifier.load("face")
    >>> with Gallery(Path(tempfile.mkdtemp()) / "staff.db", face) as gallery:
    ...     _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
    ...     _ = gallery.enroll("hu", ["examples/face_b1.jpg"])
    ...     found = gallery.identify("examples/face_a2.jpg")
    ...     claim = gallery.verify("hu", "examples/face_a2.jpg")
    >>> found.decision, claim.match
    ('serena', False)

    A PostgreSQL gallery is opened the same way:

    >>> Gallery("postgresql://app@db.example/bio", face)  # doctest: +SKIP
    Gallery('postgresql://app@db.example/bio')
    """

    def __init__(
        self,
        location: Path | str,
        verifier: GalleryVerifier | None = None,
        *,
        bundle_path: Path | str | None = None,
        backend: Backend = "numpy",
        timeout: float = 30.0,
    ) -> None:
        new_meta = None
        if verifier is not None:
            bundle = Path(bundle_path).resolve() if bundle_path else verifier.info.folder
            new_meta = {
                "model_sha256": verifier.model_sha256,
                "modality": verifier.modality,
                "embedding_dim": str(verifier.embedding_dim),
                "bundle_path": str(bundle),
            }
        self._db = open_store(location, new_meta, timeout, backend)
        self._verifier = verifier
        try:
            if verifier is not None:
                self._check_model(self.meta, verifier)
                if bundle_path is not None and new_meta is not None:
                    self._remember_bundle(new_meta["bundle_path"])
        except BaseException:
            self.close()
            raise

    @classmethod
    def open(
        cls,
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
        verifier, bundle_path = verifier_for(location, model, options)
        return cls(location, verifier, bundle_path=bundle_path, backend=backend, timeout=timeout)

    # ------------------------------------------------------------------- helpers
    def _remember_bundle(self, bundle: str) -> None:
        if self.meta.get("bundle_path") != bundle:
            with self._db.write() as conn:
                conn.execute(UPSERT_META, ("bundle_path", bundle))

    # --------------------------------------------------------------- operations
    def enroll(self, identity: str, inputs: Iterable[Any]) -> EnrollReport:
        """Enroll samples under ``identity``.

        Every sample is acquired first; one that fails (no face, no speech, unreadable) is
        reported in ``skipped`` and the rest are stored in one transaction with the
        identity's new mean template: all of them or, after a crash, none. When no sample
        acquires, nothing is written. Enrolling into an existing identity adds templates; a
        file it already holds (same sha256) is skipped as a duplicate before it is
        embedded, so enrolling the same files again is cheap. Samples are embedded in
        batches.

        Parameters
        ----------
        identity : str
            The name: 1–200 printable characters without leading or trailing blanks.
        inputs : iterable
            Samples of the gallery's modality: file paths (their name, path and sha256 are
            stored with the template, for :meth:`reembed`), bytes or arrays.

        Returns
        -------
        EnrollReport
            ``enrolled`` and ``skipped`` samples, the identity's template count ``n_templates``
            afterwards, and ``ok`` (something was stored, or everything was already held).

        Raises
        ------
        InvalidInput
            An invalid identity name.
        GalleryError
            Opened without a verifier, or the write failed (nothing is stored).
        ModelMismatch
            Another process moved the gallery to another model meanwhile.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from bioverify import Verifier
        >>> gallery = Gallery(Path(tempfile.mkdtemp()) / "staff.db", Verifier.load("face"))
        >>> report = gallery.enroll("serena", ["examples/face_a1.jpg", "missing.jpg"])
        >>> report.ok, report.n_templates, [(s.source, s.reason) for s in report.skipped]
        (True, 1, [('missing.jpg', 'InvalidInput')])
        >>> again = gallery.enroll("serena", ["examples/face_a1.jpg"])
        >>> again.already_enrolled, again.n_templates
        (True, 1)
        """
        identity = check_identity(identity)
        verifier = self._require_verifier("enroll")
        described, skipped = describe_all(inputs)
        with self._db.read() as conn:  # files the identity holds are not embedded again
            known = records.source_digests(conn, identity)
        fresh: list[tuple[Any, records.SourceRecord]] = []
        for x, source in described:
            if source.sha256 is not None and source.sha256 in known:
                skipped.append(_duplicate(sample_label(x), identity))
                continue
            known.add(source.sha256)
            fresh.append((x, source))
        templates, failed = acquire_all(verifier, fresh)
        skipped += failed
        if templates:
            with self._db.write() as conn:
                self._check_model(read_meta(conn), verifier)
                # checked again inside the transaction: another process may have enrolled
                # one of these files since the read above
                added = records.add_templates(
                    conn, identity, templates, verifier.model_sha256, verifier.embedding_dim
                )
            stored = [t for t in templates if all(t is not d for d in added.duplicates)]
            enrolled = [
                EnrolledSample(t.label, template_id, t.quality, t.notes)
                for t, template_id in zip(stored, added.ids, strict=True)
            ]
            skipped += [_duplicate(d.label, identity) for d in added.duplicates]
            return EnrollReport(identity, enrolled, skipped, added.n_templates)
        with self._db.read() as conn:
            summary = records.identity_summary(conn, identity)
        return EnrollReport(identity, [], skipped, summary.n_templates if summary else 0)

    def close(self) -> None:
        """Close the gallery's connections (also done on leaving a ``with`` block)."""
        self._db.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Gallery({self.location!r})"


__all__ = ["Gallery"]
