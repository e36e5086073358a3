"""Validation: the encoder's EER and TAR at FAR 1e-2 and 1e-3 on the val identities.

Every val sample is embedded with the encoder alone (no projection head): faces with the
evaluation crop, voices as whole recordings up to ``val_max_seconds``, one at a time — or,
for a voice model served in partial windows (``RunData.voice_runtime`` has ``partials``),
as the runtime embeds it: the mean of its windows' embeddings, L2-normalised
(:func:`embed_batch`), so that the validation EER is the runtime's on those clips. The
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
from torch.nn import functional as F

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
    windowed = "partials" in data.voice_runtime
    with _eval_mode(encoder):
        loader = make_loader(data.val_set, batches, config.seed, config.num_workers, device)
        for batch in progress_iter(loader, "validating", "batch", enabled=progress):
            unreadable += len(batch.unreadable)
            if batch.labels.numel() == 0:
                continue
            with torch.autocast(device.type, dtype=amp_dtype, enabled=amp_dtype is not None):
                output = embed_batch(encoder, batch.inputs.to(device, non_blocking=True), windowed)
            embeddings.append(output.float().cpu().numpy())
            labels.append(batch.labels.numpy())
    identities = [data.val_identities[label] for label in np.concatenate(labels)]
    trials = validation_trials(identities, config)
    scores = score_trials(np.concatenate(embeddings), trials)
    return summarize(scores, trials.genuine, FAR_TARGETS), unreadable


def embed_batch(encoder: nn.Module, inputs: torch.Tensor, windowed: bool) -> torch.Tensor:
    """The embeddings ``[B, D]`` of a batch of inputs.

    Parameters
    ----------
    encoder : nn.Module
        Maps model inputs to unit-norm embeddings.
    inputs : torch.Tensor
        ``[B, ...]`` model inputs, or with ``windowed`` ``[B, W, ...]``: ``W`` windows each.
    windowed : bool
        Whether each item is the mean of its ``W`` window embeddings, L2-normalised (as
        :class:`~bioverify.verify.Verifier` embeds a recording cut into partial windows).

    Returns
    -------
    torch.Tensor
        ``float32 [B, D]``, each row of unit length.
    """
    if not windowed:
        return encoder(inputs)
    windows = encoder(inputs.flatten(0, 1)).unflatten(0, inputs.shape[:2])
    return F.normalize(windows.float().mean(dim=1), dim=1)


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


__all__ = ["FAR_TARGETS", "embed_batch", "validate", "validation_trials"]
