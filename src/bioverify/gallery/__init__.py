"""Enrollment gallery: enroll samples, verify a claimed identity (1:1), identify (1:N).

:class:`Gallery` stores templates bound to one model in one SQLite file, or in PostgreSQL
with pgvector for a ``postgresql://`` URL; see :mod:`bioverify.gallery.gallery` and
:mod:`bioverify.gallery.store`. No torch here: numpy and the standard library's sqlite3
(psycopg only for a URL; FAISS, when installed, for the optional search backend).
"""

from __future__ import annotations

from bioverify.gallery.backup import restore
from bioverify.gallery.gallery import Gallery
from bioverify.gallery.protocol import Acquisition, Decision, GalleryVerifier
from bioverify.gallery.records import IdentitySummary, TemplateRecord
from bioverify.gallery.reports import (
    Candidate,
    DatasetEnrollReport,
    EnrolledSample,
    EnrollReport,
    Identification,
    IdentityDetails,
    ReembedReport,
    RemovalReport,
    SkippedSample,
)
from bioverify.gallery.search import TemplateIndex, faiss_available

__all__ = [
    "Acquisition",
    "Candidate",
    "DatasetEnrollReport",
    "Decision",
    "EnrollReport",
    "EnrolledSample",
    "Gallery",
    "GalleryVerifier",
    "Identification",
    "IdentityDetails",
    "IdentitySummary",
    "ReembedReport",
    "RemovalReport",
    "SkippedSample",
    "TemplateIndex",
    "TemplateRecord",
    "faiss_available",
    "restore",
]
