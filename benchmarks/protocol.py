"""The evaluation protocol every benchmark figure uses, so numbers mean the same thing.

Trials come from the split's held-out identities, chosen by the default
:class:`~bioverify.datasets.TrialProtocol` (the one ``evaluate`` and ``calibrate`` use: all
within-identity pairs capped at 50 per identity and 20,000 overall, at least 30,000
cross-identity pairs, or all of them when fewer exist; seed 0). When the samples come from
several corpora, each corpus is also scored on its own.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from bioverify.calibration.costs import min_dcf
from bioverify.calibration.scoring import score_trials
from bioverify.calibration.summary import summarize
from bioverify.datasets.inventory import Sample
from bioverify.datasets.trials import TrialProtocol

PROTOCOL = TrialProtocol()


def _score(embeddings: np.ndarray, identities: Sequence[str]) -> dict[str, object]:
    trials = PROTOCOL.trials(list(identities))
    scores = score_trials(embeddings, trials)
    summary: dict[str, object] = dict(summarize(scores, trials.genuine).to_dict())
    summary["min_dcf_0.01"] = min_dcf(scores, trials.genuine, p_target=0.01)[0]
    return summary


def evaluate_embeddings(embeddings: np.ndarray, samples: Sequence[Sample]) -> dict[str, object]:
    """EER, TAR@FAR and trial counts on ``samples`` (pooled, and per corpus if several)."""
    identities = [s.identity for s in samples]
    result: dict[str, object] = {"pooled": _score(embeddings, identities)}
    sources = sorted({str(getattr(s, "source", "")) for s in samples})
    if len(sources) > 1:
        per_source = {}
        for source in sources:
            rows = np.array([str(getattr(s, "source", "")) == source for s in samples])
            kept = [i for i, r in zip(identities, rows, strict=True) if r]
            per_source[source] = _score(embeddings[rows], kept)
        result["per_corpus"] = per_source
    result["n_identities"] = len(set(identities))
    result["protocol"] = dataclasses.asdict(PROTOCOL)
    return result
