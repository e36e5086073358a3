"""The evaluation protocol every benchmark figure uses, so numbers mean the same thing.

Trials come from the split's held-out identities: all within-identity pairs capped at 50 per
identity and 20,000 overall (genuine), plus at least 30,000 uniformly sampled cross-identity
pairs (impostor; enough for TAR at FAR = 1e-3 by the rule of three with a tenfold margin), or
every cross-identity pair when there are fewer. Seed 0. When the samples come from several
corpora, each corpus is also scored on its own.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from bioverify.calibration.llr import min_dcf
from bioverify.calibration.roc import summarize
from bioverify.calibration.trials import make_trials, score_trials
from bioverify.training.data import Sample

TRIAL_PROTOCOL = {
    "max_genuine_per_identity": 50,
    "max_genuine": 20000,
    "impostor_ratio": 1.0,
    "min_impostor": 30000,
    "seed": 0,
}


def _score(embeddings: np.ndarray, identities: Sequence[str]) -> dict[str, object]:
    counts = np.unique(list(identities), return_counts=True)[1]
    cross_pairs = int((counts.sum() ** 2 - (counts**2).sum()) // 2)
    protocol = dict(TRIAL_PROTOCOL, min_impostor=min(TRIAL_PROTOCOL["min_impostor"], cross_pairs))
    trials = make_trials(list(identities), **protocol)  # type: ignore[arg-type]
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
    result["protocol"] = dict(TRIAL_PROTOCOL)
    return result
