#!/usr/bin/env bash
# Face encoder, ArcFace, warm restart: 12 more epochs (new cosine schedule from lr 0.05)
# starting from runs/face_arcface/best.pt — 22 epochs in all. The default face model.
# Re-run with --resume appended to continue an interrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/bioverify train --data ../shared/data/faces/lfw --split benchmarks/splits/lfw.json \
  --modality face --model mobilefacenet --model-arg input_size=64 --loss arcface \
  --loss-arg margin=0.3 --init-from runs/face_arcface/best.pt --lr 0.05 --epochs 12 \
  --batch-size 128 --max-minutes 40 --threads 2 --workers 2 --out runs/face_arcface_long "$@"
