#!/usr/bin/env bash
# Speaker encoder, ArcFace (m 0.2, s 32), on the train speakers of all three corpora.
# Re-run with --resume appended to continue an interrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data/speakers
exec .venv/bin/bioverify train --data $D/arabic_speech_commands --data $D/common_voice_fa/manifest.csv \
  --data $D/urdu_speech --split benchmarks/splits/speakers.json --modality voice \
  --model ecapa_tdnn --model-arg channels=128 --model-arg aggregate_channels=384 \
  --loss arcface --loss-arg margin=0.2 --loss-arg scale=32 --chunk-seconds 2.0 --epochs 20 \
  --batch-size 64 --max-minutes 24 --threads 2 --workers 1 --out runs/voice_arcface "$@"
