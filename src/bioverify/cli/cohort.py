"""``bioverify cohort``: embed training identities with a bundle's own runtime and store them
in the bundle as its AS-Norm cohort (``cohort.npy`` + ``bundle.json``'s
``score_normalization``).

A command of its own rather than a step of ``export``: a cohort must be embedded exactly as
the runtime embeds probes (decoding, VAD, windows, face detection), which ``export`` (torch)
does not run, and bundles that were never exported here (the converted default voice model)
need one too. The samples come only from the ``train`` part of a split, so the identities of
``val`` and ``test`` — where the normalisation is measured and calibrated — are never in it.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click
import numpy as np

from bioverify.calibration import Calibration
from bioverify.cli import options
from bioverify.datasets.selection import select_samples
from bioverify.errors import DataError, InvalidInput


@click.command("cohort")
@options.model(
    required=True,
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    help="The bundle folder to add the cohort to (its model.onnx is not changed).",
)
@options.data(
    help="Identity folders or a CSV manifest (repeatable), as given to `bioverify split`."
)
@options.split(
    required=True, help="split.json: the cohort is drawn from its train identities only."
)
@options.count(
    "--size",
    minimum=2,
    default=1000,
    help="Train samples drawn at random (seeded) for the cohort.",
)
@options.count(
    "--top-k",
    minimum=1,
    default=200,
    help="Highest cohort scores whose mean and spread normalise a score.",
)
@options.seed()
@options.raw_model_settings
def cohort(
    model: Path,
    data: tuple[Path, ...],
    split_path: Path,
    size: int,
    top_k: int,
    seed: int,
    settings: dict[str, Any],
) -> None:
    """Add an AS-Norm cohort of the split's TRAIN identities to the bundle MODEL; verify,
    evaluate, calibrate and the gallery then score with AS-Norm (--score-norm none turns
    it off). Recalibrate afterwards: a calibration on raw scores no longer applies."""
    from bioverify.verify.evaluation import acquire_all
    from bioverify.verify.score_norm import bundle_key, install_cohort
    from bioverify.verify.verifier import Verifier

    # raw cosines (settings say so): the bundle's old cohort plays no part
    verifier = Verifier.load(model, calibration=False, **settings)
    chosen_samples = select_samples(data, split_path, "train", verifier.modality)
    paths, identities = chosen_samples.paths, chosen_samples.identities
    chosen = sorted(np.random.default_rng(seed).permutation(len(paths))[:size])
    acquired, failures = acquire_all(verifier, [paths[i] for i in chosen], progress=True)
    kept = [i for i, a in zip(chosen, acquired, strict=True) if a is not None]
    if len(kept) < 2 or top_k > len(kept):
        raise DataError(
            f"{len(kept)} of {len(chosen)} train samples were acquired; a cohort with "
            f"--top-k {top_k} needs more"
        )
    corpora = ", ".join(d.parent.name if d.suffix == ".csv" else d.name for d in data)
    source = (
        f"{len(kept)} samples of {len(set(identities[i] for i in kept))} train identities "
        f"of {split_path.name} ({corpora}); {len(failures)} failed to acquire; seed {seed}"
    )
    embeddings = np.stack([a.embedding for a in acquired if a is not None])
    try:
        section = install_cohort(verifier.info, embeddings, top_k, source)
    except OSError as exc:
        raise InvalidInput(f"{model}: cannot write the cohort ({exc.strerror})") from exc
    click.echo(f"cohort: {source}")
    click.echo(f"wrote {verifier.info.folder / section['cohort_file']} (top_k {top_k})")
    calibration = verifier.info.calibration_path
    key = bundle_key(replace(verifier.info, score_normalization=section))
    if calibration is not None and Calibration.load(calibration).score_normalization != key:
        click.echo(
            "the bundle's calibration.json was fitted on other scores and no longer applies: "
            f"bioverify calibrate --model {model} --data DIR --split SPLIT --install"
        )
