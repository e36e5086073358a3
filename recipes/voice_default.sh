#!/usr/bin/env bash
# Regenerates the default voice model shipped in src/bioverify/models/voice/. Since issue 12
# that is Resemblyzer's pretrained GE2E encoder converted to the project's ge2e_lstm module
# (recipes/voice_ge2e/build.sh: convert, export, calibrate on the test speakers, install).
# The former default, ECAPA-TDNN trained here (voice-ecapa128-arcface), is rebuilt with
# benchmarks/train_voice_arcface.sh and `bioverify export runs/voice_arcface/best.pt`.
set -euo pipefail
exec "$(dirname "$0")/voice_ge2e/build.sh"
