"""A gallery's decisions: verify a claimed identity (1:1) and identify (1:N).

Both score a probe against identities' mean templates as the verifier scores a pair
(AS-Norm when it normalises), and decide at the verifier's threshold.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from bioverify.errors import CalibrationError, InvalidInput
from bioverify.gallery import records
from bioverify.gallery.base import GalleryBase
from bioverify.gallery.protocol import Decision
from bioverify.gallery.reports import Candidate, Identification
from bioverify.gallery.samples import check_identity
from bioverify.gallery.store import read_meta

#: identities the cosine search hands to :meth:`Gallery.identify` for exact re-scoring
#: (AS-Norm can reorder the cosine ranking; a mean template outside these is not found)
RESCORED = 20


class GalleryMatching(GalleryBase):
    """The 1:1 and 1:N decisions of a :class:`~bioverify.gallery.Gallery`."""

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
        >>> import tempfile, bioverify
        >>> gallery = bioverify.Gallery.open(f"{tempfile.mkdtemp()}/staff.db", "face")
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
            The gallery was opened without a verifier, so it cannot score the probe.

        Examples
        --------
        >>> import tempfile, bioverify
        >>> gallery = bioverify.Gallery.open(f"{tempfile.mkdtemp()}/staff.db", "face")
        >>> for name, photo in [("serena", "face_a1.jpg"), ("hu", "face_b1.jpg")]:
        ...     _ = gallery.enroll(name, [f"examples/{photo}"])
        >>> found = gallery.identify("examples/face_a2.jpg")
        >>> found.decision, [(c.identity, round(c.score, 3)) for c in found.candidates]
        ('serena', [('serena', 0.963)])
        >>> all(c.score >= gallery.verifier.threshold for c in found.candidates)
        True
        >>> _ = gallery.remove("hu")
        >>> gallery.identify("examples/face_b1.jpg").decision  # no longer enrolled
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
        ids, means, n_identities = self._db.search(
            embedding, max(top_k, RESCORED), lambda meta: self._check_model(meta, verifier)
        )
        scores = verifier.score_templates(embedding, means) if ids else np.empty(0)
        notes = list(probe.notes)
        ranked = sorted(zip(ids, scores.tolist(), strict=True), key=lambda c: -c[1])
        candidates = [
            Candidate(identity, float(score), verifier.result_for(float(score), notes))
            for identity, score in ranked[:top_k]
            if score >= threshold
        ]
        return Identification(candidates, float(threshold), n_identities, notes)


__all__ = ["RESCORED", "GalleryMatching"]
