"""What gallery operations return: plain dataclasses with ``to_dict()`` for ``--json``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from bioverify.gallery.protocol import Decision
from bioverify.gallery.records import IdentitySummary, TemplateRecord
from bioverify.jsonable import FieldsToDict


@dataclass(frozen=True)
class EnrolledSample:
    source: str
    template_id: int
    quality: dict[str, Any]
    notes: list[str]


@dataclass(frozen=True)
class SkippedSample:
    """A sample not stored: it failed to acquire (``reason`` is the error's class name,
    e.g. ``NoFaceFound``) or the identity already holds a file with its sha256
    (``reason == "duplicate"``)."""

    source: str
    reason: str
    message: str


@dataclass(frozen=True)
class EnrollReport:
    """The outcome of one :meth:`Gallery.enroll`: what was stored and what was skipped."""

    identity: str
    enrolled: list[EnrolledSample]
    skipped: list[SkippedSample]
    n_templates: int
    """templates the identity holds after the enrollment"""

    @property
    def ok(self) -> bool:
        """True when at least one sample was stored, or every sample was already held
        (enrolling the same files again is not a failure)."""
        return bool(self.enrolled) or self.already_enrolled

    @property
    def already_enrolled(self) -> bool:
        """Nothing new: the identity already holds every given sample."""
        return (
            not self.enrolled
            and bool(self.skipped)
            and all(s.reason == "duplicate" for s in self.skipped)
        )

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok, "already_enrolled": self.already_enrolled}


@dataclass(frozen=True)
class DatasetEnrollReport:
    """The outcome of enrolling every identity of a dataset, one :meth:`Gallery.enroll`
    each: their reports, and the dataset's files that were not samples
    (``(path, why)``)."""

    reports: list[EnrollReport]
    files_not_samples: list[tuple[str, str]] = field(default_factory=list)

    @property
    def identities_in_gallery(self) -> int:
        """The dataset's identities that hold templates in the gallery now."""
        return sum(r.n_templates > 0 for r in self.reports)

    @property
    def templates_added(self) -> int:
        return sum(len(r.enrolled) for r in self.reports)

    @property
    def duplicates_skipped(self) -> int:
        """Samples skipped because their identity already held the file."""
        return sum(s.reason == "duplicate" for r in self.reports for s in r.skipped)

    @property
    def samples_failed(self) -> int:
        """Samples that failed to acquire."""
        return sum(s.reason != "duplicate" for r in self.reports for s in r.skipped)

    def to_dict(self) -> dict[str, Any]:
        return {
            "identities": len(self.reports),
            "identities_in_gallery": self.identities_in_gallery,
            "templates_added": self.templates_added,
            "duplicates_skipped": self.duplicates_skipped,
            "samples_failed": self.samples_failed,
            "files_not_samples": [[path, why] for path, why in self.files_not_samples],
            "reports": [r.to_dict() for r in self.reports],
        }


@dataclass(frozen=True)
class Candidate:
    """One identity whose mean template scored at or above the threshold."""

    identity: str
    score: float
    result: Decision

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "identity": self.identity, "score": self.score}


@dataclass(frozen=True)
class Identification:
    """Open-set 1:N result: candidates at or above the threshold, best first; none means
    the probe is nobody the gallery knows (``"unknown"``)."""

    candidates: list[Candidate]
    threshold: float
    n_identities: int
    notes: list[str] = field(default_factory=list)

    @property
    def unknown(self) -> bool:
        return not self.candidates

    @property
    def decision(self) -> str:
        return "unknown" if self.unknown else self.candidates[0].identity

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision,
            "unknown": self.unknown,
            "candidates": [candidate.to_dict() for candidate in self.candidates],
            "threshold": self.threshold,
            "n_identities": self.n_identities,
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class IdentityDetails:
    summary: IdentitySummary
    templates: list[TemplateRecord]

    def to_dict(self) -> dict[str, Any]:
        return {**self.summary.to_dict(), "templates": [t.to_dict() for t in self.templates]}


@dataclass(frozen=True)
class RemovalReport(FieldsToDict):
    identity: str
    n_templates: int
    scrubbed: bool
    """False when another process's open read kept the old copies from being erased yet"""


@dataclass(frozen=True)
class ReembedReport(FieldsToDict):
    """The outcome of :meth:`Gallery.reembed`. ``switched`` says whether the gallery now
    belongs to the new model; it does not while any template is ``unreachable`` (unless
    those were dropped on request)."""

    old_model_sha256: str
    new_model_sha256: str
    reembedded: int
    unreachable: list[SkippedSample]
    dropped_identities: list[str]
    switched: bool


__all__ = [
    "Candidate",
    "DatasetEnrollReport",
    "EnrollReport",
    "EnrolledSample",
    "Identification",
    "IdentityDetails",
    "ReembedReport",
    "RemovalReport",
    "SkippedSample",
]
