"""Score a model bundle through the runtime on the held-out identities of a split, per corpus.

Every sample of the split's ``test`` (or ``val``) identities is acquired with
:class:`bioverify.verify.Verifier` exactly as an application would (faces: ``--face-mode``;
voices: the speech check, the bundle's trim or ``--trim``, 6 s windows); samples that fail to
acquire are counted and left out, and the embeddings are scored with the trial protocol of
:mod:`benchmarks.protocol` — pooled and, when the data holds several corpora, per corpus
(``bioverify evaluate`` reports the pooled figure only).

Usage::

    python -m benchmarks.evaluate_bundle src/bioverify/models/voice \
        --data ../shared/data/speakers/arabic_speech_commands \
        --data ../shared/data/speakers/common_voice_fa/manifest.csv \
        --data ../shared/data/speakers/urdu_speech --split benchmarks/splits/speakers.json \
        --out benchmarks/results/default_voice_test.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.protocol import evaluate_embeddings
from bioverify.datasets.inventory import scan_datasets
from bioverify.datasets.splits import load_split
from bioverify.verify import Verifier
from bioverify.verify.result import Acquired
from bioverify.verify.voice_input import VoiceSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bundle", type=Path)
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--which", choices=["test", "val"], default="test")
    parser.add_argument("--face-mode", default="aligned")
    parser.add_argument("--trim", choices=["none", "ends", "all"], help="voice: override")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    inventory = scan_datasets(args.data, progress=False)
    split = load_split(args.split, inventory, check_content=False)
    samples = split.samples(inventory, args.which)
    voice = VoiceSettings(trim=args.trim)
    verifier = Verifier.load(args.bundle, calibration=False, face_mode=args.face_mode, voice=voice)
    results = verifier.try_acquire_many([s.path for s in samples])
    kept = [s for s, r in zip(samples, results, strict=True) if isinstance(r, Acquired)]
    embeddings = np.stack([r.embedding for r in results if isinstance(r, Acquired)])
    result: dict[str, Any] = evaluate_embeddings(embeddings, kept)
    result.update(
        bundle=str(args.bundle),
        model=verifier.info.name,
        model_sha256=verifier.model_sha256,
        which=args.which,
        trim=getattr(verifier.preprocess, "trim", None),
        failures_to_acquire={"count": len(samples) - len(kept), "of": len(samples)},
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    pooled = result["pooled"]
    corpora = {
        name: round(100 * value["eer"], 2) for name, value in result.get("per_corpus", {}).items()
    }
    print(
        f"{args.which} EER {100 * pooled['eer']:.2f} % TAR@1e-2 "
        f"{100 * pooled['tar_at_far_0.01']:.1f} % TAR@1e-3 {100 * pooled['tar_at_far_0.001']:.1f} %"
        f" per corpus {corpora} (trim {result['trim']}) -> {args.out}"
    )


if __name__ == "__main__":
    main()
