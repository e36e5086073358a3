#!/usr/bin/env bash
# Regenerates the default face model shipped in src/bioverify/models/face/ (issue 11): dlib's
# public-domain face ResNet from the face_recognition_models 0.3.0 package (pip install
# face_recognition_models==0.3.0; the .dat's sha256 and structure are checked), converted into
# bioverify's dlib_resnet29, exported to ONNX (fp32, flip fusion; an int8 variant is written
# to build/face_default-int8 for comparison and not shipped), calibrated on the LFW test
# identities in the default auto mode (YuNet), installed. A few minutes on 2 CPU cores.
# The five-point template in recipes/face_resnet_dlib/template.json was fitted with
# fit_template.py (needs dlib-bin, the dev-only oracle); re-run it first to refit.
# The licence file src/bioverify/models/face/LICENSE is committed, not generated.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python recipes/face_resnet_dlib/convert.py --out build/dlib_resnet29.pt
# real samples of the val identities for the int8 calibration and the export's EER check
.venv/bin/python - <<'PY'
import json, os
split = json.load(open("benchmarks/splits/lfw.json"))
os.makedirs("build/lfw_val", exist_ok=True)
for name in split["val"]:
    link = f"build/lfw_val/{name}"
    if not os.path.exists(link):
        os.symlink(os.path.abspath(f"../shared/data/faces/lfw/{name}"), link)
PY
.venv/bin/bioverify export build/dlib_resnet29.pt --out build/face_default --flip-fusion \
  --int8 --calibration-data build/lfw_val --name face-dlib-resnet29 --overwrite
.venv/bin/bioverify calibrate --model build/face_default --data ../shared/data/faces/lfw \
  --split benchmarks/splits/lfw.json --split-part test --face-mode auto \
  --target-far 0.01 --target-far 0.001 --target-frr 0.05 --install --report build/face_report
mkdir -p src/bioverify/models/face
cp build/face_default/{model.onnx,bundle.json,calibration.json} src/bioverify/models/face/
