#!/usr/bin/env bash
# Speaker encoder warm restart on VAD-trimmed speech: starts from train_voice_arcface.sh's
# best checkpoint and trains on recordings whose non-speech the runtime's energy VAD cut
# (--trim all), so the bundle tells the runtime to cut the same. Re-run with --resume
# appended to continue an interrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data/speakers
exec .venv/bin/bioverify train --data $D/arabic_speech_commands --data $D/common_voice_fa/manifest.csv \
  --data $D/urdu_speech --split benchmarks/splits/speakers.json --modality voice \
  --model ecapa_tdnn --model-arg channels=128 --model-arg aggregate_channels=384 \
  --loss arcface --loss-arg margin=0.2 --loss-arg scale=32 --chunk-seconds 2.0 --trim all \
  --epochs 15 --lr 0.05 --batch-size 64 --max-minutes 25 --threads 2 --workers 1 \
  --init-from runs/voice_arcface/best.pt --out runs/voice_arcface_trim "$@"
