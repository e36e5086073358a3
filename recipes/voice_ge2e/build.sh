#!/usr/bin/env bash
# Regenerates the default voice model shipped in src/bioverify/models/voice/ from Resemblyzer's
# pretrained GE2E encoder (pip install resemblyzer==0.1.4, a dev dependency; Apache-2.0):
# convert its weights into the project's ge2e_lstm module (convert.py), export to ONNX (fp32,
# mel front-end in the graph), calibrate on the held-out test speakers of the shared corpora,
# install, and ship Resemblyzer's licence beside the model. No training.
# Measured here: 18 s for all of it on the quiet 2-core machine (1.5 min under heavy load).
set -euo pipefail
cd "$(dirname "$0")/../.."
D=../shared/data/speakers
DATA=(--data $D/arabic_speech_commands --data $D/common_voice_fa/manifest.csv --data $D/urdu_speech)
export PYTHONPATH=src
.venv/bin/python recipes/voice_ge2e/convert.py --out runs/voice_ge2e/ge2e.pt
.venv/bin/bioverify export runs/voice_ge2e/ge2e.pt --out build/voice_ge2e \
  --name voice-ge2e-resemblyzer --overwrite
# AS-Norm cohort: 1,000 random clips of the split's train speakers, top 200 (chosen on val)
.venv/bin/bioverify cohort --model build/voice_ge2e "${DATA[@]}" \
  --split benchmarks/splits/speakers.json --size 1000 --top-k 200
.venv/bin/bioverify calibrate --model build/voice_ge2e "${DATA[@]}" \
  --split benchmarks/splits/speakers.json --split-part test \
  --target-far 0.01 --target-far 0.001 --target-frr 0.05 --install --report build/voice_ge2e_report
LICENCE=$(.venv/bin/python -c "from importlib import metadata as m; \
d = m.distribution('resemblyzer'); print(next(f.locate() for f in d.files if f.name == 'LICENSE'))")
cp "$LICENCE" build/voice_ge2e/LICENSE-resemblyzer.txt
mkdir -p src/bioverify/models/voice
cp build/voice_ge2e/{model.onnx,bundle.json,calibration.json,cohort.npy,LICENSE-resemblyzer.txt} \
  src/bioverify/models/voice/
