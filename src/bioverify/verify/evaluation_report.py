"""What ``bioverify evaluate`` reports: :class:`EvaluationReport`, made from a model's
:class:`~bioverify.verify.evaluation.TrialScores`; ``to_dict()`` is the ``--json`` output."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from bioverify.calibration import Calibration, ConditionReport, measure_conditions, summarize
from bioverify.calibration.costs import min_dcf
from bioverify.calibration.summary import VerificationSummary
from bioverify.verify.evaluation import (
    SHOW_FAILURES,
    TrialScores,
    accuracy_unfit,
    fold_accuracy,
)
from bioverify.verify.verifier import Verifier

#: the false accept rates at which an evaluation reports the true accept rate
TARGET_FARS = (1e-2, 1e-3)
#: the prior of genuine trials of the reported minimum detection cost
P_TARGET = 0.01


@dataclass
class EvaluationReport:
    """A model's error rates on labelled trials, and what stands behind them.

    ``summary`` holds the EER, its threshold, the trial counts and the TAR at each of
    :data:`TARGET_FARS` (with whether enough impostor trials support it); ``counts`` the
    other trial counts (``pairs``, ``trials_dropped``…); ``failures`` the ``(input,
    reason)`` of every input that failed to acquire, of ``n_inputs``; ``fold_accuracy``
    LFW's 10-fold accuracies (pairs files with folds and balanced trials only); ``data``
    and ``face_mode`` what was evaluated and how, when known; ``conditions`` the EER of
    each dataset scored on its own and the FAR and FRR there at each threshold of
    ``calibration_label`` (the model's calibration), worst FAR first.
    """

    model_name: str
    modality: str
    model_sha256: str
    score_normalization: str | None
    protocol: str
    summary: VerificationSummary
    counts: dict[str, int]
    min_dcf: float
    min_dcf_threshold: float | None
    failures: list[tuple[str, str]]
    n_inputs: int
    acquisition: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    fold_accuracy: list[float] | None = None
    data: str | None = None
    face_mode: str | None = None
    p_target: float = P_TARGET
    conditions: list[ConditionReport] = field(default_factory=list)
    calibration_label: str | None = None

    @classmethod
    def from_scores(
        cls,
        verifier: Verifier,
        result: TrialScores,
        *,
        data: str | None = None,
        face_mode: str | None = None,
        calibration: Calibration | None = None,
        calibration_label: str | None = None,
    ) -> EvaluationReport:
        """The report on ``result``, the trials ``verifier`` scored.

        Parameters
        ----------
        verifier : Verifier
            The model that scored the trials.
        result : TrialScores
            Its scores (:func:`~bioverify.verify.evaluation.score_labelled_data`,
            :func:`~bioverify.verify.evaluation.score_pairs`…).
        data, face_mode : str, optional
            What was evaluated (in words) and the face mode used, for the report.
        calibration : Calibration, optional
            With trials from several conditions (``result.conditions``): the thresholds
            whose FAR and FRR each condition reports (without one: its EER only).
        calibration_label : str, optional
            Where that calibration came from, in words.

        Returns
        -------
        EvaluationReport

        Examples
        --------
        >>> import numpy as np
        >>> from bioverify.verify.evaluation import TrialScores
        >>> trials = TrialScores(
        ...     scores=np.array([0.9, 0.8, 0.2, 0.1]), labels=np.array([1, 1, 0, 0]),
        ...     subject_a=np.array(["a", "b", "a", "b"]),
        ...     subject_b=np.array(["a", "b", "b", "a"]),
        ...     counts={"genuine": 2, "impostor": 2}, failures=[], n_inputs=4,
        ...     protocol="four trials")
        >>> report = EvaluationReport.from_scores(Verifier.load("face"), trials)
        >>> report.summary.eer, report.to_dict()["trials"]
        (0.0, {'genuine': 2, 'impostor': 2})
        """
        summary = summarize(result.scores, result.labels, TARGET_FARS)
        dcf, dcf_threshold = min_dcf(result.scores, result.labels, P_TARGET)
        notes = list(result.notes)
        accuracies = None
        if result.folds is not None and np.unique(result.folds).size > 1:
            reason = accuracy_unfit(summary.n_genuine, summary.n_impostor)
            if reason is None:
                accuracies = fold_accuracy(result.scores, result.labels, result.folds)
            else:
                notes.append(f"no fold accuracy: {reason}")
        return cls(
            model_name=verifier.info.name,
            modality=verifier.modality,
            model_sha256=verifier.model_sha256,
            score_normalization=None if verifier.normalizer is None else verifier.normalizer.key,
            protocol=result.protocol,
            summary=summary,
            counts={k: v for k, v in result.counts.items() if k not in ("genuine", "impostor")},
            min_dcf=dcf,
            min_dcf_threshold=None if math.isinf(dcf_threshold) else dcf_threshold,
            failures=list(result.failures),
            n_inputs=result.n_inputs,
            acquisition=dict(result.acquisition),
            notes=notes,
            fold_accuracy=accuracies,
            data=data,
            face_mode=face_mode,
            conditions=[]
            if result.conditions is None
            else measure_conditions(
                result.scores,
                result.labels,
                result.conditions,
                [] if calibration is None else calibration.operating_points,
                result.subject_a,
                result.subject_b,
                per_trial=None
                if calibration is None
                else calibration.decision_thresholds(result.pair_quality),
            ),
            calibration_label=calibration_label if calibration is not None else None,
        )

    @property
    def failure_rate(self) -> float:
        """The share of inputs that failed to acquire."""
        return len(self.failures) / self.n_inputs if self.n_inputs else 0.0

    @property
    def failure_examples(self) -> list[tuple[str, str]]:
        """The first failures to acquire, the ones a report lists by name."""
        return self.failures[:SHOW_FAILURES]

    def fold_summary(self) -> tuple[float, float] | None:
        """The mean and standard deviation of the fold accuracies, if any."""
        if self.fold_accuracy is None:
            return None
        return float(np.mean(self.fold_accuracy)), float(np.std(self.fold_accuracy))

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``bioverify evaluate --json``."""
        summary = self.summary
        out: dict[str, Any] = {} if self.data is None else {"data": self.data}
        out |= {
            "model": {
                "name": self.model_name,
                "modality": self.modality,
                "sha256": self.model_sha256,
                "score_normalization": self.score_normalization,
            },
            "protocol": self.protocol,
            "trials": {"genuine": summary.n_genuine, "impostor": summary.n_impostor, **self.counts},
            "eer": summary.eer,
            "eer_threshold": summary.eer_threshold,
            "tar_at_far": {f"{t:g}": tar for t, tar in summary.tar_at_far.items()},
            "far_supported": {f"{t:g}": ok for t, ok in summary.supported.items()},
            "min_dcf": {
                "p_target": self.p_target,
                "value": self.min_dcf,
                "threshold": self.min_dcf_threshold,
            },
            "failures_to_acquire": {
                "count": len(self.failures),
                "of": self.n_inputs,
                "rate": self.failure_rate,
                "examples": [
                    {"input": source, "reason": reason} for source, reason in self.failure_examples
                ],
            },
            "acquisition": dict(self.acquisition),
            "notes": list(self.notes),
        }
        folds = self.fold_summary()
        if folds is not None:
            out["fold_accuracy"] = {"mean": folds[0], "std": folds[1], "folds": self.fold_accuracy}
        if self.face_mode is not None:
            out["face_mode"] = self.face_mode
        if self.conditions:
            out["conditions"] = {
                "thresholds_from": self.calibration_label,
                "per_condition": [c.to_dict() for c in self.conditions],
            }
        return out


__all__ = ["P_TARGET", "TARGET_FARS", "EvaluationReport"]
