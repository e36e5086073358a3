"""Fit the five-point YuNet template (and the aligned-frame crop box) of the dlib ResNet
face model so that YuNet-aligned crops reproduce dlib's own face chips. Dev-only: needs
dlib-bin and face_recognition_models (the oracle), and the shared LFW data.

For each sampled LFW image of the split's *train* identities where both dlib's HOG detector
and YuNet find a face, dlib's chip transform (image → 150 px chip) maps YuNet's five
landmarks into chip coordinates; the template is their mean (the least-squares template).
Tried on 150 val-identity images (descriptor cosine to dlib's chip, mean): this mean 0.9926;
a generalised Procrustes mean 0.9872 (it shrinks the template); the mean scaled by
0.97–1.03 or shifted 2 px up/down 0.9915–0.9926; eyes weighted 2–3× in the fit 0.9931 (not
worth a weighted alignment). The crop box is the
median position of dlib's chip in LFW's 250 × 250 frame. Then, on images of the *val*
identities, it measures how close the runtime's YuNet-aligned crops come to dlib's chips:
pixel-wise and as descriptors (cosine, with the converted network).

    PYTHONPATH=src .venv/bin/python recipes/face_resnet_dlib/fit_template.py \
        --data ../shared/data/faces/lfw --split benchmarks/splits/lfw.json \
        --out recipes/face_resnet_dlib/template.json
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root
from benchmarks.dlib_oracle import CHIP_SIZE, DlibPipeline

from bioverify.face_geometry import FaceGeometry
from bioverify.verify.face_detect import YuNetDetector
from bioverify.verify.face_input import FacePreprocessor

FRAME = (250, 250)


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:, :2].T + matrix[:, 2]


def _sample(data: Path, identities: list[str], count: int, seed: int) -> list[Path]:
    files = sorted(p for name in identities for p in (data / name).glob("*.jpg"))
    random.Random(seed).shuffle(files)
    return files[:count]


def _observations(files: list[Path], dlib_pipe: DlibPipeline, yunet: YuNetDetector) -> list:
    rows = []
    for path in files:
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        shape = dlib_pipe.shape(rgb)
        boxes = yunet.detect(rgb)
        if shape is None or not boxes or boxes[0].landmarks is None:
            continue
        rows.append((path, rgb, shape, dlib_pipe.to_chip(shape), np.array(boxes[0].landmarks)))
    return rows


def fit(rows: list) -> tuple[np.ndarray, tuple[int, int, int, int], np.ndarray]:
    """Template in chip pixels, crop box in frame pixels, template in frame pixels."""
    template = np.stack([_apply(to_chip, points) for _, _, _, to_chip, points in rows]).mean(0)
    # where dlib's chip lies in the frame: its centre and side, medians over the images
    last = CHIP_SIZE - 1
    centres, sides = [], []
    for _, _, _, to_chip, _ in rows:
        inverse = cv2.invertAffineTransform(to_chip)
        corners = _apply(inverse, np.array([[0, 0], [last, 0], [0, last], [last, last]], float))
        centres.append(corners.mean(0))
        sides.append(np.linalg.norm(corners[1] - corners[0]) * CHIP_SIZE / last)
    cx, cy = np.median(centres, axis=0)
    side = round(float(np.median(sides)))
    box = (round(cx - side / 2), round(cy - side / 2), side, side)
    template_frame = template * side / CHIP_SIZE + np.array(box[:2], float)
    return template, box, template_frame


def evaluate(rows: list, geometry: FaceGeometry, dlib_pipe: DlibPipeline) -> dict:
    """How close the runtime's crops (detect and aligned modes) come to dlib's chips."""
    detect = FacePreprocessor(geometry, "detect")
    aligned = FacePreprocessor(geometry, "aligned")
    reference, ours, fixed, pixel = [], [], [], []
    for _, rgb, shape, _, _ in rows:
        chip = dlib_pipe.chip(rgb, shape)
        crop = detect(rgb).arrays[0]
        reference.append(chip)
        ours.append(crop)
        fixed.append(aligned(rgb).arrays[0])
        pixel.append(float(np.abs(chip.astype(float) - crop).mean()))
    ref = dlib_pipe.chip_descriptors(np.stack(reference))
    out = {"images": len(rows), "mean_abs_pixel_difference_detect": float(np.mean(pixel))}
    for label, crops in (("detect", ours), ("aligned", fixed)):
        got = dlib_pipe.chip_descriptors(np.stack(crops))
        cos = (ref * got).sum(1) / np.linalg.norm(ref, axis=1) / np.linalg.norm(got, axis=1)
        out[f"descriptor_cosine_{label}"] = {
            "mean": float(cos.mean()),
            "median": float(np.median(cos)),
            "p5": float(np.percentile(cos, 5)),
            "min": float(cos.min()),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--fit-images", type=int, default=600)
    parser.add_argument("--eval-images", type=int, default=200)
    args = parser.parse_args()
    split = json.loads(args.split.read_text())
    dlib_pipe, yunet = DlibPipeline(), YuNetDetector()
    fit_rows = _observations(
        _sample(args.data, split["train"], args.fit_images, 0), dlib_pipe, yunet
    )
    template, box, template_frame = fit(fit_rows)
    geometry = FaceGeometry(
        frame_size=FRAME,
        crop_box=box,
        output_size=CHIP_SIZE,
        colour="rgb",
        interpolation="linear",
        landmarks=tuple((float(x), float(y)) for x, y in np.round(template_frame, 3)),
    )
    eval_rows = _observations(
        _sample(args.data, split["val"], args.eval_images, 1), dlib_pipe, yunet
    )
    result = {
        "command": "PYTHONPATH=src .venv/bin/python recipes/face_resnet_dlib/fit_template.py "
        + " ".join(sys.argv[1:]),
        "fit": {
            "identities": "train",
            "images_sampled": args.fit_images,
            "images_used": len(fit_rows),
        },
        "template_chip_px": np.round(template, 3).tolist(),
        "face_geometry": geometry.to_dict(),
        "evaluation_val_identities": evaluate(eval_rows, geometry, dlib_pipe),
    }
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
