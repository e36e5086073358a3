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
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from bioverify.bundle import BundleInfo
from bioverify.errors import (
    CalibrationError,
    GalleryError,
    InvalidInput,
    ModelMismatch,
    UnknownIdentity,
)
from bioverify.gallery import backup, records
from bioverify.gallery.opening import open_gallery
from bioverify.gallery.protocol import Decision, GalleryVerifier
from bioverify.gallery.reembed import reembed
from bioverify.gallery.reports import (
    Candidate,
    EnrolledSample,
    EnrollReport,
    Identification,
    IdentityDetails,
    ReembedReport,
    RemovalReport,
    SkippedSample,
)
from bioverify.gallery.samples import acquire_all, check_identity, describe_all, sample_label
from bioverify.gallery.search import Backend
from bioverify.gallery.store import UPSERT_META, open_store, read_meta

#: identities the cosine search hands to :meth:`Gallery.identify` for exact re-scoring
#: (AS-Norm can reorder the cosine ranking; a mean template outside these is not found)
RESCORED = 20


def _duplicate(label: str, identity: str) -> SkippedSample:
    return SkippedSample(label, "duplicate", f"{identity!r} already holds this file")


class Gallery:
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
        """The gallery at ``location`` with its model loaded: ``model`` (a verifier, a
        bundle, ``"face"`` / ``"voice"``) or, when left out, the bundle the gallery
        remembers; ``options`` go to ``Verifier.load`` (``calibration``,
        ``operating_point``, ``threshold``, ``device``…). See
        :func:`bioverify.gallery.opening.open_gallery` for the parameters and errors.

        Examples
        --------
        >>> import tempfile
        >>> location = Path(tempfile.mkdtemp()) / "staff.db"
        >>> with Gallery.open(location, "face", operating_point="FAR=0.001") as gallery:
        ...     report = gallery.enroll("alice", ["examples/face_a1.jpg"])
        >>> with Gallery.open(location) as gallery:  # the model it was enrolled with
        ...     gallery.verify("alice", "examples/face_a2.jpg").match
        True
        """
        return open_gallery(location, model, backend=backend, timeout=timeout, **options)

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

    def _remember_bundle(self, bundle: str) -> None:
        if self.meta.get("bundle_path") != bundle:
            with self._db.write() as conn:
                conn.execute(UPSERT_META, ("bundle_path", bundle))

    def _require_verifier(self, action: str) -> GalleryVerifier:
        if self._verifier is None:
            raise GalleryError(f"{self.location}: to {action}, open the gallery with its model")
        return self._verifier

    def _unknown(self, identity: str) -> UnknownIdentity:
        return UnknownIdentity(
            f"{self.location}: no identity {identity!r} in the gallery "
            "(`bioverify gallery list` shows who is enrolled)"
        )

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
        enrolled: list[EnrolledSample] = []
        if templates:
            with self._db.write() as conn:
                self._check_model(read_meta(conn), verifier)
                # checked again inside the transaction: another process may have enrolled
                # one of these files since the read above
                ids, duplicates = records.add_templates(
                    conn, identity, templates, verifier.model_sha256, verifier.embedding_dim
                )
                summary = records.identity_summary(conn, identity)
            stored = [t for t in templates if all(t is not d for d in duplicates)]
            enrolled = [
                EnrolledSample(t.label, template_id, t.quality, t.notes)
                for t, template_id in zip(stored, ids, strict=True)
            ]
            skipped += [_duplicate(d.label, identity) for d in duplicates]
        else:
            with self._db.read() as conn:
                summary = records.identity_summary(conn, identity)
        return EnrollReport(identity, enrolled, skipped, summary.n_templates if summary else 0)

    def verify(self, identity: str, x: Any) -> Decision:
        """1:1: is ``x`` the claimed ``identity``?

        Scores ``x`` against the identity's mean template as the verifier scores a pair,
        and decides at the verifier's threshold.

        Parameters
        ----------
        identity : str
            The claimed identity.
        x : str, path-like, bytes, numpy.ndarray, …
            The probe sample.

        Returns
        -------
        VerifyResult
            The decision, with the calibration's rates at the threshold.

        Raises
        ------
        UnknownIdentity
            The gallery holds no such identity.
        NoFaceFound, NoSpeechFound, InvalidInput
            The probe cannot be acquired (or the identity name is invalid).
        CalibrationError
            The verifier has no threshold.
        GalleryError
            Opened without a verifier.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from bioverify import Verifier
        >>> gallery = Gallery(Path(tempfile.mkdtemp()) / "staff.db", Verifier.load("face"))
        >>> _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
        >>> result = gallery.verify("serena", "examples/face_a2.jpg")
        >>> result.match, round(result.score, 3)
        (True, 0.963)
        >>> gallery.verify("nobody", "examples/face_a2.jpg")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bioverify.errors.UnknownIdentity: ...: no identity 'nobody' in the gallery ...
        """
        identity = check_identity(identity)
        verifier = self._require_verifier("verify")
        with self._db.read() as conn:
            self._check_model(read_meta(conn), verifier)
            mean = records.identity_mean(conn, identity, verifier.embedding_dim)
        if mean is None:
            raise self._unknown(identity)
        probe = verifier.acquire(x)
        embedding = records.check_embedding(probe.embedding, verifier.embedding_dim, "probe")
        score = float(verifier.score_templates(embedding, mean[None, :])[0])
        return verifier.result_for(score, notes=list(probe.notes))

    def identify(self, x: Any, top_k: int = 5) -> Identification:
        """1:N open set: who is ``x``, if anyone the gallery knows?

        The store's search ranks the mean templates by cosine; the best
        ``max(top_k, RESCORED)`` are then scored as :meth:`verify` scores one (AS-Norm when
        the verifier normalises) and re-ranked, so both decide on the same score.

        Parameters
        ----------
        x : str, path-like, bytes, numpy.ndarray, …
            The probe sample.
        top_k : int
            The most candidates to return.

        Returns
        -------
        Identification
            The identities whose mean template scores at or above the threshold, best
            first; ``decision`` is the best one's name, or ``"unknown"`` when there is none.

        Raises
        ------
        CalibrationError
            The verifier has no threshold.
        NoFaceFound, NoSpeechFound, InvalidInput
            The probe cannot be acquired, or ``top_k`` is not a positive integer.
        GalleryError
            Opened without a verifier.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from bioverify import Verifier
        >>> gallery = Gallery(Path(tempfile.mkdtemp()) / "staff.db", Verifier.load("face"))
        >>> _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
        >>> found = gallery.identify("examples/face_a2.jpg")
        >>> found.decision, [(c.identity, round(c.score, 3)) for c in found.candidates]
        ('serena', [('serena', 0.963)])
        >>> gallery.identify("examples/face_b1.jpg").decision
        'unknown'
        """
        verifier = self._require_verifier("identify")
        if not isinstance(top_k, int) or top_k < 1:
            raise InvalidInput(f"top_k must be a positive integer, got {top_k!r}")
        threshold = verifier.threshold
        if threshold is None:
            raise CalibrationError(
                "identification needs a threshold: load the model with a calibration "
                "(calibration.json in the bundle, or --calibration)"
            )
        probe = verifier.acquire(x)
        embedding = records.check_embedding(probe.embedding, verifier.embedding_dim, "probe")
        ids, _, n_identities = self._db.search(
            embedding, max(top_k, RESCORED), lambda meta: self._check_model(meta, verifier)
        )
        with self._db.read() as conn:
            means = [records.identity_mean(conn, i, verifier.embedding_dim) for i in ids]
        found = [(i, m) for i, m in zip(ids, means, strict=True) if m is not None]
        scores = (
            verifier.score_templates(embedding, np.stack([m for _, m in found]))
            if found
            else np.empty(0)
        )
        notes = list(probe.notes)
        ranked = sorted(
            zip([i for i, _ in found], scores.tolist(), strict=True), key=lambda c: -c[1]
        )
        candidates = [
            Candidate(identity, float(score), verifier.result_for(float(score), notes))
            for identity, score in ranked[:top_k]
            if score >= threshold
        ]
        return Identification(candidates, float(threshold), n_identities, notes)

    def show(self, identity: str) -> IdentityDetails:
        """An identity and its templates.

        Parameters
        ----------
        identity : str

        Returns
        -------
        IdentityDetails
            ``summary`` (name, creation time, template count) and ``templates`` (source
            file, sha256, quality, enrollment time, model of each).

        Raises
        ------
        UnknownIdentity
            The gallery holds no such identity.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from bioverify import Verifier
        >>> gallery = Gallery(Path(tempfile.mkdtemp()) / "staff.db", Verifier.load("face"))
        >>> _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
        >>> details = gallery.show("serena")
        >>> details.summary.n_templates, details.templates[0].source_name
        (1, 'face_a1.jpg')
        """
        with self._db.read() as conn:
            summary = records.identity_summary(conn, identity)
            if summary is None:
                raise self._unknown(identity)
            return IdentityDetails(summary, records.template_records(conn, identity))

    def remove(self, identity: str) -> RemovalReport:
        """Delete an identity and all its templates, then erase what they left behind.

        SQLite: records are deleted with ``secure_delete`` on, and the file is checkpointed
        and vacuumed, so the removed vectors cannot be read back from the gallery's files.
        PostgreSQL: the rows are deleted and the tables vacuumed; the server's write-ahead
        log, replicas and backups are out of reach, so ``scrubbed`` is False there (see
        ``docs/privacy.md``).

        Parameters
        ----------
        identity : str

        Returns
        -------
        RemovalReport
            The identity, how many templates were deleted, and ``scrubbed``.

        Raises
        ------
        UnknownIdentity
            The gallery holds no such identity.
        GalleryError
            The write failed.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from bioverify import Verifier
        >>> gallery = Gallery(Path(tempfile.mkdtemp()) / "staff.db", Verifier.load("face"))
        >>> _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
        >>> gallery.remove("serena")
        RemovalReport(identity='serena', n_templates=1, scrubbed=True)
        >>> gallery.list()
        []
        """
        with self._db.write() as conn:
            if records.identity_summary(conn, identity) is None:
                raise self._unknown(identity)
            removed = records.delete_identity(conn, identity)
        return RemovalReport(identity, removed, self._db.scrub())

    def check(self) -> builtins.list[str]:
        """Look for damage: the store's integrity check (SQLite's, or orphan rows in
        PostgreSQL), and every template, mean template and count re-read and re-computed.

        Returns
        -------
        list of str
            One line per problem; empty when the gallery is sound.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from bioverify import Verifier
        >>> gallery = Gallery(Path(tempfile.mkdtemp()) / "staff.db", Verifier.load("face"))
        >>> _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
        >>> gallery.check()
        []
        """
        problems = self._db.integrity_check()
        if problems:
            return problems
        with self._db.read() as conn:
            meta = read_meta(conn)
            dim = int(meta["embedding_dim"])
            for summary in records.identity_summaries(conn):
                try:
                    embeddings = records.template_embeddings(conn, summary.id, dim)
                    mean = records.identity_mean(conn, summary.id, dim)
                except GalleryError as exc:
                    problems.append(f"{summary.id!r}: {exc}")
                    continue
                if len(embeddings) != summary.n_templates:
                    problems.append(f"{summary.id!r}: n_templates is out of date")
                elif mean is None or not np.allclose(
                    mean, records.normalised_mean(embeddings, summary.id), atol=1e-5
                ):
                    problems.append(f"{summary.id!r}: mean template is out of date")
            models = conn.execute("SELECT DISTINCT model_sha256 FROM templates").fetchall()
            if any(row[0] != meta["model_sha256"] for row in models):
                problems.append("templates of another model are in the gallery")
        return problems

    def export_json(self, path: Path | str) -> Path:
        """Write a JSON backup of the whole gallery.

        The backup holds the templates, which are biometric data: the file is created with
        mode 0600.

        Parameters
        ----------
        path : str or path-like
            The file to write.

        Returns
        -------
        pathlib.Path
            The path written.

        Raises
        ------
        GalleryError
            The file cannot be written.

        See Also
        --------
        import_json, bioverify.gallery.restore

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from bioverify import Verifier
        >>> gallery = Gallery(Path(tempfile.mkdtemp()) / "staff.db", Verifier.load("face"))
        >>> _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
        >>> backup = gallery.export_json(Path(tempfile.mkdtemp()) / "backup.json")
        >>> oct(backup.stat().st_mode & 0o777)
        '0o600'
        """
        with self._db.read() as conn:
            return backup.export_json(conn, path)

    def import_json(self, path: Path | str) -> builtins.list[str]:
        """Add the identities of a JSON backup of a gallery of the same model.

        Parameters
        ----------
        path : str or path-like
            A backup written by :meth:`export_json`.

        Returns
        -------
        list of str
            The identities imported.

        Raises
        ------
        GalleryError
            The backup is unreadable or malformed, or holds an identity this gallery
            already has (nothing is imported).
        ModelMismatch
            The backup holds templates of another model.

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from bioverify import Verifier
        >>> gallery = Gallery(Path(tempfile.mkdtemp()) / "staff.db", Verifier.load("face"))
        >>> _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
        >>> backup = gallery.export_json(Path(tempfile.mkdtemp()) / "backup.json")
        >>> other = Gallery(Path(tempfile.mkdtemp()) / "other.db", Verifier.load("face"))
        >>> other.import_json(backup)
        ['serena']
        >>> other.import_json(backup)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bioverify.errors.GalleryError: identities already in the gallery ...: 'serena'; ...
        """
        document = backup.read_export(path)
        with self._db.write() as conn:
            return backup.import_identities(conn, document, read_meta(conn))

    def reembed(
        self,
        new_verifier: GalleryVerifier,
        from_dir: Path | str | None = None,
        *,
        bundle_path: Path | str | None = None,
        drop_unreachable: bool = False,
    ) -> ReembedReport:
        """Move the gallery to ``new_verifier``'s model by embedding every template's
        original file again.

        Each template's file is looked for at its stored path, then under ``from_dir``, and
        must still have the sha256 it was enrolled with (a template enrolled from bytes or
        an array has no file to find). The gallery switches to the new
        model in one transaction only when every template was re-embedded (or, with
        ``drop_unreachable``, the others were deleted); otherwise nothing changes.

        Parameters
        ----------
        new_verifier : Verifier
            The new model, of the same modality.
        from_dir : str or path-like, optional
            A folder to look for the original files in (by name, recursively).
        bundle_path : str or path-like, optional
            The bundle to remember (default: the new verifier's bundle folder).
        drop_unreachable : bool
            Delete the templates whose file cannot be found or acquired (and identities
            left without templates) so that the switch can happen.

        Returns
        -------
        ReembedReport
            ``switched`` (the gallery now belongs to the new model), the number re-embedded,
            the ``unreachable`` templates and ``dropped_identities``.

        Raises
        ------
        GalleryError
            A gallery of another modality, ``from_dir`` is not a folder, or the gallery
            changed while re-embedding (run it again).

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from bioverify import Verifier
        >>> gallery = Gallery(Path(tempfile.mkdtemp()) / "staff.db", Verifier.load("face"))
        >>> _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
        >>> report = gallery.reembed(Verifier.load("face", face_mode="detect"))
        >>> report.switched, report.reembedded, report.unreachable
        (True, 1, [])
        """
        report = reembed(
            self._db,
            new_verifier,
            from_dir,
            bundle_path=bundle_path,
            drop_unreachable=drop_unreachable,
        )
        if report.switched:
            self._verifier = new_verifier
        return report

    def list(self) -> builtins.list[records.IdentitySummary]:
        """Every identity with its enrollment time and number of templates, by name.

        Returns
        -------
        list of IdentitySummary

        Examples
        --------
        >>> import tempfile
        >>> from pathlib import Path
        >>> from bioverify import Verifier
        >>> gallery = Gallery(Path(tempfile.mkdtemp()) / "staff.db", Verifier.load("face"))
        >>> _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
        >>> [(s.id, s.n_templates) for s in gallery.list()]
        [('serena', 1)]
        """
        with self._db.read() as conn:
            return records.identity_summaries(conn)

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
