"""Scoring a model on labelled data: LFW-style ``pairs.txt`` or all trials of identity-labelled
samples, with failures to acquire counted (never dropped silently).

No torch and no ``bioverify.training``: labelled folders are read with
:mod:`bioverify.datasets`, trials chosen by its :class:`~bioverify.datasets.TrialProtocol`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from bioverify.calibration import score_trials
from bioverify.calibration.roc import rule_of_three_count
from bioverify.datasets import TrialProtocol, select_samples
from bioverify.errors import DataError, InvalidInput
from bioverify.progress import Progress
from bioverify.verify.result import Acquired
from bioverify.verify.verifier import Verifier

#: LFW-style file name of sample ``n`` of ``name``
LFW_FILE = "{name}/{name}_{n:04d}.jpg"
#: failures listed by name in a report
SHOW_FAILURES = 5
#: inputs per progress step
_CHUNK = 256


@dataclass(frozen=True)
class Pair:
    """One trial of a pairs protocol: two files, same identity or not, and its fold."""

    a: Path
    b: Path
    genuine: bool
    identity_a: str
    identity_b: str
    fold: int = 0


def read_lfw_pairs(path: Path | str, data_dir: Path | str) -> list[Pair]:
    """Parse LFW's ``pairs.txt``: a header ``folds n`` (or just ``n`` for one fold), then per
    fold ``n`` same-identity lines ``name i j`` and ``n`` different-identity lines
    ``name1 i name2 j``; files are ``data_dir/name/name_%04d.jpg``. Fields may be separated
    by tabs or spaces. Raises :class:`DataError` naming the line of any malformed entry."""
    path, root = Path(path), Path(data_dir)
    try:
        lines = [line.split() for line in path.read_text(encoding="utf-8").splitlines()]
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read the pairs file ({exc})") from exc
    numbered = [(k + 1, fields) for k, fields in enumerate(lines) if fields]
    if not numbered:
        raise DataError(f"{path}: the pairs file is empty")
    header_line, header = numbered[0]
    try:
        folds, per = (1, int(header[0])) if len(header) == 1 else (int(header[0]), int(header[1]))
    except ValueError:
        folds = per = -1
    if len(header) > 2 or folds < 1 or per < 1:
        raise DataError(
            f"{path}, line {header_line}: expected a header 'folds pairs_per_class' like '10 300'"
        )
    body = numbered[1:]
    if len(body) != 2 * folds * per:
        raise DataError(
            f"{path}: the header promises {folds} folds x {2 * per} pairs = {2 * folds * per} "
            f"lines, but {len(body)} follow"
        )
    pairs = []
    for k, (number, fields) in enumerate(body):
        fold, genuine = k // (2 * per), (k % (2 * per)) < per
        try:
            if genuine and len(fields) == 3:
                name_a = name_b = fields[0]
                n_a, n_b = int(fields[1]), int(fields[2])
            elif not genuine and len(fields) == 4:
                name_a, name_b = fields[0], fields[2]
                n_a, n_b = int(fields[1]), int(fields[3])
            else:
                raise ValueError
        except ValueError:
            expected = "name i j" if genuine else "name1 i name2 j"
            raise DataError(
                f"{path}, line {number}: expected a {'same' if genuine else 'different'}-"
                f"identity pair '{expected}', got {' '.join(fields)!r}"
            ) from None
        pairs.append(
            Pair(
                root / LFW_FILE.format(name=name_a, n=n_a),
                root / LFW_FILE.format(name=name_b, n=n_b),
                genuine,
                name_a,
                name_b,
                fold,
            )
        )
    return pairs


@dataclass
class TrialScores:
    """Scores of the trials that could be scored, and what could not be acquired.

    ``failures`` lists ``(input, reason)`` for every input that failed to acquire (no face,
    no speech, unreadable); trials involving one are not scored and are counted in
    ``counts["trials_dropped"]``. ``acquisition`` counts how the acquired inputs were
    taken (face ``mode_detect`` / ``mode_aligned``) and how many came with notes (several
    faces, a fallback, windows…). ``conditions`` names each trial's dataset when several
    were scored each on its own (:mod:`bioverify.verify.dataset_scoring`);
    ``pair_quality`` each trial's worse-sample value of each quality key
    (:func:`pair_qualities`).
    """

    scores: np.ndarray
    labels: np.ndarray
    subject_a: np.ndarray
    subject_b: np.ndarray
    counts: dict[str, int]
    failures: list[tuple[str, str]]
    n_inputs: int
    protocol: str
    folds: np.ndarray | None = None
    notes: list[str] = field(default_factory=list)
    acquisition: dict[str, int] = field(default_factory=dict)
    quality_ranges: dict[str, tuple[float, float]] = field(default_factory=dict)
    conditions: np.ndarray | None = None
    pair_quality: dict[str, np.ndarray] = field(default_factory=dict)


#: numeric quality values whose range a calibration records (when the inputs have them)
QUALITY_KEYS = (
    "face_size",
    "detector_score",
    "sharpness",
    "speech_seconds",
    "snr_db",
    "sample_rate",
)


def quality_ranges(acquired: Sequence[Acquired | None]) -> dict[str, tuple[float, float]]:
    """The 1st to 99th percentile of each :data:`QUALITY_KEYS` value over the acquired
    inputs: the range a calibration on them was measured on.

    Examples
    --------
    >>> from bioverify.verify.result import Acquired
    >>> sizes = [Acquired(np.ones(2), {"face_size": s}, [], "x") for s in range(50, 151)]
    >>> quality_ranges(sizes)
    {'face_size': (51.0, 149.0)}
    """
    out = {}
    for key in QUALITY_KEYS:
        values = [
            float(a.quality[key])
            for a in acquired
            if a is not None
            and isinstance(a.quality.get(key), int | float)
            and not isinstance(a.quality.get(key), bool)
        ]
        if values:
            low, high = np.percentile(values, [1, 99])
            out[key] = (float(low), float(high))
    return out


def pair_qualities(
    acquired: Sequence[Acquired], i: np.ndarray, j: np.ndarray
) -> dict[str, np.ndarray]:
    """For each of :data:`QUALITY_KEYS` that samples have: the worse (lower) of the two
    samples' values in each trial ``(acquired[i], acquired[j])``, NaN where one lacks it.

    Examples
    --------
    >>> from bioverify.verify.result import Acquired
    >>> samples = [Acquired(np.ones(2), {"snr_db": q}, [], "x") for q in (30.0, 8.0, 20.0)]
    >>> pair_qualities(samples, np.array([0, 0]), np.array([1, 2]))["snr_db"].tolist()
    [8.0, 20.0]
    """
    out = {}
    for key in QUALITY_KEYS:
        values = np.array(
            [
                float(v) if isinstance(v := a.quality.get(key), int | float)
                and not isinstance(v, bool) else np.nan
                for a in acquired
            ]
        )  # fmt: skip
        if np.isfinite(values).any():
            out[key] = np.minimum(values[i], values[j])
    return out


def acquire_all(
    verifier: Verifier, inputs: Sequence[Any], progress: bool = False
) -> tuple[list[Acquired | None], list[tuple[str, str]]]:
    """Acquire every input (batched); failures give ``None`` and an ``(input, reason)``."""
    acquired: list[Acquired | None] = []
    failures: list[tuple[str, str]] = []
    with Progress(total=len(inputs), desc="embedding", unit="input", enabled=progress) as bar:
        for start in range(0, len(inputs), _CHUNK):
            chunk = inputs[start : start + _CHUNK]
            for x, result in zip(chunk, verifier.try_acquire_many(chunk), strict=True):
                if isinstance(result, Acquired):
                    acquired.append(result)
                else:
                    acquired.append(None)
                    failures.append((str(x), f"{type(result).__name__}: {result}"))
            bar.update(len(chunk))
    return acquired, failures


def acquisition_counts(acquired: Sequence[Acquired | None]) -> dict[str, int]:
    """How the acquired inputs were taken: face modes and inputs with notes."""
    counts: Counter[str] = Counter()
    for a in acquired:
        if a is None:
            continue
        if "mode" in a.quality:
            counts[f"mode_{a.quality['mode']}"] += 1
        if a.notes:
            counts["with_notes"] += 1
    return dict(sorted(counts.items()))


def normalized_scores(
    verifier: Verifier, embeddings: np.ndarray, i: np.ndarray, j: np.ndarray, raw: np.ndarray
) -> np.ndarray:
    """The trials' scores as :meth:`Verifier.verify` scores a pair: the raw cosines ``raw``
    of rows ``i`` and ``j`` of ``embeddings``, AS-normalised when the verifier has a
    normaliser (each embedding's cohort statistics computed once)."""
    if verifier.normalizer is None:
        return raw
    stats = verifier.normalizer.stats(embeddings)
    return verifier.normalizer.normalize(raw, stats[i], stats[j])


def score_pairs(verifier: Verifier, pairs: Sequence[Pair], progress: bool = False) -> TrialScores:
    """Score a pairs protocol; each distinct file is embedded once. Scores are those of
    :meth:`Verifier.verify` (AS-normalised when the verifier normalises)."""
    if not pairs:
        raise DataError("no pairs to score")
    files = sorted({p.a for p in pairs} | {p.b for p in pairs})
    acquired, failures = acquire_all(verifier, files, progress)
    row = {f: k for k, f in enumerate(f for f, a in zip(files, acquired, strict=True) if a)}
    kept = [p for p in pairs if p.a in row and p.b in row]
    if not any(p.genuine for p in kept) or all(p.genuine for p in kept):
        raise DataError(
            f"after {len(failures)} failures to acquire, the pairs left do not include both "
            "same- and different-identity pairs"
        )
    embeddings = np.stack([a.embedding for a in acquired if a is not None])
    i, j = np.array([row[p.a] for p in kept]), np.array([row[p.b] for p in kept])
    raw = np.clip(np.sum(embeddings[i].astype(np.float64) * embeddings[j], axis=1), -1.0, 1.0)
    return TrialScores(
        scores=normalized_scores(verifier, embeddings, i, j, raw),
        labels=np.array([p.genuine for p in kept]),
        subject_a=np.array([p.identity_a for p in kept]),
        subject_b=np.array([p.identity_b for p in kept]),
        counts={
            "pairs": len(pairs),
            "genuine": sum(p.genuine for p in kept),
            "impostor": sum(not p.genuine for p in kept),
            "trials_dropped": len(pairs) - len(kept),
        },
        failures=failures,
        n_inputs=len(files),
        protocol="pairs",
        folds=np.array([p.fold for p in kept]),
        acquisition=acquisition_counts(acquired),
    )


def score_samples(
    verifier: Verifier,
    paths: Sequence[Path | str],
    identities: Sequence[str],
    *,
    protocol: TrialProtocol | None = None,
    smallest_far: float | None = None,
    progress: bool = False,
) -> TrialScores:
    """Embed identity-labelled samples and score the trials of ``protocol`` (default
    :class:`~bioverify.datasets.TrialProtocol`) among those that were acquired.

    When ``smallest_far`` is given, the protocol's ``min_impostor`` is raised to ten times
    the rule of three for it (about 30 false accepts expected there). Scores are those of
    :meth:`Verifier.verify` (AS-normalised when the verifier normalises), so thresholds
    fitted on them mean the same there.

    Raises
    ------
    InvalidInput
        When ``paths`` and ``identities`` differ in length, or the acquired samples allow no
        trial (one identity, or none with two samples).
    DataError
        When no input could be acquired.
    """
    if len(paths) != len(identities):
        raise InvalidInput("give one identity per path")
    protocol = protocol or TrialProtocol()
    if smallest_far is not None:
        needed = 10 * rule_of_three_count(smallest_far)
        protocol = replace(protocol, min_impostor=max(protocol.min_impostor, needed))
    acquired, failures = acquire_all(verifier, list(paths), progress)
    ok = [k for k, a in enumerate(acquired) if a is not None]
    ids = [identities[k] for k in ok]
    embeddings = np.stack([a.embedding for a in acquired if a is not None]) if ok else None
    if embeddings is None:
        raise DataError(f"none of the {len(paths)} inputs could be acquired")
    trials = protocol.trials(ids)
    subject_a, subject_b = trials.subjects(ids)
    notes = []
    if trials.counts["impostor_wanted"] > trials.counts["impostor"]:
        notes.append(
            f"only {trials.counts['impostor']} impostor pairs exist; all are used "
            f"({trials.counts['impostor_wanted']} wanted)"
        )
    return TrialScores(
        scores=normalized_scores(
            verifier, embeddings, trials.i, trials.j, score_trials(embeddings, trials)
        ),
        labels=trials.genuine.copy(),
        subject_a=subject_a,
        subject_b=subject_b,
        counts={**trials.counts, "identities_total": len(set(identities))},
        failures=failures,
        n_inputs=len(paths),
        protocol=protocol.describe(),
        notes=notes,
        acquisition=acquisition_counts(acquired),
        quality_ranges=quality_ranges(acquired),
        pair_quality=pair_qualities([a for a in acquired if a is not None], trials.i, trials.j),
    )


def score_labelled_data(
    verifier: Verifier,
    data: Sequence[Path | str],
    split_path: Path | str | None,
    split_part: str,
    *,
    protocol: TrialProtocol | None = None,
    smallest_far: float | None = None,
    progress: bool = True,
) -> tuple[TrialScores, str]:
    """Score labelled datasets: the samples :func:`~bioverify.datasets.select_samples`
    chooses (``split_part`` of ``split_path``, or everything), scored by
    :func:`score_samples`; and the sentence saying which people they are."""
    chosen = select_samples(data, split_path, split_part, verifier.modality, progress=progress)
    result = score_samples(
        verifier,
        chosen.paths,
        chosen.identities,
        protocol=protocol,
        smallest_far=smallest_far,
        progress=progress,
    )
    return result, chosen.description


def fold_accuracy(scores: np.ndarray, labels: np.ndarray, folds: np.ndarray) -> list[float]:
    """LFW's 10-fold accuracy: for each fold, the threshold with the best accuracy on the
    other folds, applied to it."""
    out = []
    for fold in np.unique(folds):
        train, test = folds != fold, folds == fold
        candidates = np.unique(scores[train])
        accepted = scores[train][None, :] >= candidates[:, None]
        accuracy = (accepted == labels[train][None, :]).mean(axis=1)
        threshold = candidates[int(np.argmax(accuracy))]
        out.append(float(((scores[test] >= threshold) == labels[test]).mean()))
    return out


#: fold accuracy is reported only with at least this many trials of each kind...
ACCURACY_MIN_TRIALS = 100
#: ...and when the smaller kind is at least this share of the larger (balanced pairs)
ACCURACY_MIN_BALANCE = 0.5


def accuracy_unfit(n_genuine: int, n_impostor: int) -> str | None:
    """Why an accuracy over these trials would mislead (``None`` when it would not).

    Accuracy mixes the two error rates in the proportion of the trials, so it means
    something only on balanced pairs, and only with enough of each kind.

    Examples
    --------
    >>> accuracy_unfit(3000, 3000) is None
    True
    >>> accuracy_unfit(300, 7)
    'only 7 impostor trials (fewer than 100)'
    """
    for count, kind in ((n_genuine, "genuine"), (n_impostor, "impostor")):
        if count < ACCURACY_MIN_TRIALS:
            return f"only {count} {kind} trials (fewer than {ACCURACY_MIN_TRIALS})"
    if min(n_genuine, n_impostor) < ACCURACY_MIN_BALANCE * max(n_genuine, n_impostor):
        return (
            f"{n_genuine} genuine vs {n_impostor} impostor trials are not balanced; "
            "an accuracy would mostly reflect the larger kind"
        )
    return None


__all__ = [
    "LFW_FILE",
    "QUALITY_KEYS",
    "Pair",
    "TrialScores",
    "accuracy_unfit",
    "acquire_all",
    "fold_accuracy",
    "normalized_scores",
    "quality_ranges",
    "read_lfw_pairs",
    "score_labelled_data",
    "score_pairs",
    "score_samples",
]
