"""Scoring several labelled datasets at once, pooled or each as a condition of its own.

``bioverify evaluate`` and ``bioverify calibrate --model`` take several ``--data`` folders
(one per camera, site, corpus or degradation). Pooled, their samples make one set of people;
``by_dataset``, trials stay within each dataset, every trial remembers its dataset (its
*condition*) and the people are named ``<dataset>/<identity>``, so the same name in two
datasets is two subjects.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bioverify.datasets.trials import TrialProtocol
from bioverify.verify.evaluation import TrialScores, score_labelled_data
from bioverify.verify.verifier import Verifier


@dataclass(frozen=True)
class ScoredDataset:
    """The trials of one condition: its name (``None`` when the datasets are pooled), its
    scores, and which people they are, in words."""

    name: str | None
    result: TrialScores
    where: str


def dataset_names(data: Sequence[Path | str]) -> list[str]:
    """Each dataset named by its path below the datasets' common folder (``8k/arabic``), or
    by its own name when they share none.

    Examples
    --------
    >>> dataset_names(["conditions/as_is", "conditions/blur"])
    ['as_is', 'blur']
    """
    resolved = [Path(d).resolve() for d in data]
    try:
        common: Path | None = Path(os.path.commonpath(resolved))
    except ValueError:
        common = None
    names = []
    for d, full in zip(data, resolved, strict=True):
        relative = full.relative_to(common).as_posix() if common is not None else ""
        names.append(relative if relative not in ("", ".") else Path(d).name or str(d))
    return names


def score_datasets(
    verifier: Verifier,
    data: Sequence[Path | str],
    split_path: Path | str | None,
    split_part: str,
    *,
    by_dataset: bool,
    protocol: TrialProtocol | None = None,
    smallest_far: float | None = None,
    progress: bool = True,
) -> list[ScoredDataset]:
    """Score ``data`` (``split_part`` of ``split_path``, or everything): pooled, or each
    dataset on its own with ``by_dataset`` (see
    :func:`~bioverify.verify.evaluation.score_labelled_data` for the rest)."""
    if by_dataset:
        groups: list[tuple[str | None, Sequence[Path | str]]] = [
            (name, (d,)) for name, d in zip(dataset_names(data), data, strict=True)
        ]
    else:
        groups = [(None, data)]
    scored = []
    for name, datasets in groups:
        result, where = score_labelled_data(
            verifier,
            datasets,
            split_path,
            split_part,
            protocol=protocol,
            smallest_far=smallest_far,
            progress=progress,
        )
        scored.append(ScoredDataset(name, result, where))
    return scored


def joined(scored: Sequence[ScoredDataset]) -> TrialScores:
    """One set of trials from several conditions: subjects named ``<condition>/<identity>``,
    each trial's condition in ``conditions``, counts and failures added up (a single pooled
    result is returned as it is)."""
    if len(scored) == 1 and scored[0].name is None:
        return scored[0].result
    results = [s.result for s in scored]
    ranges: dict[str, tuple[float, float]] = {}
    for result in results:
        for key, (low, high) in result.quality_ranges.items():
            old = ranges.get(key, (low, high))
            ranges[key] = (min(low, old[0]), max(high, old[1]))

    def named(which: str) -> np.ndarray:
        return np.concatenate(
            [
                np.array([f"{s.name}/{x}" for x in getattr(s.result, which)], dtype=object)
                for s in scored
            ]
        )

    return TrialScores(
        scores=np.concatenate([r.scores for r in results]),
        labels=np.concatenate([r.labels for r in results]),
        subject_a=named("subject_a"),
        subject_b=named("subject_b"),
        counts=_added(r.counts for r in results),
        failures=[f for r in results for f in r.failures],
        n_inputs=sum(r.n_inputs for r in results),
        protocol=results[0].protocol,
        notes=[f"[{s.name}] {note}" for s in scored for note in s.result.notes],
        acquisition=_added(r.acquisition for r in results),
        quality_ranges=ranges,
        conditions=np.concatenate(
            [np.full(s.result.scores.size, s.name, dtype=object) for s in scored]
        ),
        pair_quality={
            key: np.concatenate(
                [r.pair_quality.get(key, np.full(r.scores.size, np.nan)) for r in results]
            )
            for key in {key for r in results for key in r.pair_quality}
        },
    )


def _added(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for one in counts:
        for key, n in one.items():
            total[key] = total.get(key, 0) + n
    return total


__all__ = ["ScoredDataset", "dataset_names", "joined", "score_datasets"]
