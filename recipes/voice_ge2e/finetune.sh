#!/usr/bin/env bash
# Fine-tunes the converted GE2E encoder (runs/voice_ge2e/ge2e.pt, from convert.py) on the train
# speakers of the three shared corpora, as it is served (issue 12): one 1.6 s partial window
# per recording, level raised to -30 dBFS, short clips zero-filled; validation embeds the val
# speakers' recordings as the runtime does. Triplet loss (no new head: the pretrained
# cosine space is trained directly), AdamW at a small learning rate; the trainer's default
# voice augmentation (gain +-6 dB, white or pink noise at 5-20 dB SNR on 80 % of items).
# Resumable: rerun with --resume. Stops after 5 minutes (3 of the 8 epochs of its learning-rate
# schedule on 2 CPU cores): validation EER was lowest after the first epoch and rose after it.
set -euo pipefail
cd "$(dirname "$0")/../.."
D=../shared/data/speakers
exec .venv/bin/bioverify train --data $D/arabic_speech_commands --data $D/common_voice_fa/manifest.csv \
  --data $D/urdu_speech --split benchmarks/splits/speakers.json --modality voice \
  --model ge2e_lstm --embedding-dim 256 --init-from runs/voice_ge2e/ge2e.pt \
  --loss triplet --optimizer adamw --lr 1e-5 --weight-decay 0 --batch-size 64 \
  --epochs 8 --max-minutes 5 --threads 2 --workers 1 --out runs/voice_ge2e_ft "$@"
