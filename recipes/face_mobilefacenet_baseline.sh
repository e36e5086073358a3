#!/usr/bin/env bash
# The previous default face model (until issue 11), kept as the from-scratch baseline: rebuilds
# build/face_mobilefacenet64 (it no longer installs into src/bioverify/models/face/) from the
# shared LFW data: train (MobileFaceNet at 64x64, ArcFace m=0.3) on the LFW train identities — 10 epochs,
# then a 12-epoch warm restart — export to ONNX (fp32, with the mirror image fused in the
# graph: export's default for faces), calibrate on the held-out test
# identities. Measured here: about 27 + 35 min of training on 2 CPU cores.
set -euo pipefail
cd "$(dirname "$0")/.."
benchmarks/train_face_arcface.sh
benchmarks/train_face_arcface_long.sh
.venv/bin/bioverify export runs/face_arcface_long/best.pt --out build/face_mobilefacenet64 \
  --name face-mobilefacenet64-arcface --overwrite
.venv/bin/bioverify calibrate --model build/face_mobilefacenet64 --data ../shared/data/faces/lfw \
  --split benchmarks/splits/lfw.json --split-part test --face-mode aligned \
  --target-far 0.01 --target-far 0.001 --target-frr 0.05 --install --report build/face_mobilefacenet64_report
