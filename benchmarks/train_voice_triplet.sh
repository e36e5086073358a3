#!/usr/bin/env bash
# Speaker encoder, triplet loss (semi-hard mining, P x K = 16 x 4), all three corpora; the
# budget of voice_arcface (20 epochs, 24 min) for a like-for-like comparison.
# Re-run with --resume appended to continue an interrupted run.
set -euo pipefail
cd "$(dirname "$0")/.."
D=../shared/data/speakers
exec .venv/bin/bioverify train --data $D/arabic_speech_commands --data $D/common_voice_fa/manifest.csv \
  --data $D/urdu_speech --split benchmarks/splits/speakers.json --modality voice \
  --model ecapa_tdnn --model-arg channels=128 --model-arg aggregate_channels=384 \
  --loss triplet --loss-arg mining=semihard --samples-per-identity 4 --chunk-seconds 2.0 \
  --epochs 20 --batch-size 64 --max-minutes 24 --threads 2 --workers 1 --out runs/voice_triplet "$@"
