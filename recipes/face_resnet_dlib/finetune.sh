#!/usr/bin/env bash
# Fine-tunes the converted dlib ResNet (build/dlib_resnet29.pt, from convert.py) on the LFW
# train identities of benchmarks/splits/lfw.json (issue 11): triplet loss, AdamW at a small
# learning rate, the trainer's face augmentation (flip, small affine, brightness/contrast/
# saturation jitter, grayscale, blur, JPEG); validated (EER) on the val identities after each
# epoch. 3 epochs of 150 steps of 32 photos, about 5 minutes on 2 CPU cores. Resumable:
# rerun with --resume. docs/models.md compares it with the converted weights.
set -euo pipefail
cd "$(dirname "$0")/../.."
[ -f build/dlib_resnet29.pt ] || .venv/bin/python recipes/face_resnet_dlib/convert.py --out build/dlib_resnet29.pt
exec .venv/bin/bioverify train --data ../shared/data/faces/lfw --split benchmarks/splits/lfw.json \
  --modality face --model dlib_resnet29 --init-from build/dlib_resnet29.pt \
  --loss triplet --optimizer adamw --lr 2e-6 --weight-decay 0 --batch-size 32 \
  --epochs 3 --steps-per-epoch 150 --max-minutes 10 --threads 2 --workers 1 --out runs/face_ft "$@"
