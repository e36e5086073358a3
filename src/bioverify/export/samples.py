"""Real, identity-labelled samples for int8 calibration, parity and the EER of each variant.

``--calibration-data DIR`` is a dataset folder as training reads it (one sub-folder per
identity) or a CSV manifest. A bounded, seeded selection is decoded exactly as the model
expects it: faces by :func:`~bioverify.media.read_image` and
:func:`~bioverify.face_geometry.crop_aligned` with the checkpoint's geometry, voices by
:func:`~bioverify.media.read_audio` at the model's rate, centred to at most the training
run's validation length (as validation saw them).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bioverify.datasets.inventory import Sample, scan_dataset
from bioverify.errors import DataError, InvalidInput
from bioverify.export.source import TrainedEncoder
from bioverify.face_geometry import crop_aligned
from bioverify.media import read_audio, read_image

#: samples decoded at most, and at least this many per identity (see :func:`select`)
MAX_SAMPLES = 256
PER_IDENTITY = 4


@dataclass(frozen=True)
class RealSamples:
    """Decoded model inputs (one per sample, no batch axis) and their identities."""

    source: Path
    inputs: list[np.ndarray]
    identities: list[str]
    skipped: list[tuple[str, str]]

    def __len__(self) -> int:
        return len(self.inputs)


def select(
    samples: list[Sample],
    max_samples: int = MAX_SAMPLES,
    per_identity: int = PER_IDENTITY,
    seed: int = 0,
) -> list[Sample]:
    """At most ``max_samples`` samples, spread over identities: up to
    ``max(per_identity, ceil(max_samples / identities))`` of each (so a few speakers still
    fill the budget), identities in seeded random order with those that have two or more
    samples first (they give genuine trials)."""
    groups: dict[str, list[Sample]] = {}
    for sample in samples:
        groups.setdefault(sample.identity, []).append(sample)
    per_identity = max(per_identity, math.ceil(max_samples / max(len(groups), 1)))
    rng = np.random.default_rng(seed)
    names = sorted(groups)
    order = [names[i] for i in rng.permutation(len(names))]
    order.sort(key=lambda name: len(groups[name]) < 2)
    chosen: list[Sample] = []
    for name in order:
        members = groups[name]
        picks = sorted(rng.choice(len(members), min(per_identity, len(members)), replace=False))
        chosen.extend(members[i] for i in picks[: max_samples - len(chosen)])
        if len(chosen) >= max_samples:
            break
    return chosen


def _voice_input(path: Path, sample_rate: int, max_length: int, min_length: int) -> np.ndarray:
    audio = read_audio(path, sample_rate)
    if audio.size > max_length:
        start = (audio.size - max_length) // 2
        audio = audio[start : start + max_length]
    if audio.size < min_length:
        audio = np.resize(audio, min_length)  # repeats the clip
    return np.ascontiguousarray(audio, dtype=np.float32)


def load_samples(
    folder: Path | str,
    trained: TrainedEncoder,
    max_samples: int = MAX_SAMPLES,
    seed: int = 0,
) -> RealSamples:
    """Decode a seeded selection (see :func:`select`) of ``folder``'s samples into model
    inputs. Files that fail to decode are skipped and listed; none usable is a
    :class:`DataError`."""
    folder = Path(folder)
    if max_samples < 1:
        raise InvalidInput(f"the number of calibration samples must be >= 1, got {max_samples}")
    inventory = scan_dataset(folder, trained.modality, progress=False)
    chosen = select(inventory.samples, max_samples, seed=seed)
    inputs: list[np.ndarray] = []
    identities: list[str] = []
    skipped: list[tuple[str, str]] = []
    frontend = trained.encoder.config["frontend"]
    for sample in chosen:
        try:
            if trained.geometry is not None:
                item = crop_aligned(read_image(sample.path), trained.geometry)
            else:
                rate = int(frontend["sample_rate"])
                item = _voice_input(
                    sample.path,
                    rate,
                    round(trained.max_seconds * rate),
                    # the analysis window: win_length, or n_fft for a front-end without one
                    int(frontend.get("win_length") or frontend["n_fft"]),
                )
        except InvalidInput as exc:
            skipped.append((str(sample.path), str(exc)))
            continue
        inputs.append(item)
        identities.append(sample.identity)
    if not inputs:
        raise DataError(f"{folder}: none of the {len(chosen)} selected files could be decoded")
    return RealSamples(source=folder, inputs=inputs, identities=identities, skipped=skipped)


__all__ = ["MAX_SAMPLES", "PER_IDENTITY", "RealSamples", "load_samples", "select"]
