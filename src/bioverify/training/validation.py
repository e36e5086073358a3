"""Validation: the encoder's EER and TAR at FAR 1e-2 and 1e-3 on the val identities.

Every val sample is embedded with the encoder alone (no projection head): faces with the
evaluation crop, voices as whole recordings up to ``val_max_seconds``, one at a time. The
trials (:func:`validation_trials`, a :class:`~bioverify.datasets.TrialProtocol`) are the same
every epoch: they depend on the val samples and the run's seed only.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from bioverify.calibration.scoring import score_trials
from bioverify.calibration.summary import VerificationSummary, summarize
from bioverify.datasets.trials import TrialProtocol, Trials
from bioverify.progress import progress_iter
from bioverify.training.run_data import RunData, make_loader

if TYPE_CHECKING:
    from bioverify.training.config import TrainConfig

FAR_TARGETS = (1e-2, 1e-3)


@torch.no_grad()
def validate(
    encoder: nn.Module,
    data: RunData,
    config: TrainConfig,
    device: torch.device,
    amp_dtype: torch.dtype | None,
    progress: bool,
) -> tuple[VerificationSummary, int]:
    """Embed the val samples and score the validation trials.

    Parameters
    ----------
    encoder : nn.Module
        Put in eval mode while embedding, then back in the mode it was in.
    data : RunData
        Its ``val_set``, read in batches of ``val_batch_size``.
    config : TrainConfig
        The run's settings: loader workers and the trials' caps and seed.
    device : torch.device
        Where the encoder is.
    amp_dtype : torch.dtype or None
        The autocast type of the run, None for full precision.
    progress : bool
        Whether to show a progress bar.

    Returns
    -------
    VerificationSummary
        EER, its threshold, trial counts and TAR at each of :data:`FAR_TARGETS`.
    int
        How many val files could not be read (they are left out).
    """
    indices = list(range(len(data.val_set)))  # type: ignore[arg-type]
    size = data.val_batch_size
    batches = [indices[start : start + size] for start in range(0, len(indices), size)]
    embeddings: list[np.ndarray] = []
    labels: list[np.ndarray] = []
    unreadable = 0
    with _eval_mode(encoder):
        loader = make_loader(data.val_set, batches, config.seed, config.num_workers, device)
        for batch in progress_iter(loader, "validating", "batch", enabled=progress):
            unreadable += len(batch.unreadable)
            if batch.labels.numel() == 0:
                continue
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                output = encoder(batch.inputs.to(device, non_blocking=True))
            embeddings.append(output.float().cpu().numpy())
            labels.append(batch.labels.numpy())
    identities = [data.val_identities[label] for label in np.concatenate(labels)]
    trials = validation_trials(identities, config)
    scores = score_trials(np.concatenate(embeddings), trials)
    return summarize(scores, trials.genuine, FAR_TARGETS), unreadable


def validation_trials(identities: Sequence[str], config: TrainConfig) -> Trials:
    """The validation trials of samples labelled ``identities`` (one per sample): the
    :class:`TrialProtocol` with the config's ``val_*`` caps and the run's seed."""
    protocol = TrialProtocol(
        max_genuine_per_identity=config.val_max_genuine_per_identity,
        max_genuine=config.val_max_genuine,
        min_impostor=config.val_min_impostor,
        seed=config.seed,
    )
    return protocol.trials(identities)


@contextmanager
def _eval_mode(module: nn.Module) -> Iterator[None]:
    was_training = module.training
    module.eval()
    try:
        yield
    finally:
        module.train(was_training)


__all__ = ["FAR_TARGETS", "validate", "validation_trials"]
