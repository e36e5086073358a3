"""The default face model (dlib's converted ResNet + YuNet alignment) against the previous
default and against dlib's own pipeline.

``--what lfw``: LFW's standard ``pairs.txt`` (6,000 pairs, 10 folds), every image acquired
by the runtime from the raw 250 × 250 frame (``face_mode="detect"``: YuNet, five-point
alignment; no pre-cropping); 10-fold accuracy (each fold's threshold chosen on the other
nine) and the EER of all 6,000 pairs. The weights never saw LFW (dlib trained them on
other people), so all pairs are fair; a fine-tuned model could only quote test identities.

``--what test``: the split's test identities (``benchmarks/splits/lfw.json``), every image
acquired in the default ``auto`` mode, scored with :mod:`benchmarks.protocol`: EER,
TAR at FAR 1e-2 / 1e-3 and failure-to-acquire, for each bundle given with ``--bundle``.

``--what speed``: image file → embedding, one image at a time, one thread each, on the same
``--speed-images`` test images in the same run: bioverify's runtime (decode, YuNet, warp,
ONNX; ``Verifier.acquire``) with YuNet's own time measured separately on the same decoded
images, and dlib's pipeline as ``face_recognition`` runs it (decode, HOG detector with one
upsampling, 5-point shape predictor, chip, ResNet descriptor; needs dlib-bin). Median and
mean milliseconds per image.

Usage::

    python -m benchmarks.bench_face_default --what lfw
    python -m benchmarks.bench_face_default --what test --bundle build/face_old \\
        --bundle src/bioverify/models/face
    python -m benchmarks.bench_face_default --what speed

Writes ``benchmarks/results/face_default_<what>.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from benchmarks.protocol import evaluate_embeddings
from bioverify.datasets.inventory import scan_datasets
from bioverify.datasets.splits import load_split
from bioverify.verify import Verifier
from bioverify.verify.evaluation import read_lfw_pairs, score_pairs
from bioverify.verify.evaluation_report import EvaluationReport
from bioverify.verify.result import Acquired

ROOT = Path(__file__).resolve().parents[1]
LFW = ROOT.parent / "shared" / "data" / "faces" / "lfw"
SPLIT = ROOT / "benchmarks" / "splits" / "lfw.json"
DEFAULT = ROOT / "src" / "bioverify" / "models" / "face"
RESULTS = ROOT / "benchmarks" / "results"


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def pct(x: float) -> str:
    return f"{100 * x:.2f} %"


def bench_lfw(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    verifier = Verifier.load(args.bundle[0], calibration=False, face_mode="detect")
    pairs = read_lfw_pairs(LFW / "pairs.txt", LFW)
    started = time.perf_counter()
    result = EvaluationReport.from_scores(verifier, score_pairs(verifier, pairs)).to_dict()
    result.update(seconds=round(time.perf_counter() - started, 1), load_at_end=load())
    folds = result["fold_accuracy"]
    fta = result["failures_to_acquire"]
    md = [
        "## LFW `pairs.txt`, acquisition on the raw 250 × 250 frames",
        "",
        f"Model `{result['model']['name']}` (sha256 `{result['model']['sha256'][:12]}`), "
        "face mode `detect` (YuNet, five-point similarity alignment).",
        "",
        "| | |",
        "| --- | --- |",
        f"| 10-fold accuracy | **{pct(folds['mean'])}** ± {pct(folds['std'])} |",
        f"| EER, all {result['trials']['genuine'] + result['trials']['impostor']} pairs "
        f"| **{pct(result['eer'])}** |",
        f"| TAR at FAR 1e-2 / 1e-3 | {pct(result['tar_at_far']['0.01'])} / "
        f"{pct(result['tar_at_far']['0.001'])} (1e-3 supported: "
        f"{result['far_supported']['0.001']}) |",
        f"| failures to acquire | {fta['count']} of {fta['of']} images "
        f"({result['trials']['trials_dropped']} pairs dropped) |",
        "",
        "The weights are dlib's, trained by dlib's author on about 3 million faces of about "
        "7,500 people that exclude LFW's, and never trained here: every LFW pair is unseen.",
    ]
    return result, "\n".join(md)


def bench_test(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    inventory = scan_datasets([LFW], progress=False)
    samples = load_split(SPLIT, inventory, check_content=False).samples(inventory, "test")
    rows: dict[str, Any] = {}
    for bundle in args.bundle:
        verifier = Verifier.load(bundle, calibration=False)
        results = verifier.try_acquire_many([s.path for s in samples])
        kept = [s for s, r in zip(samples, results, strict=True) if isinstance(r, Acquired)]
        embeddings = np.stack([r.embedding for r in results if isinstance(r, Acquired)])
        result = evaluate_embeddings(embeddings, kept)
        modes: dict[str, int] = {}
        for r in results:
            if isinstance(r, Acquired):
                modes[r.quality["mode"]] = modes.get(r.quality["mode"], 0) + 1
        result.update(
            bundle=str(bundle),
            model=verifier.info.name,
            model_sha256=verifier.model_sha256,
            face_mode="auto",
            acquired_by_mode=modes,
            failures_to_acquire={"count": len(samples) - len(kept), "of": len(samples)},
        )
        rows[str(bundle)] = result
    md = [
        "## LFW test identities of the split (identity-disjoint), default `auto` mode",
        "",
        "| bundle | model | EER | TAR@1e-2 | TAR@1e-3 | failures to acquire | trials (gen / imp) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for bundle, r in rows.items():
        p = r["pooled"]
        fta = r["failures_to_acquire"]
        md.append(
            f"| `{bundle}` | {r['model']} | {pct(p['eer'])} | {pct(p['tar_at_far_0.01'])} | "
            f"{pct(p['tar_at_far_0.001'])} | {fta['count']} of {fta['of']} | "
            f"{p['n_genuine']} / {p['n_impostor']} |"
        )
    return {"bundles": rows}, "\n".join(md)


def bench_speed(args: argparse.Namespace) -> tuple[dict[str, Any], str]:
    sys.path.insert(0, str(ROOT))
    from benchmarks.dlib_oracle import DlibPipeline

    cv2.setNumThreads(1)
    inventory = scan_datasets([LFW], progress=False)
    samples = load_split(SPLIT, inventory, check_content=False).samples(inventory, "test")
    paths = [s.path for s in sorted(samples, key=lambda s: str(s.path))][::4][: args.speed_images]
    verifier = Verifier.load(DEFAULT, calibration=False, face_mode="detect", intra_op_threads=1)
    detector = verifier.preprocess.detector  # type: ignore[union-attr]
    dlib_pipe = DlibPipeline()
    verifier.acquire(paths[0])  # warm-up
    ours, yunet, theirs = [], [], []
    for path in paths:
        start = time.perf_counter()
        verifier.acquire(path)
        ours.append(time.perf_counter() - start)
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        start = time.perf_counter()
        detector.detect(rgb)
        yunet.append(time.perf_counter() - start)
        start = time.perf_counter()
        image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        shape = dlib_pipe.shape(image)
        if shape is not None:
            dlib_pipe.descriptor(image, shape)
        theirs.append(time.perf_counter() - start)

    def stats(seconds: list[float]) -> dict[str, float]:
        return {
            "median_ms": round(1000 * statistics.median(seconds), 2),
            "mean_ms": round(1000 * statistics.fmean(seconds), 2),
        }

    result = {
        "images": len(paths),
        "bioverify": stats(ours),
        "yunet_detect": stats(yunet),
        "dlib_pipeline": stats(theirs),
        "ratio_median": round(statistics.median(ours) / statistics.median(theirs), 3),
        "yunet_share_of_bioverify": round(statistics.fmean(yunet) / statistics.fmean(ours), 3),
        "flip_fusion": verifier.info.preprocessing.get("flip_fusion"),
        "load": load(),
    }
    fused = ", flip-fused" if result["flip_fusion"] else ""
    md = [
        f"## Speed: image file → embedding, one at a time, one thread each ({len(paths)} LFW "
        "test images, 250 × 250)",
        "",
        "| pipeline | median ms | mean ms |",
        "| --- | --- | --- |",
        f"| bioverify default (decode, YuNet, warp, ONNX{fused}) "
        f"| {result['bioverify']['median_ms']} | {result['bioverify']['mean_ms']} |",
        f"| of which YuNet detection | {result['yunet_detect']['median_ms']} | "
        f"{result['yunet_detect']['mean_ms']} |",
        f"| dlib (decode, HOG ×1 upsampling, 5-point, chip, ResNet) | "
        f"{result['dlib_pipeline']['median_ms']} | {result['dlib_pipeline']['mean_ms']} |",
        "",
        f"bioverify / dlib (medians): **{result['ratio_median']}×**; YuNet's share of "
        f"bioverify's time: {100 * result['yunet_share_of_bioverify']:.0f} %. Load average "
        f"at the end: {result['load']} (2 shared cores).",
    ]
    return result, "\n".join(md)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--what", choices=["lfw", "test", "speed"], required=True)
    parser.add_argument("--bundle", type=Path, action="append", default=None)
    parser.add_argument("--speed-images", type=int, default=40)
    args = parser.parse_args()
    args.bundle = args.bundle or [DEFAULT]
    command = "python -m benchmarks.bench_face_default " + " ".join(sys.argv[1:])
    run = {"lfw": bench_lfw, "test": bench_test, "speed": bench_speed}[args.what]
    result, markdown = run(args)
    result["command"] = command
    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"face_default_{args.what}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    stem.with_suffix(".md").write_text(f"{markdown}\n\nCommand: `{command}`\n")
    print(markdown)


if __name__ == "__main__":
    main()
