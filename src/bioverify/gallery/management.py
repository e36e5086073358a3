"""Managing a gallery: look at, check, remove, back up, restore and re-embed identities.

None of these needs a verifier except :meth:`~GalleryManagement.reembed` (the new model's).
"""

from __future__ import annotations

import builtins
from pathlib import Path

import numpy as np

from bioverify.errors import GalleryError
from bioverify.gallery import backup, records
from bioverify.gallery.base import GalleryBase
from bioverify.gallery.protocol import GalleryVerifier
from bioverify.gallery.reembed import reembed
from bioverify.gallery.reports import IdentityDetails, ReembedReport, RemovalReport
from bioverify.gallery.store import read_meta


class GalleryManagement(GalleryBase):
    """The managing operations of a :class:`~bioverify.gallery.Gallery` (no model needed)."""

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
        >>> import tempfile, bioverify
        >>> gallery = bioverify.Gallery.open(f"{tempfile.mkdtemp()}/staff.db", "face")
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

    def list(self) -> builtins.list[records.IdentitySummary]:
        """Every identity with its enrollment time and number of templates, by name.

        Returns
        -------
        list of IdentitySummary

        Examples
        --------
        >>> import tempfile, bioverify
        >>> gallery = bioverify.Gallery.open(f"{tempfile.mkdtemp()}/staff.db", "face")
        >>> _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
        >>> [(s.id, s.n_templates) for s in gallery.list()]
        [('serena', 1)]
        """
        with self._db.read() as conn:
            return records.identity_summaries(conn)

    def check(self) -> builtins.list[str]:
        """Look for damage: the store's integrity check (SQLite's, or orphan rows in
        PostgreSQL), and every template, mean template and count re-read and re-computed.

        Returns
        -------
        list of str
            One line per problem; empty when the gallery is sound.

        Examples
        --------
        >>> import tempfile, bioverify
        >>> gallery = bioverify.Gallery.open(f"{tempfile.mkdtemp()}/staff.db", "face")
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
        >>> import tempfile, bioverify
        >>> gallery = bioverify.Gallery.open(f"{tempfile.mkdtemp()}/staff.db", "face")
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
            The backup file, readable and writable by its owner only.

        Raises
        ------
        GalleryError
            The file cannot be written.

        See Also
        --------
        import_json, bioverify.gallery.restore

        Examples
        --------
        >>> import tempfile, bioverify
        >>> gallery = bioverify.Gallery.open(f"{tempfile.mkdtemp()}/staff.db", "face")
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
        >>> from bioverify import Gallery
        >>> folder = Path(tempfile.mkdtemp())
        >>> staff = Gallery.open(folder / "staff.db", "face")
        >>> _ = staff.enroll("serena", ["examples/face_a1.jpg"])
        >>> backup = staff.export_json(folder / "backup.json")
        >>> other = Gallery(folder / "other.db", staff.verifier)
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
        >>> import tempfile, bioverify
        >>> gallery = bioverify.Gallery.open(f"{tempfile.mkdtemp()}/staff.db", "face")
        >>> _ = gallery.enroll("serena", ["examples/face_a1.jpg"])
        >>> report = gallery.reembed(bioverify.Verifier.load("face", face_mode="detect"))
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


__all__ = ["GalleryManagement"]
