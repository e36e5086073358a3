"""The calibration file: thresholds with known error rates plus a score → LLR map, as JSON.

:func:`~bioverify.calibration.fitting.fit_calibration` measures everything from
genuine/impostor scores; :class:`Calibration` holds the result and saves / loads it as
versioned, strict JSON (no NaN; an infinite threshold is the string ``"inf"``). Loading
validates every field and refuses a file it cannot trust with a :class:`CalibrationError`
naming the file and the field.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from bioverify.atomic import write_atomic
from bioverify.calibration.calibration_reader import (
    FORMAT_VERSION,
    CalibrationReader,
    read_strict_json,
)
from bioverify.calibration.conditions import ConditionReport
from bioverify.calibration.drift import ScoreQuantiles
from bioverify.calibration.llr import ScoreCalibrator
from bioverify.calibration.operating_points import OperatingPoint
from bioverify.calibration.quality_bins import QualityBins, trial_thresholds
from bioverify.errors import CalibrationError, ModelMismatch

_LABEL = re.compile(r"\s*(far|frr)\s*=\s*((?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)\s*", re.IGNORECASE)


def _utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _encode_threshold(value: float) -> float | str:
    return "inf" if value == math.inf else value


@dataclass
class Calibration:
    """Everything measured on one set of calibration trials.

    Made by :func:`fit_calibration`; saved and loaded as versioned, strict JSON
    (:meth:`save`, :meth:`load`). A model bundle's ``calibration.json`` is one; a
    :class:`~bioverify.verify.Verifier` takes its thresholds and rates from it.

    Attributes
    ----------
    n_genuine, n_impostor : int
        Trial counts.
    eer, eer_threshold : float
        Equal error rate and the (interpolated) threshold where it occurs.
    cllr : float
        Cllr (bits) of ``calibrator`` on the very trials it was fitted on (an optimistic
        self-evaluation).
    min_cllr : float
        Cllr after the best monotone calibration: ``cllr - min_cllr`` is the cost of
        miscalibration.
    min_dcf, min_dcf_threshold : float
        Lowest normalised detection cost at ``p_target`` (unit miss and false-accept
        costs) and its threshold (``+inf`` when rejecting everything is cheapest).
    actual_dcf : float
        Normalised detection cost of the Bayes decision on the calibrated LLRs.
    p_target : float
        The prior of genuine trials behind the detection costs.
    operating_points : list of OperatingPoint
        One threshold per target FAR, then per target FRR, with measured rates and
        confidence intervals.
    calibrator : ScoreCalibrator
        The fitted score → log-likelihood-ratio map.
    score_range : tuple of float
        Lowest and highest trial score.
    ci_method : {"identity-bootstrap", "clopper-pearson"}
        How the intervals were computed.
    n_resamples : int
        The identity-bootstrap size (0 with Clopper–Pearson intervals).
    confidence : float
        The intervals' confidence level.
    seed : int
        The bootstrap's seed.
    model_sha256 : str or None
        Binds the file to the model whose scores it calibrates (``None``: not bound).
    warnings : list of str
        Warnings raised while fitting (e.g. a target the trial count cannot support).
    created : str
        UTC time of the fit, ISO 8601.
    format_version : int
        The file format version.
    population : str or None
        Whose trials these are, in words.
    conditions : list of ConditionReport
        The rates of every operating point in each condition the trials came from
        (corpus, camera, degradation), worst FAR first.
    score_quantiles : ScoreQuantiles or None
        The genuine and impostor score distributions (for
        :func:`~bioverify.calibration.check_drift`).
    quality_ranges : dict of str to (float, float)
        The range (1st to 99th percentile) of each numeric quality value of the
        calibration's samples (face size, detector score, speech seconds…), so a probe
        outside it can be flagged.
    score_normalization : str or None
        The scores' normalisation: ``None`` for raw cosines, else the normaliser's key such
        as ``"as-norm top_k=200 cohort_sha256=…"`` (:mod:`bioverify.verify.score_norm`).
    quality_bins : QualityBins or None
        FAR thresholds that follow the worse sample's quality (``None``: one threshold for
        every pair; :mod:`bioverify.calibration.quality_bins`).

    See Also
    --------
    fit_calibration : measure one from trial scores.
    bioverify.calibration.check_calibration : does it hold on new labelled trials?

    Examples
    --------
    >>> from bioverify.verify import default_bundle
    >>> cal = Calibration.load(default_bundle("face") / "calibration.json")
    >>> cal.n_impostor, [op.label for op in cal.operating_points]
    (180000, ['FAR=0.01', 'FAR=0.001', 'FRR=0.05'])
    >>> op = cal.operating_point("FAR=0.01")
    >>> round(op.threshold, 4), round(op.frr, 4), op.ci_method
    (0.9286, 0.0996, 'identity-bootstrap')
    >>> round(float(cal.calibrator.probability([0.95])[0]), 3)  # P(same) at prior 0.5
    0.991
    """

    n_genuine: int
    n_impostor: int
    eer: float
    eer_threshold: float
    cllr: float
    min_cllr: float
    min_dcf: float
    min_dcf_threshold: float
    actual_dcf: float
    p_target: float
    operating_points: list[OperatingPoint]
    calibrator: ScoreCalibrator
    score_range: tuple[float, float]
    ci_method: str
    n_resamples: int
    confidence: float
    seed: int
    model_sha256: str | None = None
    warnings: list[str] = field(default_factory=list)
    created: str = field(default_factory=_utc_now)
    format_version: int = FORMAT_VERSION
    population: str | None = None
    conditions: list[ConditionReport] = field(default_factory=list)
    score_quantiles: ScoreQuantiles | None = None
    quality_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    score_normalization: str | None = None
    quality_bins: QualityBins | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON object :meth:`save` writes.

        Returns
        -------
        dict
            JSON-ready (an infinite ``min_dcf_threshold`` or operating-point threshold is
            the string ``"inf"``); :meth:`from_dict` reads it back.

        Examples
        --------
        >>> from bioverify.calibration import fit_calibration
        >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
        >>> cal = fit_calibration(scores, [0] * 6 + [1] * 6, target_fars=[0.5])
        >>> data = cal.to_dict()
        >>> data["n_genuine"], data["n_impostor"], data["operating_points"][0]["threshold"]
        (6, 6, 0.4)
        >>> Calibration.from_dict(data).to_dict() == data
        True
        """
        return {
            "format_version": self.format_version,
            "created": self.created,
            "model_sha256": self.model_sha256,
            "n_genuine": self.n_genuine,
            "n_impostor": self.n_impostor,
            "eer": self.eer,
            "eer_threshold": self.eer_threshold,
            "cllr": self.cllr,
            "min_cllr": self.min_cllr,
            "p_target": self.p_target,
            "min_dcf": self.min_dcf,
            "min_dcf_threshold": _encode_threshold(self.min_dcf_threshold),
            "actual_dcf": self.actual_dcf,
            "score_range": list(self.score_range),
            "ci_method": self.ci_method,
            "confidence": self.confidence,
            "n_resamples": self.n_resamples,
            "seed": self.seed,
            "operating_points": [op.to_dict() for op in self.operating_points],
            "calibrator": self.calibrator.to_dict(),
            "warnings": list(self.warnings),
            "population": self.population,
            "conditions": [c.to_dict() for c in self.conditions],
            "score_quantiles": (
                None if self.score_quantiles is None else self.score_quantiles.to_dict()
            ),
            "quality_ranges": {k: list(v) for k, v in self.quality_ranges.items()},
        } | {
            key: value.to_dict() if isinstance(value, QualityBins) else value
            for key, value in (
                ("score_normalization", self.score_normalization),
                ("quality_bins", self.quality_bins),
            )
            if value is not None
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "calibration") -> Calibration:
        """Validate a :meth:`to_dict` object and rebuild the calibration.

        Parameters
        ----------
        data : object
            A parsed JSON object, as :meth:`to_dict` makes it.
        source : str
            Names the origin (e.g. the file) in error messages.

        Returns
        -------
        Calibration
            The calibration ``data`` describes: ``Calibration.from_dict(cal.to_dict())``
            equals ``cal``.

        Raises
        ------
        CalibrationError
            An unknown ``format_version``; missing, unknown or mistyped fields; rates
            outside [0, 1]; intervals with low > high; operating points whose measured rate
            exceeds their target or whose ``supported`` flag contradicts the trial counts;
            thresholds that are not monotone in their targets.

        Examples
        --------
        >>> from bioverify.calibration import fit_calibration
        >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
        >>> cal = fit_calibration(scores, [0] * 6 + [1] * 6, target_fars=[0.5])
        >>> data = cal.to_dict() | {"eer": 1.5}
        >>> Calibration.from_dict(data, "my.json")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        bioverify.errors.CalibrationError: my.json: ...eer...
        """
        return cls(**CalibrationReader(data, source).fields())

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the calibration as strict JSON.

        The write is atomic (temporary file, fsync, ``os.replace``): a crash leaves the old
        file or the new one, never a mix. Missing parent folders are created.

        Parameters
        ----------
        path : str or path-like
            The file to write (``calibration.json`` in a bundle folder to install it).

        Returns
        -------
        pathlib.Path
            ``path``, now holding the calibration that :meth:`load` reads back.

        Raises
        ------
        CalibrationError
            A NaN or infinite value that JSON cannot hold, or the file cannot be written
            (the previous file, if any, is unchanged).

        See Also
        --------
        load

        Examples
        --------
        >>> from bioverify.calibration import fit_calibration
        >>> import tempfile
        >>> from pathlib import Path
        >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
        >>> cal = fit_calibration(scores, [0] * 6 + [1] * 6, target_fars=[0.5])
        >>> path = cal.save(Path(tempfile.mkdtemp()) / "bundle" / "calibration.json")
        >>> path.name, Calibration.load(path).to_dict() == cal.to_dict()
        ('calibration.json', True)
        """
        target = Path(path)
        try:
            text = json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"
        except ValueError as exc:
            raise CalibrationError(f"calibration holds a NaN or infinite value: {exc}") from exc
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            return write_atomic(target, text.encode("utf-8"))
        except OSError as exc:
            raise CalibrationError(
                f"cannot write calibration file {target} ({exc.strerror or exc}); the "
                "previous file, if any, is unchanged"
            ) from exc

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Calibration:
        """Read and validate a file written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like
            A calibration file (for example a bundle's ``calibration.json``).

        Returns
        -------
        Calibration
            The calibration the file holds, validated as :meth:`from_dict` validates it.

        Raises
        ------
        CalibrationError
            The file does not exist or cannot be read, is not UTF-8 strict JSON (NaN and
            Infinity are refused), or is not a valid calibration (see :meth:`from_dict`);
            the message names the file and the problem.

        Examples
        --------
        >>> from bioverify.verify import default_bundle
        >>> Calibration.load(default_bundle("voice") / "calibration.json").ci_method
        'identity-bootstrap'
        >>> Calibration.load("no/such/calibration.json")
        Traceback (most recent call last):
        ...
        bioverify.errors.CalibrationError: calibration file no/such/calibration.json does not exist
        """
        source = f"calibration file {path}"
        data = read_strict_json(path, source)
        return cls.from_dict(data, source)

    def operating_point(self, label_or_target: str | float) -> OperatingPoint:
        """The operating point for a label or a target FAR.

        Parameters
        ----------
        label_or_target : str or float
            A label such as ``"FAR=0.001"`` or ``"frr=1e-2"`` (case and spaces ignored), or
            a number: a target FAR.

        Returns
        -------
        OperatingPoint
            The point whose target equals it (relative tolerance 1e-9).

        Raises
        ------
        CalibrationError
            Not a label, or the calibration has no such point (the message lists the
            available labels).

        Examples
        --------
        >>> from bioverify.calibration import fit_calibration
        >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
        >>> cal = fit_calibration(scores, [0] * 6 + [1] * 6, target_fars=[0.5], target_frrs=[0.5])
        >>> cal.operating_point(0.5).label, cal.operating_point("frr = 0.5").threshold
        ('FAR=0.5', 0.8)
        >>> cal.operating_point("FAR=0.001")
        Traceback (most recent call last):
        ...
        bioverify.errors.CalibrationError: this calibration has no operating point FAR=0.001 \
(available: FAR=0.5, FRR=0.5); recalibrate with that target
        """
        if isinstance(label_or_target, str):
            match = _LABEL.fullmatch(label_or_target)
            if match is None:
                raise CalibrationError(
                    f"operating point {label_or_target!r} is not a label like 'FAR=0.001' "
                    "or 'FRR=0.01'"
                )
            kind, target = match.group(1).lower(), float(match.group(2))
        else:
            kind, target = "far", float(label_or_target)
        for op in self.operating_points:
            have = op.target_far if kind == "far" else op.target_frr
            if have is not None and math.isclose(have, target, rel_tol=1e-9):
                return op
        available = ", ".join(op.label for op in self.operating_points) or "none"
        raise CalibrationError(
            f"this calibration has no operating point {kind.upper()}={target:g} "
            f"(available: {available}); recalibrate with that target"
        )

    def decision_thresholds(
        self, pair_quality: Mapping[str, np.ndarray]
    ) -> list[np.ndarray] | None:
        """Each point's threshold per trial as ``verify`` decides, from the trials' qualities
        by key (``TrialScores.pair_quality``); ``None``: one threshold for all."""
        quality = pair_quality.get(self.quality_bins.measure) if self.quality_bins else None
        return trial_thresholds(self.operating_points, self.quality_bins, quality)

    def check_model(self, sha256: str, score_normalization: str | None = None) -> None:
        """Check that this calibration fits a model's scores.

        Parameters
        ----------
        sha256 : str
            The model's sha256 (``Verifier.model_sha256``).
        score_normalization : str, optional
            The key of the verifier's score normalisation (``None``: raw cosines).

        Raises
        ------
        ModelMismatch
            The calibration is bound to another model, or was fitted on other scores.
            (An unbound calibration, ``model_sha256=None``, fits any model.)

        Examples
        --------
        >>> from bioverify.calibration import fit_calibration
        >>> scores = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.45, 0.55, 0.7, 0.8, 0.9, 0.95]
        >>> cal = fit_calibration(scores, [0] * 6 + [1] * 6, target_fars=[0.5])
        >>> cal.check_model("0" * 64)  # unbound and fitted on raw cosines: fits
        >>> cal.check_model("0" * 64, "as-norm top_k=200 cohort_sha256=ab")
        Traceback (most recent call last):
        ...
        bioverify.errors.ModelMismatch: the calibration was fitted on raw cosine scores, but \
the verifier scores with as-norm top_k=200 cohort_sha256=ab; recalibrate with these scores \
(bioverify calibrate --model) or load with the matching --score-norm none|bundle
        """
        if self.model_sha256 is not None and self.model_sha256 != sha256.lower():
            raise ModelMismatch(
                f"the calibration was made for model sha256 {self.model_sha256[:12]}…, not "
                f"{sha256[:12]}…; calibrate this model's scores (bioverify calibrate)"
            )
        if self.score_normalization != score_normalization:
            raw = "raw cosine scores"
            raise ModelMismatch(
                f"the calibration was fitted on {self.score_normalization or raw}, but the "
                f"verifier scores with {score_normalization or raw}; recalibrate with these "
                "scores (bioverify calibrate --model) or load with the matching "
                "--score-norm none|bundle"
            )


__all__ = ["FORMAT_VERSION", "Calibration"]
