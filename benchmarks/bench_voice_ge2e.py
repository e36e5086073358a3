"""Old default voice model vs the converted GE2E encoder vs the ``resemblyzer`` package, on the
same trials, in one run: by condition (original, 8 kHz, OGG Vorbis and MP3 round trips), by
clip length, and speed.

Every sample of the split's held-out speakers (``--which test`` or ``val``) is decoded once
at 16 kHz; each condition derives its copies from that:

* ``8 kHz``: resampled to 8 kHz and handed over at 8 kHz (each system resamples it back
  itself, as it would a user's 8 kHz file);
* ``OGG Vorbis`` / ``MP3``: encoded and decoded again with libsndfile (quality 0.5);
* ``0.3 s`` … ``4 s``: the stretch of that length centred on the middle of the clip's
  detected speech (clips already shorter are kept whole).

Systems: bioverify bundles through :class:`bioverify.verify.Verifier` (its VAD, trim and
windows; ``--bundle NAME=PATH``, repeatable; ``NAME:loop=PATH`` repeats short clips to fill
a window instead of zero-filling them) and Resemblyzer's own pipeline (``preprocess_wav`` then
``VoiceEncoder.embed_utterance``). A condition's trials are drawn from the samples every
system acquired, so all systems are scored on the same trials (protocol of
:mod:`benchmarks.protocol`, per corpus and pooled); failures to acquire are counted per
system. Speed: embeddings per second over the original clips (a mixed-length folder) with
every system limited to ``--threads`` threads (default 1: with 2 threads on the shared
2-core machine torch's LSTM took 40 times longer), preprocessing included, decoding
excluded, on ``--speed-clips`` random clips (a mixed-length folder); bioverify bundles also
with ``batch_size=1``, Resemblyzer also clip by clip (``embed_utterance``).

Usage::

    PYTHONPATH=src .venv/bin/python -m benchmarks.bench_voice_ge2e \
        --bundle old=build/voice_old --bundle ge2e=build/voice_ge2e \
        --bundle ge2e:loop=build/voice_ge2e \
        --data ../shared/data/speakers/arabic_speech_commands \
        --data ../shared/data/speakers/common_voice_fa/manifest.csv \
        --data ../shared/data/speakers/urdu_speech \
        --split benchmarks/splits/speakers.json --which test \
        --out benchmarks/results/voice_ge2e_test
"""

from __future__ import annotations

import argparse
import dataclasses
import io
import itertools
import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from benchmarks.protocol import evaluate_embeddings
from bioverify.datasets.inventory import Sample, scan_datasets
from bioverify.datasets.splits import load_split
from bioverify.media import read_audio, resample
from bioverify.verify import Verifier
from bioverify.verify.result import Acquired
from bioverify.verify.voice_input import VoicePreprocessor, VoiceSettings, speech_mask

RATE = 16000
LENGTHS = (0.3, 0.5, 1.0, 2.0, 4.0)
CODECS = {"OGG Vorbis": ("OGG", "VORBIS"), "MP3": ("MP3", "MPEG_LAYER_III")}

#: one system: inputs → (embeddings of the acquired ones, acquired mask)
System = Callable[[list[Any]], tuple[np.ndarray, np.ndarray]]


def _round_trip(wave: np.ndarray, container: str, subtype: str) -> np.ndarray:
    buffer = io.BytesIO()
    soundfile.write(buffer, wave, RATE, format=container, subtype=subtype)
    buffer.seek(0)
    decoded, rate = soundfile.read(buffer, dtype="float32")
    return resample(decoded, rate, RATE)


def _centred(wave: np.ndarray, seconds: float) -> np.ndarray:
    size = round(seconds * RATE)
    if wave.size <= size:
        return wave
    found = np.flatnonzero(speech_mask(wave, RATE, VoiceSettings()))
    middle = (found[0] + found[-1]) // 2 if found.size else wave.size // 2
    start = int(np.clip(middle - size // 2, 0, wave.size - size))
    return wave[start : start + size]


def conditions(waves: list[np.ndarray]) -> dict[str, list[Any]]:
    """Every condition's inputs: ``(waveform, rate)`` pairs."""
    result: dict[str, list[Any]] = {"original": [(w, RATE) for w in waves]}
    result["8 kHz"] = [(resample(w, RATE, 8000), 8000) for w in waves]
    for name, (container, subtype) in CODECS.items():
        result[name] = [(_round_trip(w, container, subtype), RATE) for w in waves]
    for seconds in LENGTHS:
        result[f"{seconds:g} s"] = [(_centred(w, seconds), RATE) for w in waves]
    return result


def bundle_system(path: Path, fill: str | None, threads: int, batch_size: int = 32) -> System:
    verifier = Verifier.load(
        path, calibration=False, intra_op_threads=threads, batch_size=batch_size
    )
    preprocess = verifier.preprocess
    if fill is not None:
        assert isinstance(preprocess, VoicePreprocessor) and preprocess.partials is not None
        preprocess.partials = dataclasses.replace(preprocess.partials, fill=fill)

    def run(inputs: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        results = verifier.try_acquire_many(inputs)
        ok = np.array([isinstance(r, Acquired) for r in results])
        rows = [r.embedding for r in results if isinstance(r, Acquired)]
        return np.stack(rows) if rows else np.zeros((0, verifier.embedding_dim)), ok

    return run


def resemblyzer_system(threads: int, batched: bool = True) -> System:
    """Resemblyzer's own pipeline. ``batched``: its ``embed_utterance`` steps
    (``compute_partial_slices``, ``wav_to_mel_spectrogram``, the encoder, the mean) with the
    partials of all clips run through the encoder together, which changes the speed, not the
    embeddings (eval mode; rows are independent); else one ``embed_utterance`` per clip."""
    import torch
    from resemblyzer import VoiceEncoder, audio, preprocess_wav

    torch.set_num_threads(threads)
    encoder = VoiceEncoder("cpu", verbose=False)

    def partial_mels(wave: np.ndarray) -> np.ndarray:
        wav_slices, mel_slices = encoder.compute_partial_slices(wave.size, 1.3, 0.75)
        if wav_slices[-1].stop >= wave.size:
            wave = np.pad(wave, (0, wav_slices[-1].stop - wave.size))
        mel = audio.wav_to_mel_spectrogram(wave)
        return np.array([mel[s] for s in mel_slices])

    def run(inputs: list[Any]) -> tuple[np.ndarray, np.ndarray]:
        prepared, ok = [], []
        for wave, rate in inputs:
            clip = preprocess_wav(wave, source_sr=rate)
            good = clip.size >= 160 and bool(np.any(clip))
            ok.append(good)
            if good:
                prepared.append(clip)
        if not batched:
            rows = [encoder.embed_utterance(clip) for clip in prepared]
            return np.stack(rows), np.array(ok)
        mels = [partial_mels(clip) for clip in prepared]
        flat = np.concatenate(mels)
        with torch.no_grad():
            partials = np.concatenate(
                [
                    encoder(torch.from_numpy(flat[i : i + 256])).numpy()
                    for i in range(0, len(flat), 256)
                ]
            )
        bounds = np.cumsum([0] + [len(m) for m in mels])
        means = np.stack([partials[a:b].mean(axis=0) for a, b in itertools.pairwise(bounds)])
        return means / np.linalg.norm(means, axis=1, keepdims=True), np.array(ok)

    return run


def _summary(scored: dict[str, Any]) -> dict[str, Any]:
    def pick(d: dict[str, Any]) -> dict[str, Any]:
        keys = ("eer", "min_dcf_0.01", "n_genuine", "n_impostor")
        return {k: d[k] for k in keys}

    out = {"pooled": pick(scored["pooled"])}
    out.update({k: pick(v) for k, v in scored.get("per_corpus", {}).items()})
    return out


def evaluate(
    systems: dict[str, System], inputs: dict[str, list[Any]], samples: Sequence[Sample]
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for condition, items in inputs.items():
        embedded = {name: run(items) for name, run in systems.items()}
        common = np.logical_and.reduce([ok for _, ok in embedded.values()])
        kept = [s for s, keep in zip(samples, common, strict=True) if keep]
        entry: dict[str, Any] = {
            "samples": int(common.sum()),
            "failures_to_acquire": {n: int((~ok).sum()) for n, (_, ok) in embedded.items()},
        }
        for name, (rows, ok) in embedded.items():
            full = np.zeros((len(samples), rows.shape[1]), np.float32)
            full[ok] = rows
            entry[name] = _summary(evaluate_embeddings(full[common], kept))
        results[condition] = entry
        pooled = {n: round(100 * entry[n]["pooled"]["eer"], 2) for n in systems}
        print(f"{condition}: pooled EER % {pooled} on {entry['samples']} samples", flush=True)
    return results


def speed(systems: dict[str, System], items: list[Any]) -> dict[str, float]:
    out = {}
    for name, run in systems.items():
        start = time.perf_counter()
        run(items)
        out[name] = len(items) / (time.perf_counter() - start)
    return out


def markdown(
    names: list[str], results: dict[str, Any], speeds: dict[str, float], meta: dict[str, Any]
) -> str:
    lines = [
        f"# Voice benchmark: {', '.join(names)} ({meta['which']} speakers)",
        "",
        f"Command: `{meta['command']}`",
        "",
        f"{meta['samples']} clips of {meta['speakers']} held-out speakers; each condition's "
        "trials are drawn from the clips every system acquired (same trials for all). "
        "EER % / minDCF (p_target 0.01); FTA = failures to acquire.",
        "",
    ]
    for condition, entry in results.items():
        lines += [f"## {condition} ({entry['samples']} clips)", ""]
        corpora = [k for k in entry[names[0]] if k != "pooled"] + ["pooled"]
        lines.append("| system | FTA | " + " | ".join(corpora) + " |")
        lines.append("| --- | --- |" + " --- |" * len(corpora))
        for name in names:
            cells = [
                f"{100 * entry[name][c]['eer']:.2f} / {entry[name][c]['min_dcf_0.01']:.3f}"
                for c in corpora
            ]
            fta = entry["failures_to_acquire"][name]
            lines.append(f"| {name} | {fta} | " + " | ".join(cells) + " |")
        lines.append("")
    if speeds:
        lines += [f"## Speed ({meta['speed_clips']} random original clips, mixed lengths)", ""]
        lines += ["| system | embeddings/s |", "| --- | --- |"]
        lines += [f"| {name} | {value:.1f} |" for name, value in speeds.items()]
        lines += ["", f"Threads per system: {meta['threads']}; a shared 2-core machine.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", action="append", required=True, help="NAME[:loop]=PATH")
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--split", type=Path, required=True)
    parser.add_argument("--which", choices=["test", "val"], default="test")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--speed-clips", type=int, default=200, help="random clips timed")
    parser.add_argument("--no-resemblyzer", action="store_true")
    parser.add_argument("--no-speed", action="store_true")
    parser.add_argument("--condition", action="append", help="only these conditions (default: all)")
    parser.add_argument("--out", type=Path, required=True, help="writes OUT.json and OUT.md")
    args = parser.parse_args()

    inventory = scan_datasets(args.data, progress=False)
    split = load_split(args.split, inventory, check_content=False)
    samples = split.samples(inventory, args.which)
    waves = [read_audio(s.path, RATE) for s in samples]
    systems: dict[str, System] = {}
    for spec in args.bundle:
        name, path = spec.split("=", 1)
        _, _, fill = name.partition(":")
        systems[name] = bundle_system(Path(path), fill or None, args.threads)
    if not args.no_resemblyzer:
        systems["resemblyzer"] = resemblyzer_system(args.threads)

    inputs = conditions(waves)
    if args.condition:
        inputs = {name: inputs[name] for name in args.condition}
    speeds: dict[str, float] = {}
    if not args.no_speed:
        timed = {name: run for name, run in systems.items() if ":" not in name}
        for spec in args.bundle:
            name, path = spec.split("=", 1)
            if ":" not in name:
                timed[f"{name} (batch 1)"] = bundle_system(Path(path), None, args.threads, 1)
        if not args.no_resemblyzer:
            timed["resemblyzer (embed_utterance)"] = resemblyzer_system(args.threads, False)
        chosen = np.random.default_rng(0).permutation(len(waves))[: args.speed_clips]
        speeds = speed(timed, [(waves[i], RATE) for i in sorted(chosen)])
        print("embeddings/s", {k: round(v, 1) for k, v in speeds.items()}, flush=True)
    results = evaluate(systems, inputs, samples)
    meta = {
        "which": args.which,
        "samples": len(samples),
        "speakers": len({s.identity for s in samples}),
        "threads": args.threads,
        "speed_clips": min(args.speed_clips, len(samples)),
        "audio_seconds": round(sum(w.size for w in waves) / RATE, 1),
        "command": "PYTHONPATH=src .venv/bin/python -m benchmarks.bench_voice_ge2e "
        + " ".join(f"--bundle {b}" for b in args.bundle)
        + "".join(f" --data {d}" for d in args.data)
        + f" --split {args.split} --which {args.which} --out {args.out}"
        + (" --no-resemblyzer" if args.no_resemblyzer else "")
        + (" --no-speed" if args.no_speed else "")
        + "".join(f" --condition '{c}'" for c in args.condition or []),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    document = {"meta": meta, "speed_embeddings_per_s": speeds, "conditions": results}
    args.out.with_suffix(".json").write_text(json.dumps(document, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(list(systems), results, speeds, meta))
    print(f"-> {args.out}.json, {args.out}.md")


if __name__ == "__main__":
    main()
