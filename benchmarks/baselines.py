"""Classical verification baselines on the same test trials as the trained encoders.

- face: "Fisherfaces" — the aligned 112×112 grayscale crops (the exact geometry the encoders
  see), downsampled to 56×56, PCA (whitened) fitted on the train identities, then LDA fitted
  on the train identities with >= 2 images; cosine similarity in the LDA space.
- voice: per-utterance mean and standard deviation of 20 MFCCs (+ deltas), standardised, then
  LDA fitted on the train speakers; cosine similarity in the LDA space.

Both are scored on the test identities of the split with the project's trial protocol
(``benchmarks.protocol``), so the numbers compare like for like with the encoders.

Usage::

    python benchmarks/baselines.py face --data ../shared/data/faces/lfw \
        --split benchmarks/splits/lfw.json --out benchmarks/results/baseline_face.json
    python benchmarks/baselines.py voice --data ../shared/data/speakers/arabic_speech_commands \
        --data ../shared/data/speakers/common_voice_fa --data ../shared/data/speakers/urdu_speech \
        --split benchmarks/splits/speakers.json --out benchmarks/results/baseline_voice.json
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import cv2
import numpy as np
from sklearn.decomposition import PCA
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.preprocessing import StandardScaler
from tqdm import tqdm

from benchmarks.protocol import evaluate_embeddings
from bioverify.datasets.inventory import Sample, scan_datasets
from bioverify.datasets.splits import load_split
from bioverify.face_geometry import FaceGeometry, crop_aligned
from bioverify.media import read_audio, read_image


def face_features(samples: list[Sample], geometry: FaceGeometry) -> np.ndarray:
    rows = []
    for sample in tqdm(samples, desc="face crops", unit="img"):
        crop = crop_aligned(read_image(sample.path), geometry)
        gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
        rows.append(cv2.resize(gray, (56, 56), interpolation=cv2.INTER_AREA).ravel())
    return np.asarray(rows, dtype=np.float32) / 255.0


def voice_features(samples: list[Sample], sample_rate: int = 16000) -> np.ndarray:
    import torch
    import torchaudio

    mfcc = torchaudio.transforms.MFCC(
        sample_rate=sample_rate,
        n_mfcc=20,
        melkwargs={"n_fft": 512, "win_length": 400, "hop_length": 160, "n_mels": 40},
    )
    rows = []
    for sample in tqdm(samples, desc="mfcc", unit="clip"):
        wave = torch.from_numpy(read_audio(sample.path, sample_rate))
        coeffs = mfcc(wave)  # [20, frames]
        deltas = torchaudio.functional.compute_deltas(coeffs)
        feats = torch.cat([coeffs, deltas])
        rows.append(torch.cat([feats.mean(1), feats.std(1)]).numpy())
    return np.asarray(rows, dtype=np.float64)


def fit_projection(train_x: np.ndarray, train_y: list[str], pca_dim: int | None) -> object:
    """PCA (optional) → LDA, fitted on training identities with at least 2 samples."""
    ids, counts = np.unique(train_y, return_counts=True)
    keep = np.isin(train_y, ids[counts >= 2])
    x, y = train_x[keep], np.asarray(train_y)[keep]
    steps: list[object] = [StandardScaler().fit(x)]
    z = steps[0].transform(x)  # type: ignore[attr-defined]
    if pca_dim is not None:
        pca = PCA(n_components=min(pca_dim, z.shape[1], len(z) - 1), whiten=True, random_state=0)
        z = pca.fit_transform(z)
        steps.append(pca)
    lda = LinearDiscriminantAnalysis(solver="svd").fit(z, y)
    steps.append(lda)
    return steps


def project(steps: object, x: np.ndarray) -> np.ndarray:
    for step in steps:  # type: ignore[attr-defined]
        x = step.transform(x)
    return x / np.linalg.norm(x, axis=1, keepdims=True).clip(1e-12)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modality", choices=["face", "voice"])
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--pca-dim", type=int, default=200)
    args = parser.parse_args()

    start = time.perf_counter()
    inventory = scan_datasets(args.data)
    split = load_split(args.split, inventory, check_content=False)
    train, test = split.samples(inventory, "train"), split.samples(inventory, "test")
    if args.modality == "face":
        geometry = FaceGeometry()
        train_x, test_x = face_features(train, geometry), face_features(test, geometry)
        method = f"Fisherfaces: 56x56 gray crops, PCA({args.pca_dim}, whitened) + LDA"
        steps = fit_projection(train_x, [s.identity for s in train], args.pca_dim)
    else:
        train_x, test_x = voice_features(train), voice_features(test)
        method = "mean+std of 20 MFCC + deltas, standardised, LDA"
        steps = fit_projection(train_x, [s.identity for s in train], None)
    result = evaluate_embeddings(project(steps, test_x), test)
    result.update(
        method=method,
        modality=args.modality,
        split=str(args.split),
        n_train_samples=len(train),
        n_test_samples=len(test),
        seconds=round(time.perf_counter() - start, 1),
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
