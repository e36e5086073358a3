"""Calibration of verification scores: ROC/DET, EER, thresholds at a target FAR/FRR with
confidence intervals, score → log-likelihood-ratio maps, rates per condition, checks of a
calibration on the user's data, drift of production scores, and the calibration file.

numpy / scipy / scikit-learn only (never torch). :func:`write_report` needs matplotlib and is
imported on first use, so ``import bioverify.calibration`` stays fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bioverify.calibration.calibration_file import FORMAT_VERSION, Calibration
from bioverify.calibration.check import PointCheck, check_calibration
from bioverify.calibration.conditions import ConditionReport, RatesAt, measure_conditions
from bioverify.calibration.costs import actual_dcf, cllr, detection_cost, min_cllr, min_dcf
from bioverify.calibration.drift import DriftReport, ScoreQuantiles, check_drift
from bioverify.calibration.fitting import fit_calibration
from bioverify.calibration.llr import ScoreCalibrator
from bioverify.calibration.operating_points import OperatingPoint, operating_points
from bioverify.calibration.roc import RocCurve, eer, threshold_at_far, threshold_at_frr
from bioverify.calibration.scores_csv import ScoreTable, read_scores_csv
from bioverify.calibration.scoring import score_trials
from bioverify.calibration.summary import summarize
from bioverify.lazy import lazy_attributes

if TYPE_CHECKING:
    from bioverify.calibration.report import write_report


__getattr__ = lazy_attributes(__name__, {"write_report": "bioverify.calibration.report"})


__all__ = [
    "FORMAT_VERSION",
    "Calibration",
    "ConditionReport",
    "DriftReport",
    "OperatingPoint",
    "PointCheck",
    "RatesAt",
    "RocCurve",
    "ScoreCalibrator",
    "ScoreQuantiles",
    "ScoreTable",
    "actual_dcf",
    "check_calibration",
    "check_drift",
    "cllr",
    "detection_cost",
    "eer",
    "fit_calibration",
    "measure_conditions",
    "min_cllr",
    "min_dcf",
    "operating_points",
    "read_scores_csv",
    "score_trials",
    "summarize",
    "threshold_at_far",
    "threshold_at_frr",
    "write_report",
]
