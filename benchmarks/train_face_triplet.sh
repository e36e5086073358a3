#!/usr/bin/env bash
# Face encoder, triplet loss (semi-hard mining, P x K = 32 x 4 batches), LFW train identities;
# the budget of face_arcface (10 epochs, 29 min) for a like-for-like comparison.
# Re-run with --resume appended to continue an interrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/bioverify train --data ../shared/data/faces/lfw --split benchmarks/splits/lfw.json \
  --modality face --model mobilefacenet --model-arg input_size=64 --loss triplet \
  --loss-arg mining=semihard --samples-per-identity 4 --epochs 10 --batch-size 128 \
  --max-minutes 29 --threads 2 --workers 2 --out runs/face_triplet "$@"
