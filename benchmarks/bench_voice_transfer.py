"""Does fine-tuning the converted GE2E encoder on the shared corpora help on a corpus it never
heard? Leave one corpus out: fine-tune on the train speakers of the other two (as
``recipes/voice_ge2e/finetune.sh`` does on all three), then score the converted and the
fine-tuned encoder, through the runtime, on *every* speaker of the corpus left out.

The fine-tune on all three corpora is chosen by EER on val speakers of those same corpora,
which says nothing about other languages and channels — where users are and where each
release is measured again. This benchmark is that measurement in miniature: a fine-tune that
helps only the corpora it trained on makes the left-out corpus worse.

Usage::

    python -m benchmarks.bench_voice_transfer --held-out urdu_speech --held-out common_voice_fa \\
        --held-out arabic_speech_commands --out benchmarks/results/voice_finetune_transfer

Each run is resumable (``runs/voice_ge2e_loco_<corpus>``; a finished one is reused).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.protocol import evaluate_embeddings
from bioverify.datasets.inventory import scan_datasets
from bioverify.verify import Verifier
from bioverify.verify.result import Acquired

ROOT = Path(__file__).resolve().parent.parent
SPEAKERS = ROOT.parent / "shared" / "data" / "speakers"
CORPORA = {
    "arabic_speech_commands": SPEAKERS / "arabic_speech_commands",
    "common_voice_fa": SPEAKERS / "common_voice_fa" / "manifest.csv",
    "urdu_speech": SPEAKERS / "urdu_speech",
}
SPLIT = ROOT / "benchmarks" / "splits" / "speakers.json"
CONVERTED = ROOT / "runs" / "voice_ge2e" / "ge2e.pt"
BIN = Path(sys.executable).parent / "bioverify"
#: the fine-tune's settings, as in recipes/voice_ge2e/finetune.sh
TRAIN_ARGS = [
    "--modality", "voice", "--model", "ge2e_lstm", "--embedding-dim", "256",
    "--loss", "triplet", "--optimizer", "adamw", "--lr", "1e-5", "--weight-decay", "0",
    "--batch-size", "64", "--epochs", "8", "--max-minutes", "5", "--threads", "2",
    "--workers", "1",
]  # fmt: skip


def _run(arguments: list[str]) -> None:
    print("$", " ".join(arguments), flush=True)
    subprocess.run(arguments, check=True, cwd=ROOT)


def split_without(held_out: str, folder: Path) -> Path:
    """The shared speaker split without the identities of one corpus."""
    inventory = scan_datasets([CORPORA[held_out]], progress=False)
    dropped = set(inventory.identities())
    split = json.loads(SPLIT.read_text())
    for part in ("train", "val", "test"):
        split[part] = [identity for identity in split[part] if identity not in dropped]
    split["data"] = [str(path) for name, path in CORPORA.items() if name != held_out]
    path = folder / f"speakers_without_{held_out}.json"
    path.write_text(json.dumps(split, indent=1) + "\n")
    return path


def fine_tune(held_out: str) -> Path:
    """Train (or resume, or reuse) the fine-tune without ``held_out``; export its best
    checkpoint; return the bundle folder."""
    build = ROOT / "build" / "loco"
    build.mkdir(parents=True, exist_ok=True)
    run = ROOT / "runs" / f"voice_ge2e_loco_{held_out}"
    data = [a for name, p in CORPORA.items() if name != held_out for a in ("--data", str(p))]
    arguments = [str(BIN), "train", *data, "--split", str(split_without(held_out, build))]
    arguments += [*TRAIN_ARGS, "--init-from", str(CONVERTED)]
    arguments += ["--out", str(run), "--no-content-check"]
    if (run / "last.pt").is_file():
        arguments.append("--resume")
    _run(arguments)
    bundle = build / f"voice_ge2e_without_{held_out}"
    _run([str(BIN), "export", str(run / "best.pt"), "--out", str(bundle), "--overwrite"])
    return bundle


def score(bundle: Path | str, held_out: str) -> dict[str, Any]:
    """EER and TAR of ``bundle`` on every speaker of ``held_out``, through the runtime."""
    inventory = scan_datasets([CORPORA[held_out]], progress=False)
    samples = inventory.samples
    verifier = Verifier.load(bundle, calibration=False)
    results = verifier.try_acquire_many([s.path for s in samples])
    kept = [s for s, r in zip(samples, results, strict=True) if isinstance(r, Acquired)]
    embeddings = np.stack([r.embedding for r in results if isinstance(r, Acquired)])
    result = evaluate_embeddings(embeddings, kept)
    result["failures_to_acquire"] = len(samples) - len(kept)
    return result


def markdown(rows: dict[str, dict[str, Any]], command: str) -> str:
    lines = [
        "# Fine-tuning the GE2E encoder: does it transfer to a corpus it never heard?",
        "",
        f"Command: `{command}`",
        "",
        "Leave one corpus out: fine-tune the converted encoder on the train speakers of the "
        "other two corpora (triplet, AdamW lr 1e-5, served windows, 5 minutes; best epoch "
        "by their val speakers), then score both encoders through the runtime on every "
        "speaker of the corpus left out (trials of `benchmarks/protocol.py`). EER % / TAR at "
        "FAR 1e-2 %.",
        "",
        "| corpus left out | speakers | converted | fine-tuned without it | change in EER |",
        "| --- | --- | --- | --- | --- |",
    ]
    for corpus, row in rows.items():
        a, b = row["converted"]["pooled"], row["fine_tuned"]["pooled"]
        lines.append(
            f"| {corpus} | {row['converted']['n_identities']} | {100 * a['eer']:.2f} / "
            f"{100 * a['tar_at_far_0.01']:.1f} | {100 * b['eer']:.2f} / "
            f"{100 * b['tar_at_far_0.01']:.1f} | {100 * (b['eer'] - a['eer']):+.2f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--held-out", action="append", choices=sorted(CORPORA), required=True)
    parser.add_argument("--converted-bundle", default="voice", help="default: the shipped one")
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.json and OUT.md")
    args = parser.parse_args()
    rows: dict[str, dict[str, Any]] = {}
    for corpus in args.held_out:
        bundle = fine_tune(corpus)
        rows[corpus] = {
            "converted": score(args.converted_bundle, corpus),
            "fine_tuned": score(bundle, corpus),
        }
        print(corpus, {k: v["pooled"]["eer"] for k, v in rows[corpus].items()})
    command = "python -m benchmarks.bench_voice_transfer " + " ".join(sys.argv[1:])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(rows, command))
    print(f"-> {args.out}.json, {args.out}.md")


if __name__ == "__main__":
    main()
