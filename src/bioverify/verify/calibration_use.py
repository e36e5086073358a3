"""Which calibration a :class:`~bioverify.verify.Verifier` uses, its default operating
point, and what a result says about where the calibration's rates were measured."""

from __future__ import annotations

import logging
from pathlib import Path

from bioverify.bundle import BundleInfo
from bioverify.calibration import Calibration, OperatingPoint
from bioverify.calibration.conditions import ConditionReport, worst_far
from bioverify.errors import CalibrationError
from bioverify.verify.result import VerifyResult

logger = logging.getLogger("bioverify.verify.verifier")


def resolve_calibration(
    calibration: Calibration | Path | str | bool | None,
    info: BundleInfo,
    score_normalization: str | None,
    explicit_threshold: bool = False,
) -> Calibration | None:
    """The calibration a model's scores are decided with, checked to belong to them.

    Parameters
    ----------
    calibration : Calibration, path, bool or None
        A calibration or its file; ``None``: the bundle's ``calibration.json`` if it has
        one; ``True``: the bundle's, or an error; ``False``: none.
    info : BundleInfo
        The model bundle whose scores the calibration must have been fitted on.
    score_normalization : str or None
        The key of the scores it must have been fitted on:
        :attr:`ScoreNormalizer.key <bioverify.verify.score_norm.ScoreNormalizer.key>`, or
        :func:`~bioverify.verify.score_norm.bundle_key` for the bundle's default scores;
        ``None`` for raw cosines.
    explicit_threshold : bool
        An explicit threshold is used: the bundle's own calibration, fitted on other
        scores, is then left out instead of refused (the threshold's rates are unknown
        anyway).

    Returns
    -------
    Calibration or None
        The calibration, or ``None`` when there is none to use.

    Raises
    ------
    CalibrationError
        ``calibration=True`` and the bundle has none, or an unreadable calibration file.
    ModelMismatch
        The calibration is of another model or of other scores.

    Examples
    --------
    >>> from bioverify.bundle import open_bundle
    >>> from bioverify.verify.defaults import default_bundle
    >>> from bioverify.verify.score_norm import bundle_key
    >>> face = open_bundle(default_bundle("face"))
    >>> resolve_calibration(True, face, bundle_key(face)).model_sha256 == face.model_sha256
    True
    >>> resolve_calibration(False, face, None) is None
    True
    """
    if calibration is False:
        return None
    key = score_normalization
    if calibration is None and explicit_threshold and info.calibration_path is not None:
        own = Calibration.load(info.calibration_path)
        return resolve_calibration(own, info, key) if own.score_normalization == key else None
    if calibration is None or calibration is True:
        path = info.calibration_path
        if path is None:
            if calibration is True:
                raise CalibrationError(
                    f"the bundle {info.folder} has no calibration.json; give a calibration "
                    "(--calibration FILE, calibration=)"
                )
            return None
        calibration = path
    loaded = calibration if isinstance(calibration, Calibration) else Calibration.load(calibration)
    loaded.check_model(info.model_sha256, key)
    if loaded.model_sha256 is None:
        logger.warning(
            "the calibration is not bound to a model (no model_sha256), so it cannot be checked "
            "against %s; recalibrate with `bioverify calibrate --model` to bind it",
            info.name,
        )
    return loaded


def default_point(calibration: Calibration) -> OperatingPoint:
    """The first FAR operating point (else the first point)."""
    points = calibration.operating_points
    far_points = [op for op in points if op.target_far is not None]
    return (far_points or points)[0]


def where_measured(
    result: VerifyResult,
    calibration: Calibration | None,
    op: OperatingPoint,
    quality_bin: ConditionReport | None = None,
) -> None:
    """Fill in whose trials the rates of ``op`` come from (those of ``quality_bin`` when
    its threshold decided), and the worst listed condition."""
    if calibration is None:
        return
    trials = quality_bin or calibration
    counts = f"{trials.n_impostor:,} impostor and {trials.n_genuine:,} genuine trials"
    if quality_bin is not None:
        counts += f" (pairs whose worse sample has {quality_bin.name})"
    result.measured_on = f"{counts} of {calibration.population or 'an unstated population'}"
    worst = worst_far(calibration.conditions, op.label)
    rates = worst.rates_for(op.label) if worst is not None else None
    if worst is not None and rates is not None and len(calibration.conditions) > 1:
        result.worst_condition = {
            "name": worst.name,
            "far": rates.far,
            "far_ci": list(rates.far_ci),
            "n_impostor": worst.n_impostor,
        }


__all__ = ["default_point", "resolve_calibration", "where_measured"]
