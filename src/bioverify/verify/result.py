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

    Attributes
    ----------
    vectors : numpy.ndarray
        ``float32 [M, D]``, unit-norm rows.
    index : list of int
        ``index[k]`` is the position, in the inputs, of row ``k``.
    failures : dict of int to BioverifyError
        The position of every input that failed, in input order, and its error
        (:class:`~bioverify.errors.NoFaceFound`, :class:`~bioverify.errors.NoSpeechFound`,
        :class:`~bioverify.errors.InvalidInput`).

    Examples
    --------
    >>> from bioverify import Verifier
    >>> face = Verifier.load("face")
    >>> batch = face.embed(["missing.jpg", "examples/face_b1.jpg"], on_error="skip")
    >>> batch.vectors.shape, batch.index, type(batch.failures[0]).__name__
    ((1, 128), [1], 'InvalidInput')
    """

    vectors: np.ndarray
    index: list[int]
    failures: dict[int, BioverifyError]


@dataclass
class Acquired:
    """One input turned into a template (what :meth:`Verifier.acquire
    <bioverify.verify.Verifier.acquire>` returns).

    Attributes
    ----------
    embedding : numpy.ndarray
        ``float32 [D]`` with unit L2 norm.
    quality : dict
        What was found. Faces: ``face_box`` ``[x, y, w, h]`` in the input's pixels
        (``None`` in aligned mode), ``face_size`` (px), ``faces_found``, ``mode``,
        ``detector``, ``detector_score`` and ``sharpness`` (variance of the Laplacian of the
        model input: low when blurred). Voices: ``duration_seconds``, ``speech_seconds``,
        ``windows`` and ``snr_db`` (an estimate).
    notes : list of str
        Remarks for the user (several faces, a fallback taken, a short clip…).
    source : str
        Names the input.

    Examples
    --------
    >>> from bioverify import Verifier
    >>> sample = Verifier.load("voice").acquire("examples/voice_a1.ogg")
    >>> sample.embedding.dtype, sample.quality["duration_seconds"], sample.source
    (dtype('float32'), 5.796, 'examples/voice_a1.ogg')
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

    What :func:`bioverify.verify`, :meth:`Verifier.verify
    <bioverify.verify.Verifier.verify>` and :meth:`Verifier.result_for
    <bioverify.verify.Verifier.result_for>` return. Fields the loaded calibration cannot
    fill are ``None``.

    ``match`` and ``probability >= 0.5`` agree exactly when ``prior`` equals
    ``threshold_prior``: a threshold for FAR = 1 % asks for more evidence than "more likely
    than not" at prior 0.5.

    Attributes
    ----------
    match : bool
        ``score >= threshold``.
    score : float
        The cosine similarity of the two embeddings (AS-normalised when the verifier
        normalises scores).
    threshold : float
        The decision threshold (``inf``: accept nothing).
    modality : {"face", "voice"}
        The model's modality.
    operating_point : str or None
        The calibration's operating point behind the threshold, such as ``"FAR=0.001"``.
    far, frr : float or None
        The false-accept and false-reject rates *measured* at the threshold on the
        calibration trials.
    far_ci, frr_ci : tuple of float or None
        Their confidence intervals ``(low, high)``.
    supported : bool or None
        False when too few impostor trials stood behind the FAR target (rule of three).
    llr : float or None
        The natural-log likelihood ratio of the score (fitted score calibrator).
    probability : float or None
        The posterior probability of "same identity" at the prior ``prior``.
    prior : float or None
        The prior of same-identity pairs behind ``probability``.
    threshold_llr : float or None
        The LLR at the threshold.
    threshold_prior : float or None
        The prior at which the threshold is the Bayes decision (probability 0.5).
    measured_on : str or None
        Whose trials the FAR/FRR were measured on (counts and the calibration's
        population).
    worst_condition : dict or None
        The calibration's condition with the highest FAR at this threshold (``name``,
        ``far``, ``far_ci``, ``n_impostor``).
    quality_bin : str or None
        When the calibration's thresholds follow sample quality: the bin of the worse
        sample's quality whose threshold and rates decided (``"sharpness >= 52.1"``).
    model_sha256 : str or None
        The model that made the embeddings.
    notes : list of str
        Remarks on the inputs, prefixed ``a:`` / ``b:``.
    quality_warnings : list of str
        Quality values outside the range the calibration was measured on, where its rates
        may not hold.
    quality : dict
        Each side's :attr:`Acquired.quality` under ``"a"`` and ``"b"``.

    Examples
    --------
    >>> import bioverify
    >>> result = bioverify.verify("examples/face_a1.jpg", "examples/face_a2.jpg")
    >>> result.match, round(result.probability, 3), result.supported
    (True, 0.998, True)
    >>> [round(rate, 4) for rate in (result.far, *result.far_ci)]
    [0.003, 0.0018, 0.0044]
    >>> result.worst_condition["name"], result.quality["a"]["face_size"]
    ('blur', 98)
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
    quality_bin: str | None = None
    model_sha256: str | None = None
    notes: list[str] = field(default_factory=list)
    quality_warnings: list[str] = field(default_factory=list)
    quality: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with every field.

        Returns
        -------
        dict
            Strict JSON: no NaN, and an infinite threshold is the string ``"inf"``.

        Examples
        --------
        >>> import json
        >>> result = VerifyResult(match=False, score=0.2, threshold=float("inf"), modality="face")
        >>> json.dumps(result.to_dict()["threshold"])
        '"inf"'
        """
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
