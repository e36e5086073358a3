"""Speed of the exported encoders on this CPU: torch eager vs onnxruntime fp32 / fp16 / int8.

For the face encoder (``--face-checkpoint``) and the voice encoder (``--voice-checkpoint``):

1. A temporary calibration folder of symlinks to the *validation* identities of
   ``benchmarks/splits/lfw.json`` / ``speakers.json`` (one sub-folder per identity).
2. :func:`bioverify.export.pipeline.export_bundle` with ``fp16`` and ``int8`` calibrated on
   that folder (the same code as ``bioverify export --fp16 --int8 --calibration-data DIR``),
   into a temporary folder.
3. Inputs: real samples of the calibration folder, decoded as the export decodes them
   (faces: :func:`~bioverify.face_geometry.crop_aligned` with the checkpoint's geometry,
   uint8 ``[N, H, W, 3]``; voices: clips at the model rate, centred/repeated to exactly
   ``--voice-seconds``). Batches of 1 and 32 are taken from them.
4. Embeddings per second of torch eager (``torch.no_grad``) and the three onnxruntime
   sessions (CPU provider), all with ``--threads`` intra-op threads. Per batch size: one
   warm-up call each, then ``--rounds`` rounds, each timing every backend in turn (so load
   changes hit all alike) for at least ``--min-seconds`` (at least one call). Reported: best
   and median round; ratios to torch eager use the best round (load only slows a run).
5. Cosine of fp16 / int8 embeddings to fp32 (and fp32 to torch) over all the real inputs.
6. An onnxruntime profile of fp32 and int8 at batch 1: share of node time per op type.

Targets (issue 4): onnxruntime fp32 >= 1.5x torch eager at batch 1; int8 >= 2.5x with mean
cosine to fp32 >= 0.99.

The machine is shared, so ``os.getloadavg()`` is stored beside every timing.

Usage::

    python -m benchmarks.bench_export_speed --threads 2

Writes ``benchmarks/results/export_speed.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import torch

from bioverify.export.measure import cpu_session
from bioverify.export.parity import agreement, batched, embed_torch
from bioverify.export.pipeline import export_bundle, variant_path
from bioverify.export.samples import load_samples
from bioverify.export.source import TrainedEncoder, load_trained_encoder

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
SPLITS = {
    "face": ROOT / "benchmarks/splits/lfw.json",
    "voice": ROOT / "benchmarks/splits/speakers.json",
}
BATCHES = (1, 32)
PRECISIONS = ("fp32", "fp16", "int8")
BACKENDS = ("torch", *PRECISIONS)
#: issue 4's targets: speed ratio to torch eager at batch 1, and int8's mean cosine to fp32
TARGET_FP32, TARGET_INT8, TARGET_COSINE = 1.5, 2.5, 0.99


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def calibration_folder(split_path: Path, into: Path) -> tuple[Path, int, list[str]]:
    """A folder of symlinks, one per validation identity of the split found as a sub-folder
    of one of its data roots (a CSV manifest's folder counts as its root). Returns the folder,
    the number linked and the identities not found."""
    split = json.loads(split_path.read_text(encoding="utf-8"))
    roots = [Path(p).parent if p.endswith(".csv") else Path(p) for p in split["data"]]
    folder = into / f"{split_path.stem}_val"
    folder.mkdir()
    missing = []
    for identity in split["val"]:
        found = next((r / identity for r in roots if (r / identity).is_dir()), None)
        if found is None:
            missing.append(identity)
        else:
            (folder / identity).symlink_to(found)
    return folder, len(split["val"]) - len(missing), missing


def model_inputs(trained: TrainedEncoder, folder: Path, count: int, seconds: float) -> np.ndarray:
    """``count`` real inputs stacked (faces as crops; voices cut/repeated to ``seconds``)."""
    real = load_samples(folder, trained, count)
    if trained.geometry is not None:
        return np.stack(real.inputs)
    length = round(seconds * (trained.sample_rate or 16000))
    clips = []
    for clip in real.inputs:
        if clip.size > length:
            start = (clip.size - length) // 2
            clip = clip[start : start + length]
        clips.append(np.resize(clip, length))  # np.resize repeats a short clip
    return np.stack(clips).astype(np.float32)


Runner = Callable[[np.ndarray], Any]


def ort_runner(model: Path, threads: int) -> Runner:
    """``f(batch) -> outputs`` of an onnxruntime CPU session."""
    session = cpu_session(model, threads)
    name = session.get_inputs()[0].name

    def run(batch: np.ndarray) -> Any:
        return session.run(None, {name: batch})

    return run


def runners(trained: TrainedEncoder, bundles: dict[str, Path], threads: int) -> dict[str, Runner]:
    """One ``f(batch)`` per backend."""
    encoder = trained.encoder

    def torch_run(batch: np.ndarray) -> None:
        with torch.no_grad():
            encoder(torch.from_numpy(batch))

    out: dict[str, Runner] = {"torch": torch_run}
    for precision, bundle in bundles.items():
        out[precision] = ort_runner(bundle / "model.onnx", threads)
    return out


def rate(run: Runner, batch: np.ndarray, min_seconds: float) -> float:
    calls, began = 0, time.perf_counter()
    while calls < 1 or time.perf_counter() - began < min_seconds:
        run(batch)
        calls += 1
    return calls * batch.shape[0] / (time.perf_counter() - began)


def time_backends(
    runs: dict[str, Runner], batch: np.ndarray, rounds: int, min_s: float
) -> dict[str, dict[str, Any]]:
    for run in runs.values():
        run(batch)  # warm-up
    rates: dict[str, list[float]] = defaultdict(list)
    loads: list[list[float]] = []
    for _ in range(rounds):
        loads.append(load())
        for name, run in runs.items():
            rates[name].append(rate(run, batch, min_s))
    return {
        name: {
            "best": max(values),
            "median": statistics.median(values),
            "rounds": [round(v, 2) for v in values],
            "load_per_round": loads,
        }
        for name, values in rates.items()
    }


def embed(run: Runner, x: np.ndarray) -> np.ndarray:
    """Embeddings of ``x`` by an onnxruntime runner, in batches of 32."""
    return np.concatenate([np.asarray(run(b)[0], np.float32) for b in batched(list(x), 32)])


def op_profile(model: Path, batch: np.ndarray, threads: int, calls: int) -> dict[str, float]:
    """Share of node time per ONNX op type over ``calls`` runs (onnxruntime profiler)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_profiling = True
    with tempfile.TemporaryDirectory() as tmp:
        options.profile_file_prefix = str(Path(tmp) / "profile")
        session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
        feed = {session.get_inputs()[0].name: batch}
        for _ in range(calls):
            session.run(None, feed)
        events = json.loads(Path(session.end_profiling()).read_text(encoding="utf-8"))
    per_op: dict[str, float] = defaultdict(float)
    for event in events:
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            per_op[event["args"]["op_name"]] += event["dur"]
    total = sum(per_op.values()) or 1.0
    ranked = sorted(per_op.items(), key=lambda kv: -kv[1])
    return {op: round(dur / total, 4) for op, dur in ranked}


def bench_modality(
    modality: str, checkpoint: Path, work: Path, args: argparse.Namespace
) -> dict[str, Any]:
    calib, linked, missing = calibration_folder(SPLITS[modality], work)
    print(f"[{modality}] calibration folder: {linked} val identities linked", flush=True)
    began = time.perf_counter()
    report = export_bundle(
        checkpoint,
        work / f"{modality}-bundle",
        fp16=True,
        int8=True,
        calibration_data=calib,
        max_samples=args.calibration_samples,
        threads=args.threads,
        timing_seconds=0.2,
    )
    export_s = time.perf_counter() - began
    print(f"[{modality}] exported in {export_s:.0f} s", flush=True)
    bundles = {p: variant_path(work / f"{modality}-bundle", p) for p in PRECISIONS}
    trained = load_trained_encoder(checkpoint)
    x = model_inputs(trained, calib, args.inputs, args.voice_seconds)
    runs = runners(trained, bundles, args.threads)
    speed: dict[str, Any] = {}
    for size in BATCHES:
        batch = np.ascontiguousarray(np.resize(x, (size, *x.shape[1:])))
        timed = time_backends(runs, batch, args.rounds, args.min_seconds)
        torch_best = timed["torch"]["best"]
        torch_median = timed["torch"]["median"]
        for name in BACKENDS:
            timed[name]["ratio_best"] = timed[name]["best"] / torch_best
            timed[name]["ratio_median"] = timed[name]["median"] / torch_median
        speed[f"batch_{size}"] = timed
        print(
            f"[{modality}] batch {size}: "
            + ", ".join(
                f"{n} {timed[n]['best']:.1f}/s ({timed[n]['ratio_best']:.2f}x)" for n in BACKENDS
            ),
            flush=True,
        )
    fp32 = embed(runs["fp32"], x)
    cosine = {
        "fp32_vs_torch": agreement(
            embed_torch(trained.encoder, batched(list(x), 32)), fp32
        ).to_dict(),
        **{f"{p}_vs_fp32": agreement(fp32, embed(runs[p], x)).to_dict() for p in ("fp16", "int8")},
    }
    profile_calls = 50 if modality == "face" else 5
    profile = {
        p: op_profile(
            bundles[p] / "model.onnx", np.ascontiguousarray(x[:1]), args.threads, profile_calls
        )
        for p in ("fp32", "int8")
    }
    b1 = speed["batch_1"]
    targets = {
        "fp32_ratio_b1": {"value": b1["fp32"]["ratio_best"], "target": TARGET_FP32},
        "int8_ratio_b1": {"value": b1["int8"]["ratio_best"], "target": TARGET_INT8},
        "int8_mean_cosine": {
            "value": cosine["int8_vs_fp32"]["mean_cosine"],
            "target": TARGET_COSINE,
        },
    }
    for target in targets.values():
        target["pass"] = bool(target["value"] >= target["target"])
    return {
        "checkpoint": str(checkpoint),
        "model": trained.training["model"]["name"],
        "input": list(x.shape[1:]),
        "input_dtype": str(x.dtype),
        "real_inputs": int(x.shape[0]),
        "calibration": {
            "split": str(SPLITS[modality].relative_to(ROOT)),
            "val_identities_linked": linked,
            "missing": missing,
            "samples": report.real_samples,
            "skipped": report.skipped_samples,
        },
        "export_seconds": round(export_s, 1),
        "export": {
            v.precision: {"size_bytes": v.size_bytes, "eer": v.eer, "warnings": list(v.warnings)}
            for v in report.variants
        },
        "speed": speed,
        "cosine": cosine,
        "op_profile_batch_1": profile,
        "targets": targets,
    }


def markdown(result: dict[str, Any]) -> str:
    lines = [
        "# Exported encoders: speed vs torch eager",
        "",
        f"`{result['command']}`",
        "",
        f"{result['machine']['cpus']} CPUs shared with a training run and other jobs (load "
        f"{result['machine']['load_at_start']} at start, {result['machine']['load_at_end']} at "
        f"end). torch {result['machine']['torch']}, "
        f"onnxruntime {result['machine']['onnxruntime']}, "
        f"{result['threads']} intra-op threads for torch and onnxruntime alike. Embeddings/s: best "
        f"of {result['rounds']} interleaved rounds of >= {result['min_seconds']} s after one "
        "warm-up call; ratio = best / torch eager's best (median-round ratio in brackets).",
        "",
        "| modality | batch | backend | embeddings/s (best) | median | ratio to torch "
        "| load (1-min, per round) |",
        "|---|---|---|---|---|---|---|",
    ]
    for modality, res in result["modalities"].items():
        for key, timed in res["speed"].items():
            for name in BACKENDS:
                t = timed[name]
                lines.append(
                    f"| {modality} | {key.split('_')[1]} | {name} | {t['best']:.1f} | "
                    f"{t['median']:.1f} | {t['ratio_best']:.2f}x ({t['ratio_median']:.2f}x) | "
                    f"{', '.join(str(avg[0]) for avg in t['load_per_round'])} |"
                )
    lines += [
        "",
        "## Cosine to the reference (all real inputs)",
        "",
        "| modality | inputs | comparison | mean | min |",
        "|---|---|---|---|---|",
    ]
    for modality, res in result["modalities"].items():
        for name, agree in res["cosine"].items():
            lines.append(
                f"| {modality} | {res['real_inputs']} x {res['input']} {res['input_dtype']} | "
                f"{name.replace('_vs_', ' vs ')} | {agree['mean_cosine']:.6f} | "
                f"{agree['min_cosine']:.6f} |"
            )
    lines += [
        "",
        "## Targets (issue 4, batch 1)",
        "",
        "| modality | target | value | pass |",
        "|---|---|---|---|",
    ]
    for modality, res in result["modalities"].items():
        for name, t in res["targets"].items():
            value = f"{t['value']:.4f}" if "cosine" in name else f"{t['value']:.2f}x"
            lines.append(
                f"| {modality} | {name} >= {t['target']} | {value} | "
                f"{'PASS' if t['pass'] else 'FAIL'} |"
            )
    lines += ["", "## Where onnxruntime spends its time (batch 1, share of node time)", ""]
    for modality, res in result["modalities"].items():
        for precision, ops in res["op_profile_batch_1"].items():
            top = ", ".join(f"{op} {100 * share:.0f} %" for op, share in list(ops.items())[:6])
            lines.append(f"- {modality} {precision}: {top}")
    face = result["modalities"].get("face")
    if face and next(iter(face["op_profile_batch_1"]["fp32"]), None) == "PRelu":
        share = face["op_profile_batch_1"]["fp32"]["PRelu"]
        lines += [
            "",
            f"PReLU finding: onnxruntime's `PRelu` kernel takes {100 * share:.0f} % of the "
            "MobileFaceNet's node time at batch 1 (more than its convolutions), which caps what "
            "ORT fp32 and int8 (which quantises only Conv/Gemm/MatMul) can gain over torch.",
        ]
    lines += ["", "## Export (calibration on the split's val identities)", ""]
    for modality, res in result["modalities"].items():
        sizes = ", ".join(
            f"{p} {v['size_bytes'] / 1e6:.1f} MB (EER {100 * v['eer']:.2f} %)"
            if v["eer"] is not None
            else f"{p} {v['size_bytes'] / 1e6:.1f} MB"
            for p, v in res["export"].items()
        )
        cal = res["calibration"]
        lines.append(
            f"- {modality} ({res['model']}, `{res['checkpoint']}`): {cal['samples']} samples of "
            f"{cal['val_identities_linked']} val identities; {sizes}; export took "
            f"{res['export_seconds']} s"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--face-checkpoint", type=Path, default=ROOT / "runs/face_arcface_long/best.pt"
    )
    parser.add_argument(
        "--voice-checkpoint", type=Path, default=ROOT / "runs/voice_arcface/best.pt"
    )
    parser.add_argument(
        "--modalities", nargs="+", default=["face", "voice"], choices=["face", "voice"]
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--min-seconds", type=float, default=0.5)
    parser.add_argument("--calibration-samples", type=int, default=128)
    parser.add_argument("--inputs", type=int, default=64, help="real inputs for the cosines")
    parser.add_argument("--voice-seconds", type=float, default=3.0)
    parser.add_argument("--out", type=Path, default=RESULTS / "export_speed")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    result: dict[str, Any] = {
        "command": "python -m benchmarks.bench_export_speed "
        + shlex.join(sys.argv[1:] if argv is None else argv),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "torch": torch.__version__,
            "onnxruntime": ort.__version__,
            "load_at_start": load(),
        },
        "threads": args.threads,
        "rounds": args.rounds,
        "min_seconds": args.min_seconds,
        "modalities": {},
    }
    checkpoints = {"face": args.face_checkpoint, "voice": args.voice_checkpoint}
    with tempfile.TemporaryDirectory(prefix="bench_export_speed-") as tmp:
        for modality in args.modalities:
            work = Path(tmp) / modality
            work.mkdir()
            result["modalities"][modality] = bench_modality(
                modality, checkpoints[modality], work, args
            )
    result["machine"]["load_at_end"] = load()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    args.out.with_suffix(".md").write_text(markdown(result), encoding="utf-8")
    print(markdown(result))


if __name__ == "__main__":
    main()
