"""Scores and decisions: cosine (or AS-Norm) scores, and the decision at a threshold.

:class:`DecisionMixin` is the half of :class:`~bioverify.verify.Verifier` that scores
embeddings and turns a score into a :class:`~bioverify.verify.result.VerifyResult` with what
the calibration knows at the threshold. The embedding half is
:class:`~bioverify.verify.embedding.EmbeddingMixin`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

from bioverify.bundle import BundleInfo
from bioverify.calibration import Calibration, ConditionReport, OperatingPoint
from bioverify.calibration.roc import rule_of_three_count
from bioverify.errors import CalibrationError, InvalidInput
from bioverify.verify.calibration_use import where_measured
from bioverify.verify.result import VerifyResult
from bioverify.verify.score_norm import ScoreNormalizer


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Cosine similarity of two embeddings.

    Parameters
    ----------
    a, b : array-like
        Two embeddings of the same size (any shape; flattened).

    Returns
    -------
    float
        ``a·b / (|a| |b|)``, clipped into [-1, 1].

    Raises
    ------
    InvalidInput
        The sizes differ, or an embedding is zero or not finite.

    Examples
    --------
    >>> cosine(np.array([1.0, 0.0]), np.array([1.0, 1.0]))  # doctest: +ELLIPSIS
    0.7071...
    """
    a = np.asarray(a, dtype=np.float64).reshape(-1)
    b = np.asarray(b, dtype=np.float64).reshape(-1)
    if a.shape != b.shape:
        raise InvalidInput(f"embeddings differ in size ({a.size} vs {b.size})")
    norm = float(np.linalg.norm(a) * np.linalg.norm(b))
    if not math.isfinite(norm) or norm == 0.0:
        raise InvalidInput("an embedding is zero or not finite; cannot compute a cosine score")
    return float(np.clip(np.dot(a, b) / norm, -1.0, 1.0))


class DecisionMixin:
    """Score embeddings and decide: the decision half of :class:`~bioverify.verify.Verifier`.

    The attributes below are set by ``Verifier.__init__`` (see its Attributes).

    Attributes
    ----------
    info : BundleInfo
    model_sha256 : str
    modality : {"face", "voice"}
    calibration : Calibration or None
    point : OperatingPoint or None
    threshold : float or None
    operating_point : str or None
    prior : float
    normalizer : ScoreNormalizer or None
    """

    info: BundleInfo
    model_sha256: str
    modality: str
    calibration: Calibration | None
    point: OperatingPoint | None
    threshold: float | None
    operating_point: str | None
    prior: float
    normalizer: ScoreNormalizer | None

    def score(self, a_emb: np.ndarray, b_emb: np.ndarray) -> float:
        """The score of two embeddings (higher = more similar).

        Parameters
        ----------
        a_emb, b_emb : numpy.ndarray
            Two embeddings of this model (``[D]``), for example rows of :meth:`embed`.

        Returns
        -------
        float
            Their cosine, AS-normalised when the verifier has a :attr:`normalizer`: the
            score :meth:`verify` compares with :attr:`threshold`.

        Raises
        ------
        InvalidInput
            The embeddings differ in size, or one is zero or not finite.

        See Also
        --------
        score_pairs : many pairs at once.
        result_for : the decision on a score.

        Examples
        --------
        >>> from bioverify import Verifier
        >>> voice = Verifier.load("voice")
        >>> a, b = voice.embed(["examples/voice_a1.ogg", "examples/voice_a2.ogg"])
        >>> voice.score(a, b) >= voice.threshold  # one speaker: a match
        True
        """
        raw = cosine(a_emb, b_emb)
        if self.normalizer is None:
            return raw
        a, b = (np.asarray(x, np.float64).reshape(1, -1) for x in (a_emb, b_emb))
        return float(self.score_pairs(a / np.linalg.norm(a), b / np.linalg.norm(b))[0])

    def score_pairs(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Scores of unit embedding pairs ``(a[i], b[i])``, as :meth:`score` gives them.

        Parameters
        ----------
        a, b : numpy.ndarray
            ``[N, D]`` unit-norm embeddings (a single ``[D]`` row is one pair).

        Returns
        -------
        numpy.ndarray
            ``float64 [N]``, higher = more alike: cosines clipped to [-1, 1], or AS-Norm
            scores when the verifier normalises against a cohort.

        Examples
        --------
        >>> from bioverify import Verifier
        >>> face = Verifier.load("face")
        >>> e = face.embed(["examples/face_a1.jpg", "examples/face_a2.jpg", "examples/face_b1.jpg"])
        >>> face.score_pairs(e[[0, 0]], e[[1, 2]]).round(3)
        array([0.963, 0.804])
        """
        a, b = np.atleast_2d(a), np.atleast_2d(b)
        if self.normalizer is not None:
            return self.normalizer.score(a, b)
        raw = np.sum(np.asarray(a, np.float64) * np.asarray(b, np.float64), axis=1)
        return np.clip(raw, -1.0, 1.0)

    def score_templates(self, probe: np.ndarray, templates: np.ndarray) -> np.ndarray:
        """Scores of one unit ``probe`` against each row of ``templates``, as :meth:`score`.

        Parameters
        ----------
        probe : numpy.ndarray
            ``[D]``, unit norm.
        templates : numpy.ndarray
            ``[M, D]`` unit-norm rows (enrolled templates).

        Returns
        -------
        numpy.ndarray
            ``float64 [M]``: entry ``j`` is :meth:`score_pairs` of ``probe`` and
            ``templates[j]``.

        Examples
        --------
        >>> from bioverify import Verifier
        >>> face = Verifier.load("face")
        >>> e = face.embed(["examples/face_a1.jpg", "examples/face_a2.jpg", "examples/face_b1.jpg"])
        >>> face.score_templates(e[0], e[1:]).round(3)
        array([0.963, 0.804])
        """
        templates = np.atleast_2d(templates)
        return self.score_pairs(np.broadcast_to(probe, templates.shape), templates)

    def _quality_bin(self, pair_quality: float | None) -> ConditionReport | None:
        """The calibration's quality bin for ``pair_quality``, when its thresholds follow
        quality and decide here (not an explicit ``threshold=``)."""
        calibration = self.calibration
        if calibration is None or calibration.quality_bins is None or self.point is None:
            return None
        return calibration.quality_bins.bin_for(pair_quality)

    def _require_threshold(self) -> float:
        if self.threshold is None:
            raise CalibrationError(
                f"no threshold for {self.info.name}: it has no calibration. Calibrate it on "
                "your data (`bioverify calibrate --model BUNDLE --data DIR --install`) or give "
                "a threshold explicitly (--threshold, threshold=)"
            )
        return self.threshold

    def result_for(
        self, score: float, notes: Iterable[str] = (), pair_quality: float | None = None
    ) -> VerifyResult:
        """The decision on a score at this verifier's threshold.

        Parameters
        ----------
        score : float
            A score of this verifier (:meth:`score`).
        notes : iterable of str
            Remarks to carry into the result.
        pair_quality : float, optional
            The worse of the two samples' values of the calibration's quality measure:
            when the calibration's thresholds follow quality
            (``Calibration.quality_bins``), the threshold and rates of that quality's bin
            decide instead of the pooled ones.

        Returns
        -------
        VerifyResult
            ``match = score >= threshold``, with what the calibration knows at that
            threshold (FAR / FRR and intervals, LLR, probability, where it was measured).
            ``quality`` is empty: no input was seen.

        Raises
        ------
        CalibrationError
            The verifier has no threshold (no calibration and no ``threshold=``).

        Examples
        --------
        >>> from bioverify import Verifier
        >>> face = Verifier.load("face")
        >>> face.result_for(0.95).match, face.result_for(0.5).match
        (True, False)
        >>> round(face.result_for(0.95).far, 4)
        0.0036
        """
        own = self._quality_bin(pair_quality)
        rates = own.rates_for(self.point.label) if own is not None and self.point else None
        threshold = rates.threshold if rates is not None else self._require_threshold()
        score = float(score)
        result = VerifyResult(
            match=score >= threshold,
            score=score,
            threshold=threshold,
            modality=self.modality,
            operating_point=self.operating_point,
            model_sha256=self.model_sha256,
            notes=list(notes),
        )
        if self.point is not None:
            op = self.point
            where_measured(result, self.calibration, op, own)
            claims = op if rates is None else rates
            result.far, result.frr = claims.far, claims.frr
            result.far_ci, result.frr_ci = claims.far_ci, claims.frr_ci
            result.supported = op.supported
            if own is not None and rates is not None:
                result.quality_bin = own.name
                result.supported = op.target_far is None or own.n_impostor >= (
                    rule_of_three_count(op.target_far)
                )
            if not result.supported:
                result.notes.append(
                    f"the calibration had too few impostor trials to support {op.label} "
                    "(rule of three); its expected FAR is uncertain"
                )
        if self.calibration is not None and self.calibration.calibrator.is_fitted:
            calibrator = self.calibration.calibrator
            result.llr = float(calibrator.llr([score])[0])
            result.probability = float(calibrator.probability([score], self.prior)[0])
            result.prior = self.prior
            if math.isfinite(threshold):
                result.threshold_llr = float(calibrator.llr([threshold])[0])
                result.threshold_prior = float(1.0 / (1.0 + math.exp(result.threshold_llr)))
        return result


__all__ = ["DecisionMixin", "cosine"]
