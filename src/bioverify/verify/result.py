"""What the runtime hands back: acquired samples and verification results."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bioverify.errors import BioverifyError


@dataclass
class Prepared:
    """One input after preprocessing, before the model: the model input arrays (one face
    crop, or one or more voice windows whose embeddings are averaged), what was measured
    about the input, notes for the user, and a name of the input."""

    arrays: list[np.ndarray]
    quality: dict[str, Any]
    notes: list[str]
    source: str


@dataclass
class Embeddings:
    """What :meth:`Verifier.embed(..., on_error="skip") <bioverify.verify.Verifier.embed>`
    returns: the rows that could be embedded and why the others could not.

    ``vectors`` is ``float32 [M, D]`` (unit-norm rows); ``index[k]`` is the position, in
    the inputs, of row ``k``; ``failures`` maps the position of every input that failed to
    its error (no face, no speech, unreadable…), in input order.
    """

    vectors: np.ndarray
    index: list[int]
    failures: dict[int, BioverifyError]


@dataclass
class Acquired:
    """One input turned into a template.

    ``embedding`` is ``float32 [D]`` with unit L2 norm. ``quality`` says what was found: for
    faces ``face_box`` ``[x, y, w, h]`` in the input's pixels (``None`` in aligned mode),
    ``face_size`` (px), ``faces_found``, ``mode``, ``detector``, ``detector_score`` and
    ``sharpness`` (variance of the Laplacian of the model input: low when blurred); for voices
    ``duration_seconds``, ``speech_seconds``, ``windows`` and ``snr_db`` (an estimate).
    ``notes`` are remarks for the user (several faces, a fallback taken, a short clip…).
    ``source`` names the input.
    """

    embedding: np.ndarray
    quality: dict[str, Any]
    notes: list[str]
    source: str


def _number(value: float | None) -> float | str | None:
    """JSON-safe float: an infinite value (a threshold that accepts nothing) as a string."""
    if value is None:
        return None
    return "inf" if math.isinf(value) else float(value)


@dataclass
class VerifyResult:
    """The decision on one pair and what it means.

    ``match`` is ``score >= threshold`` (cosine similarity of the two embeddings). When the
    threshold comes from a calibration, ``operating_point`` names it (``"FAR=0.001"``) and
    ``far`` / ``frr`` are the false-accept / false-reject rates *measured* at that threshold
    on the calibration trials, with confidence intervals ``far_ci`` / ``frr_ci``
    (``supported`` is false when too few impostor trials stood behind the FAR target). With a
    fitted score calibrator, ``llr`` is the natural-log likelihood ratio of the score and
    ``probability`` the posterior probability of "same identity" at the prior ``prior``.
    ``threshold_llr`` is the LLR at the threshold and ``threshold_prior`` the prior at
    which the threshold is the Bayes decision (probability 0.5): ``match`` and
    ``probability >= 0.5`` agree exactly when ``prior`` equals ``threshold_prior`` — a
    threshold for FAR = 1 % asks for more evidence than "more likely than not" at prior 0.5.
    ``measured_on`` says whose trials the FAR/FRR were measured on (counts and the
    calibration's population); ``worst_condition`` is the condition of the calibration with
    the highest FAR at this threshold (name, FAR and interval); ``quality`` holds each
    side's :attr:`Acquired.quality` under ``"a"`` and ``"b"`` (face: size, detector score;
    voice: duration, speech, SNR), and ``quality_warnings`` names the values that lie
    outside the range the calibration was measured on, where its rates may not hold.
    Fields the loaded calibration cannot fill are ``None``.
    """

    match: bool
    score: float
    threshold: float
    modality: str
    operating_point: str | None = None
    far: float | None = None
    frr: float | None = None
    far_ci: tuple[float, float] | None = None
    frr_ci: tuple[float, float] | None = None
    supported: bool | None = None
    llr: float | None = None
    probability: float | None = None
    prior: float | None = None
    threshold_llr: float | None = None
    threshold_prior: float | None = None
    measured_on: str | None = None
    worst_condition: dict[str, Any] | None = None
    model_sha256: str | None = None
    notes: list[str] = field(default_factory=list)
    quality_warnings: list[str] = field(default_factory=list)
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with every field (strict JSON: no NaN or infinity)."""
        return {
            "match": self.match,
            "score": float(self.score),
            "threshold": _number(self.threshold),
            "operating_point": self.operating_point,
            "far": self.far,
            "frr": self.frr,
            "far_ci": list(self.far_ci) if self.far_ci is not None else None,
            "frr_ci": list(self.frr_ci) if self.frr_ci is not None else None,
            "supported": self.supported,
            "llr": self.llr,
            "probability": self.probability,
            "prior": self.prior,
            "threshold_llr": self.threshold_llr,
            "threshold_prior": self.threshold_prior,
            "measured_on": self.measured_on,
            "worst_condition": self.worst_condition,
            "modality": self.modality,
            "model_sha256": self.model_sha256,
            "notes": list(self.notes),
            "quality_warnings": list(self.quality_warnings),
            "quality": {side: dict(values) for side, values in self.quality.items()},
        }


__all__ = ["Acquired", "Embeddings", "Prepared", "VerifyResult"]
