"""Score a trained checkpoint on the held-out identities of its split (torch, CPU).

The encoder of ``best.pt`` (or any checkpoint) embeds every sample of the split's ``test``
(or ``val``) identities exactly as training validated them — face: the checkpoint's crop
geometry; voice: the whole utterance up to ``--max-seconds`` — and the embeddings are scored
with the trial protocol of :mod:`benchmarks.protocol`, the same trials as the classical
baselines. Inference throughput (samples/s, batch as stated) and the run's training facts
(epochs, minutes, training samples/s, best val EER) are recorded beside the result.

Usage::

    python -m benchmarks.evaluate_checkpoint runs/face_arcface/best.pt \
        --data ../shared/data/faces/lfw --split benchmarks/splits/lfw.json \
        --out benchmarks/results/face_arcface.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from benchmarks.protocol import evaluate_embeddings
from bioverify.datasets.inventory import Sample, scan_datasets
from bioverify.datasets.splits import load_split
from bioverify.face_geometry import FaceGeometry, crop_aligned
from bioverify.media import read_audio, read_image
from bioverify.training.checkpoint import load_checkpoint
from bioverify.training.models.encoder import Encoder

FACE_BATCH = 64


def load_encoder(checkpoint: dict[str, Any]) -> Encoder:
    encoder = Encoder.from_config(checkpoint["encoder"]["config"])
    encoder.load_state_dict(checkpoint["encoder"]["state_dict"])
    return encoder.eval()


@torch.inference_mode()
def embed_faces(
    encoder: Encoder, samples: list[Sample], geometry: FaceGeometry
) -> tuple[np.ndarray, float]:
    crops = np.stack([crop_aligned(read_image(s.path), geometry) for s in samples])
    start, rows = time.perf_counter(), []
    for index in tqdm(range(0, len(crops), FACE_BATCH), desc="embed faces", unit="batch"):
        rows.append(encoder(torch.from_numpy(crops[index : index + FACE_BATCH])).numpy())
    return np.concatenate(rows), len(crops) / (time.perf_counter() - start)


@torch.inference_mode()
def embed_voices(
    encoder: Encoder, samples: list[Sample], sample_rate: int, max_seconds: float
) -> tuple[np.ndarray, float, float]:
    waves = [read_audio(s.path, sample_rate)[: int(max_seconds * sample_rate)] for s in samples]
    start, rows = time.perf_counter(), []
    for wave in tqdm(waves, desc="embed voices", unit="clip"):
        rows.append(encoder(torch.from_numpy(wave)[None]).numpy()[0])
    seconds = time.perf_counter() - start
    audio_seconds = sum(len(w) for w in waves) / sample_rate
    return np.stack(rows), len(waves) / seconds, audio_seconds / seconds


def training_facts(run_dir: Path) -> dict[str, Any]:
    """Epochs, wall minutes, mean training samples/s and the best val EER from metrics.jsonl."""
    path = run_dir / "metrics.jsonl"
    if not path.is_file():
        return {}
    lines = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    validated = [m for m in lines if m.get("val_eer") is not None]
    best = min(validated, key=lambda m: m["val_eer"]) if validated else {}
    speeds = [m[k] for m in lines for k in ("samples_per_s", "samples_per_second") if k in m]
    return {
        "epochs": len(lines),
        "train_minutes": sum(m.get("seconds", 0) + m.get("val_seconds", 0) for m in lines) / 60,
        "metrics_last": lines[-1] if lines else {},
        "best_val": best,
        "train_samples_per_s_mean": float(np.mean(speeds)) if speeds else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--which", choices=["test", "val"], default="test")
    parser.add_argument("--max-seconds", type=float, default=20.0, help="voice: clip cap")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    checkpoint = load_checkpoint(args.checkpoint)
    encoder = load_encoder(checkpoint)
    config = checkpoint["config"]
    inventory = scan_datasets(args.data, prefix_identities=config.get("prefix_identities", False))
    split = load_split(args.split, inventory, check_content=False)
    samples = split.samples(inventory, args.which)
    result: dict[str, Any]
    if checkpoint["modality"] == "face":
        geometry = FaceGeometry.from_dict(checkpoint["face_geometry"])
        embeddings, per_second = embed_faces(encoder, samples, geometry)
        speed = {"embed_samples_per_s": round(per_second, 1), "batch": FACE_BATCH}
    else:
        rate = checkpoint["voice"]["sample_rate"]
        embeddings, per_second, realtime = embed_voices(encoder, samples, rate, args.max_seconds)
        speed = {
            "embed_samples_per_s": round(per_second, 1),
            "audio_seconds_per_s": round(realtime, 1),
            "batch": 1,
            "max_seconds": args.max_seconds,
        }
    result = evaluate_embeddings(embeddings, samples)
    result.update(
        checkpoint=str(args.checkpoint),
        which=args.which,
        modality=checkpoint["modality"],
        model=checkpoint["encoder"]["config"],
        loss=checkpoint["loss"]["name"],
        loss_kwargs=checkpoint["loss"]["kwargs"],
        n_train_identities=len(checkpoint["identities"]),
        n_samples=len(samples),
        inference=dict(speed, threads=args.threads),
        training=training_facts(args.checkpoint.parent),
        config=config,
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    pooled = result["pooled"]
    print(
        f"{args.which} EER {100 * pooled['eer']:.2f} % "
        f"TAR@1e-3 {100 * pooled['tar_at_far_0.001']:.2f} % "
        f"({pooled['n_genuine']} genuine / {pooled['n_impostor']} impostor) -> {args.out}"
    )


if __name__ == "__main__":
    main()
