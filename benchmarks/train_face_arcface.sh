#!/usr/bin/env bash
# Face encoder, ArcFace, on the LFW train identities of benchmarks/splits/lfw.json (CPU, 2 threads).
# Re-run with --resume appended to continue an interrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/bioverify train --data ../shared/data/faces/lfw --split benchmarks/splits/lfw.json \
  --modality face --model mobilefacenet --model-arg input_size=64 --loss arcface \
  --loss-arg margin=0.3 --epochs 10 --batch-size 128 --max-minutes 50 --threads 2 --workers 2 \
  --out runs/face_arcface "$@"
