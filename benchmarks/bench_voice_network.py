"""How fast the voice *network* alone runs: bioverify bundles (onnxruntime, the mel front-end in
the graph) against Resemblyzer's torch encoder, on the same 1.6 s windows, in one run.

This is the ceiling of any pipeline built on the network: what a window costs once decoding,
VAD, resampling and the windowing are gone. Each system embeds a batch of ``--batch`` windows
(and batches of 1) cut from real test clips, with one thread; the systems take turns, one
short timing each, ``--rounds`` times, and the median rate is reported, so a machine that is
busy with something else slows all of them alike. Multiply-adds per window are counted from the
LSTM's sizes (the gates' matrix products, the part that grows with the network).

Usage::

    PYTHONPATH=src .venv/bin/python -m benchmarks.bench_voice_network \
        --bundle fp32=src/bioverify/models/voice --bundle int8=build/voice_q-int8 \
        --data ../shared/data/speakers/arabic_speech_commands \
        --out benchmarks/results/voice_network_speed
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from bioverify.bundle import load_bundle
from bioverify.media import read_audio
from bioverify.verify.voice_input import PartialWindows

RATE = 16000
#: one timing: runs the system on its prepared batch, returns the windows it embedded
Timed = Callable[[], int]


def lstm_multiply_adds(sizes: list[tuple[int, int]], frames: int) -> int:
    """Multiply-adds of a stacked LSTM over ``frames`` steps; ``sizes``: (input, hidden) per
    layer; four gates, each an input and a recurrent matrix product."""
    return frames * sum(4 * hidden * (inputs + hidden) for inputs, hidden in sizes)


def windows_from(folder: Path, partials: PartialWindows, n: int) -> np.ndarray:
    """``n`` model inputs cut from the recordings under ``folder`` (first window of each)."""
    rows = []
    for path in sorted(p for p in folder.rglob("*") if p.suffix in {".flac", ".ogg", ".wav"}):
        wave = read_audio(path, RATE)
        rows.append(partials.windows(wave, RATE)[0])
        if len(rows) == n:
            break
    if len(rows) < n:
        raise SystemExit(f"{folder}: only {len(rows)} recordings, need {n}")
    return np.stack(rows).astype(np.float32)


def bundle_timer(path: Path, windows: np.ndarray) -> Timed:
    bundle = load_bundle(path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(
        str(bundle.model_path), options, providers=["CPUExecutionProvider"]
    )
    name = session.get_inputs()[0].name

    def run() -> int:
        session.run(None, {name: windows})
        return len(windows)

    return run


def resemblyzer_timer(windows: np.ndarray, context: int) -> Timed:
    import torch
    from resemblyzer import VoiceEncoder, audio

    torch.set_num_threads(1)
    encoder = VoiceEncoder("cpu", verbose=False)
    # Resemblyzer's mel frames of the same samples the bundle's frames see
    mels = np.stack([audio.wav_to_mel_spectrogram(w[context:-context]) for w in windows])
    frames = torch.from_numpy(mels[:, :160].astype(np.float32))

    def run() -> int:
        with torch.no_grad():
            encoder(frames)
        return len(frames)

    return run


def measure(timers: dict[str, Timed], rounds: int, seconds: float) -> dict[str, float]:
    """Median windows/s of each system over ``rounds`` turns of about ``seconds`` each."""
    rates: dict[str, list[float]] = {name: [] for name in timers}
    for run in timers.values():
        run()  # warm-up
    for _ in range(rounds):
        for name, run in timers.items():
            start, done = time.perf_counter(), 0
            while time.perf_counter() - start < seconds:
                done += run()
            rates[name].append(done / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


def markdown(report: dict[str, Any]) -> str:
    lines = [
        "# Voice network alone: windows per second (1 thread)",
        "",
        f"Command: `{report['command']}`",
        "",
        f"{report['windows']} windows of 1.6 s from `{report['data']}`; each system takes "
        f"{report['rounds']} turns of {report['seconds']} s in rotation, median reported; "
        f"load average {report['load_before']:.1f} before, {report['load_after']:.1f} after "
        f"({report['cpus']} CPUs). The bundles' rate includes their mel front-end (in the "
        "ONNX graph); Resemblyzer's excludes its mel (computed before timing).",
        "",
        f"LSTM multiply-adds per window: {report['multiply_adds_per_window'] / 1e9:.3f} G "
        "(3 layers of 256 over 40 mel bands, 160 frames).",
        "",
        "| system | batch | windows/s | vs Resemblyzer (same batch) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in report["rows"]:
        lines.append(
            f"| {row['system']} | {row['batch']} | {row['windows_per_s']:.1f} | "
            f"{row['ratio']:.2f}x |"
        )
    return "\n".join([*lines, ""])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", action="append", required=True, help="NAME=PATH")
    parser.add_argument("--data", type=Path, required=True, help="a folder of recordings")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.json and OUT.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    bundles = dict(spec.split("=", 1) for spec in args.bundle)
    first = load_bundle(Path(next(iter(bundles.values()))))
    partials = PartialWindows.from_dict(first.preprocessing["partials"])
    windows = windows_from(args.data, partials, args.batch)
    rows = []
    for batch in (1, args.batch):
        part = windows[:batch]
        timers = {name: bundle_timer(Path(path), part) for name, path in bundles.items()}
        timers["resemblyzer"] = resemblyzer_timer(part, partials.context)
        rates = measure(timers, args.rounds, args.seconds)
        for name, rate in rates.items():
            rows.append(
                {
                    "system": name,
                    "batch": batch,
                    "windows_per_s": round(rate, 1),
                    "ratio": round(rate / rates["resemblyzer"], 2),
                }
            )
            print(rows[-1], flush=True)
    report = {
        "command": "PYTHONPATH=src .venv/bin/python -m benchmarks.bench_voice_network "
        + " ".join(f"--bundle {b}" for b in args.bundle)
        + f" --data {args.data} --batch {args.batch} --rounds {args.rounds}"
        + f" --seconds {args.seconds} --out {args.out}",
        "data": str(args.data),
        "windows": args.batch,
        "rounds": args.rounds,
        "seconds": args.seconds,
        "cpus": os.cpu_count(),
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "multiply_adds_per_window": lstm_multiply_adds(
            [(40, 256), (256, 256), (256, 256)], partials.frames
        ),
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(report, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(report))
    print(f"-> {args.out}.json, {args.out}.md")


if __name__ == "__main__":
    main()
