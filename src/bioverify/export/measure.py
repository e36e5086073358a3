"""What each exported variant is worth: speed in onnxruntime and EER on real samples."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from bioverify.calibration.roc import NEAR_CHANCE_EER
from bioverify.calibration.scoring import score_trials
from bioverify.calibration.summary import VerificationSummary, summarize
from bioverify.datasets.trials import TrialProtocol
from bioverify.errors import ExportError, InvalidInput


def cpu_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """An onnxruntime session on the CPU provider (``threads`` intra-op threads, default
    onnxruntime's choice)."""
    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def embeddings_per_second(
    session: ort.InferenceSession, batch: np.ndarray, seconds: float = 1.0, min_runs: int = 3
) -> float:
    """Throughput on ``batch``: one warm-up run, then runs until ``seconds`` have passed
    (at least ``min_runs``)."""
    feed = {session.get_inputs()[0].name: batch}
    session.run(None, feed)
    runs, began = 0, time.perf_counter()
    while runs < min_runs or time.perf_counter() - began < seconds:
        session.run(None, feed)
        runs += 1
    return runs * batch.shape[0] / (time.perf_counter() - began)


def trial_summary(embeddings: np.ndarray, identities: Sequence[str]) -> VerificationSummary | None:
    """EER (and trial counts) of cosine scores on the trials that
    :class:`~bioverify.datasets.TrialProtocol` makes of the samples; None when no trial set
    can be formed (one identity, or no identity with two samples)."""
    try:
        trials = TrialProtocol().trials(list(identities))
    except InvalidInput:
        return None
    return summarize(score_trials(embeddings, trials), trials.genuine)


#: distinct inputs whose embeddings all agree beyond this cosine: the model has collapsed
COLLAPSED_COSINE = 0.99999


def check_discriminates(embeddings: np.ndarray, summary: VerificationSummary | None) -> None:
    """Raise :class:`ExportError` for a model that cannot tell inputs apart: every distinct
    probe input (random images or noise, and real samples) embedded to the same vector
    (pairwise cosine above :data:`COLLAPSED_COSINE`), or an EER on the real samples' trials
    near chance (:data:`~bioverify.calibration.roc.NEAR_CHANCE_EER`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> check_discriminates(rng.normal(size=(5, 8)), None)
    >>> check_discriminates(np.ones((5, 8)), None)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    bioverify.errors.ExportError: the model gives every input the same embedding ...
    """
    unit = embeddings / np.linalg.norm(embeddings, axis=1, keepdims=True)
    cosine = unit @ unit.T
    lowest = float(cosine[~np.eye(len(unit), dtype=bool)].min()) if len(unit) > 1 else -1.0
    if lowest > COLLAPSED_COSINE:
        raise ExportError(
            f"the model gives every input the same embedding (lowest cosine between "
            f"{len(unit)} different inputs {lowest:.6f}): it has collapsed; retrain it, or "
            "pass --force (force=True) to export it anyway"
        )
    if summary is not None and summary.eer >= NEAR_CHANCE_EER:
        raise ExportError(
            f"EER {100 * summary.eer:.1f} % on the real samples' trials is near chance: the "
            "model cannot tell these identities apart; pass --force (force=True) to export "
            "it anyway"
        )


__all__ = [
    "COLLAPSED_COSINE",
    "check_discriminates",
    "cpu_session",
    "embeddings_per_second",
    "trial_summary",
]
