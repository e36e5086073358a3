#!/usr/bin/env bash
# Regenerates the default voice model shipped in src/bioverify/models/voice/ from the shared
# speaker data: train (ECAPA-TDNN, 128 channels, ArcFace) on the train speakers of all three
# corpora, export to ONNX (fp32), calibrate on the held-out test speakers, install.
# Measured here: training 20 epochs in about 21 min on 2 CPU cores; export 1 min; calibration 1 min.
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data/speakers
DATA=(--data $D/arabic_speech_commands --data $D/common_voice_fa/manifest.csv --data $D/urdu_speech)
benchmarks/train_voice_arcface.sh
.venv/bin/bioverify export runs/voice_arcface/best.pt --out build/voice_default \
  --name voice-ecapa128-arcface --overwrite
.venv/bin/bioverify calibrate --model build/voice_default "${DATA[@]}" \
  --split benchmarks/splits/speakers.json --split-part test \
  --target-far 0.01 --target-far 0.001 --target-frr 0.05 --install --report build/voice_report
mkdir -p src/bioverify/models/voice
cp build/voice_default/{model.onnx,bundle.json,calibration.json} src/bioverify/models/voice/
