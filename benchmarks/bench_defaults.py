"""Speed and robustness of the packaged default models (``bioverify.verify(a, b)``, no model).

Speed (``--what speed``), on this CPU:

- ``bioverify.verify(a, b)`` end to end on the example files, cold (a fresh Python process:
  import, model load and the first call; median of ``--cold-runs``) and warm (median and
  p95 of ``--warm-calls`` calls in one process). Faces: ``examples/face_a1.jpg`` vs
  ``face_a2.jpg`` with ``face_mode="aligned"`` and ``"detect"``; voices:
  ``examples/voice_a1.ogg`` vs ``voice_a2.ogg``.
- Embeddings per second with ``Verifier.embed``: faces in batches of 64 decoded crops (the
  aligned 250x250 LFW images of the test identities, as arrays), voices as 3 s clips at the
  model rate, one at a time.

Robustness (``--what robustness``):

- Voice: the test speakers of ``benchmarks/splits/speakers.json`` (at most ``--voice-cap``
  clips each), embedded as stored, then after conversions written to a temporary folder:
  8 kHz mono WAV, 44.1 kHz stereo WAV, OGG Vorbis round trip, MP3 round trip (when
  libsndfile can write MP3). EER per condition, pooled and per corpus
  (:func:`benchmarks.protocol.evaluate_embeddings`).
- Face: the test identities of ``benchmarks/splits/lfw.json`` (at most ``--face-cap`` images
  each) embedded as aligned crops (the default), vs a *synthetic* in-the-wild proxy: each
  image tinted with a random colour, scaled by a random 0.6-1.4 and pasted at a random place
  on a 640x480 canvas of smooth random colour plus noise (seed 0), embedded with
  ``face_mode="detect"`` (Haar). EER and failure-to-acquire rate; trials with a failed input
  are dropped.

The machine is shared, so every timing is stored with ``os.getloadavg()`` beside it.

Usage::

    python -m benchmarks.bench_defaults --what all

Writes ``benchmarks/results/defaults_speed.{json,md}`` and
``benchmarks/results/defaults_robustness.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from fractions import Fraction
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime
import soundfile as sf
from scipy.signal import resample_poly

import bioverify
from benchmarks.protocol import evaluate_embeddings
from bioverify.datasets.inventory import Sample, scan_datasets
from bioverify.datasets.splits import load_split
from bioverify.verify import Verifier
from bioverify.verify.api import MODELS_DIR, default_bundle
from bioverify.verify.result import Acquired

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
EXAMPLES = ROOT / "examples"
SHARED = ROOT.parent / "shared" / "data"
FACE_DATA = [SHARED / "faces" / "lfw"]
VOICE_DATA = [
    SHARED / "speakers" / "arabic_speech_commands",
    SHARED / "speakers" / "common_voice_fa" / "manifest.csv",
    SHARED / "speakers" / "urdu_speech",
]
FACE_PAIR = (EXAMPLES / "face_a1.jpg", EXAMPLES / "face_a2.jpg")
VOICE_PAIR = (EXAMPLES / "voice_a1.ogg", EXAMPLES / "voice_a2.ogg")
CANVAS = (480, 640)  # height, width
FACE_BATCH = 64
VOICE_SECONDS = 3.0
COLD_SNIPPET = (
    "import sys, time; t = time.perf_counter(); import bioverify; "
    "r = bioverify.verify(sys.argv[1], sys.argv[2]{options}); "
    "print(time.perf_counter() - t, r.score)"
)


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "onnxruntime": onnxruntime.__version__,
        "opencv": cv2.__version__,
        "libsndfile": sf.__libsndfile_version__,
        "load_at_start": load(),
    }


def ort_threads(verifier: Verifier) -> dict[str, Any]:
    """The session's thread settings (0 means onnxruntime's own choice: one per core)."""
    options = verifier._session.get_session_options()
    return {
        "intra_op_num_threads": options.intra_op_num_threads,
        "inter_op_num_threads": options.inter_op_num_threads,
        "providers": verifier.providers,
    }


def test_samples(modality: str, cap: int) -> list[Sample]:
    """The split's test samples, the first ``cap`` (sorted by path) of each identity."""
    data, split = (FACE_DATA, "lfw.json") if modality == "face" else (VOICE_DATA, "speakers.json")
    inventory = scan_datasets(data, progress=False)
    chosen = load_split(ROOT / "benchmarks" / "splits" / split, inventory, check_content=False)
    by_identity: dict[str, list[Sample]] = defaultdict(list)
    for sample in sorted(chosen.samples(inventory, "test"), key=lambda s: str(s.path)):
        if len(by_identity[sample.identity]) < cap:
            by_identity[sample.identity].append(sample)
    return [s for samples in by_identity.values() for s in samples]


# -- speed -----------------------------------------------------------------------------------


def cold(pair: tuple[Path, Path], options: str, runs: int) -> dict[str, Any]:
    """Fresh-process latency of import + default model load + the first ``verify`` call."""
    seconds, loads, process = [], [], []
    code = COLD_SNIPPET.format(options=options)
    for _ in range(runs):
        loads.append(load())
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-c", code, str(pair[0]), str(pair[1])],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        process.append(time.perf_counter() - start)
        seconds.append(float(out.stdout.split()[0]))
    return {
        "runs": runs,
        "median_s": float(np.median(seconds)),
        "all_s": seconds,
        "median_process_s": float(np.median(process)),
        "load": loads,
        "note": "median_s: import bioverify + load + first verify, timed inside the process; "
        "median_process_s adds interpreter start-up",
    }


def warm(call: Callable[[], Any], calls: int) -> dict[str, Any]:
    call()  # load the model into the cache
    before = load()
    times = []
    for _ in range(calls):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return {
        "calls": calls,
        "median_ms": 1000 * float(np.median(times)),
        "p95_ms": 1000 * float(np.percentile(times, 95)),
        "load": [before, load()],
    }


def throughput(fn: Callable[[], int], min_seconds: float) -> dict[str, Any]:
    """Items per second of ``fn`` (returns how many it did), repeated for ``min_seconds``."""
    fn()  # warm-up
    before, done, start = load(), 0, time.perf_counter()
    while time.perf_counter() - start < min_seconds:
        done += fn()
    elapsed = time.perf_counter() - start
    return {
        "items": done,
        "seconds": elapsed,
        "per_second": done / elapsed,
        "load": [before, load()],
    }


def face_crops(n: int) -> list[np.ndarray]:
    samples = test_samples("face", cap=1)
    crops = [cv2.imread(str(s.path), cv2.IMREAD_GRAYSCALE) for s in samples[:n]]
    return [c for c in crops if c is not None]


def voice_clips(verifier: Verifier, n: int) -> list[tuple[np.ndarray, int]]:
    """``n`` 3 s clips at the model rate, cut from the longer test clips (looped if short)."""
    rate = int(verifier.info.preprocessing["sample_rate"])
    length = int(VOICE_SECONDS * rate)
    clips = []
    for sample in test_samples("voice", cap=2):
        wave, sr = sf.read(str(sample.path), dtype="float32", always_2d=True)
        wave = wave.mean(axis=1)
        if sr != rate:
            ratio = Fraction(rate, sr)
            wave = resample_poly(wave, ratio.numerator, ratio.denominator).astype(np.float32)
        clips.append((np.resize(wave, length), rate))
        if len(clips) == n:
            break
    return clips


def bench_speed(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {"machine": machine(), "latency": {}, "throughput": {}}
    cases: list[tuple[str, tuple[Path, Path], dict[str, str]]] = [
        ("voice", VOICE_PAIR, {}),
    ]
    if (MODELS_DIR / "face" / "bundle.json").is_file():
        cases += [
            ("face_aligned", FACE_PAIR, {"face_mode": "aligned"}),
            ("face_detect", FACE_PAIR, {"face_mode": "detect"}),
        ]
    else:
        out["missing"] = "no default face model installed: face speed not measured"
    for name, pair, options in cases:
        extra = "".join(f", {k}={v!r}" for k, v in options.items())
        print(f"latency {name} ...", flush=True)
        result = bioverify.verify(*map(str, pair), **options)
        out["latency"][name] = {
            "pair": [p.name for p in pair],
            "options": options,
            "score": result.score,
            "match": result.match,
            "cold": cold(pair, extra, args.cold_runs),
            "warm": warm(partial(bioverify.verify, *map(str, pair), **options), args.warm_calls),
        }
    voice = Verifier.load(default_bundle("voice"))
    clips = voice_clips(voice, 8)
    print("throughput voice ...", flush=True)
    state = {"k": 0}

    def one_clip() -> int:
        voice.embed([clips[state["k"] % len(clips)]])
        state["k"] += 1
        return 1

    out["throughput"]["voice"] = {
        "input": f"{VOICE_SECONDS:g} s clips at {clips[0][1]} Hz, one per call",
        "threads": ort_threads(voice),
        **throughput(one_clip, args.min_seconds),
    }
    if "missing" not in out:
        face = Verifier.load(default_bundle("face"), face_mode="aligned", batch_size=FACE_BATCH)
        crops = face_crops(FACE_BATCH)
        print("throughput face ...", flush=True)
        out["throughput"]["face"] = {
            "input": f"batches of {len(crops)} decoded 250x250 aligned LFW images (aligned mode)",
            "threads": ort_threads(face),
            **throughput(lambda: len(face.embed(crops)), args.min_seconds),
        }
        prepared = [face.preprocess(c) for c in crops]
        print("throughput face model only ...", flush=True)
        out["throughput"]["face_model_only"] = {
            "input": f"batches of {len(crops)} already preprocessed crops (model run only)",
            "threads": ort_threads(face),
            **throughput(lambda: len(face._embed_prepared(prepared)), args.min_seconds),
        }
    out["load_at_end"] = load()
    return out


def speed_markdown(r: dict[str, Any], command: str) -> str:
    m = r["machine"]
    lines = [
        "# Default models: speed",
        "",
        f"`{command}`",
        "",
        f"{m['cpus']} CPUs (load average "
        f"{m['load_at_start']} at start, {r['load_at_end']} at end; each row gives the 1/5/15-min "
        f"load beside it). Python {m['python']}, onnxruntime {m['onnxruntime']}, OpenCV "
        f"{m['opencv']}. Numbers on a loaded machine are upper bounds on latency, and repeat "
        "runs at other loads have differed several-fold: compare only figures from one run.",
        "",
        "## `bioverify.verify(a, b)` latency",
        "",
        "| case | pair | cold (median, s) | cold incl. interpreter (s) | warm median (ms) | "
        "warm p95 (ms) | load (cold / warm) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, row in r["latency"].items():
        c, w = row["cold"], row["warm"]
        lines.append(
            f"| {name} | {' vs '.join(row['pair'])} | {c['median_s']:.2f} | "
            f"{c['median_process_s']:.2f} | {w['median_ms']:.1f} | {w['p95_ms']:.1f} | "
            f"{c['load'][0][0]} / {w['load'][0][0]} |"
        )
    lines += [
        "",
        f"Cold: fresh process, `import bioverify` + default model load + first call, median of "
        f"{next(iter(r['latency'].values()))['cold']['runs']} processes. Warm: median/p95 of "
        f"{next(iter(r['latency'].values()))['warm']['calls']} calls in one process (model "
        "cached; both inputs decoded and embedded each call).",
        "",
        "## Embeddings per second (`Verifier.embed`)",
        "",
        "| modality | input | embeddings/s | intra-op threads | providers | load |",
        "|---|---|---|---|---|---|",
    ]
    for name, row in r["throughput"].items():
        t = row["threads"]
        lines.append(
            f"| {name} | {row['input']} | {row['per_second']:.1f} | "
            f"{t['intra_op_num_threads']} (0 = onnxruntime default, one per core) | "
            f"{', '.join(t['providers'])} | {row['load'][0][0]} |"
        )
    if "missing" in r:
        lines += ["", f"Not measured: {r['missing']}."]
    return "\n".join(lines) + "\n"


# -- robustness ------------------------------------------------------------------------------


def embed_all(
    verifier: Verifier, inputs: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Embeddings of the inputs that were acquired, the mask of those, and the reasons of
    the failures."""
    results = []
    for start in range(0, len(inputs), 64):
        results += verifier.try_acquire_many(inputs[start : start + 64])
    ok = np.array([isinstance(a, Acquired) for a in results])
    embeddings = np.stack([a.embedding for a in results if isinstance(a, Acquired)])
    reasons = [f"{type(a).__name__}: {a}" for a in results if not isinstance(a, Acquired)]
    return embeddings, ok, reasons


def evaluate(verifier: Verifier, inputs: Sequence[Any], samples: Sequence[Sample]) -> dict:
    start = time.perf_counter()
    embeddings, ok, reasons = embed_all(verifier, inputs)
    kept = [s for s, k in zip(samples, ok, strict=True) if k]
    failed = [str(s.path) for s, k in zip(samples, ok, strict=True) if not k]
    result = evaluate_embeddings(embeddings, kept)
    result["inputs"] = len(inputs)
    result["failed_to_acquire"] = int((~ok).sum())
    result["fta_rate"] = float((~ok).mean())
    result["failures"] = [f"{p} ({r})" for p, r in zip(failed, reasons, strict=True)][:20]
    result["embed_seconds"] = time.perf_counter() - start
    result["load"] = load()
    return result


def read_mono(path: Path) -> tuple[np.ndarray, int]:
    wave, rate = sf.read(str(path), dtype="float32", always_2d=True)
    return wave.mean(axis=1), rate


def resample(wave: np.ndarray, rate: int, target: int) -> np.ndarray:
    ratio = Fraction(target, rate)
    return resample_poly(wave, ratio.numerator, ratio.denominator).astype(np.float32)


def voice_conditions() -> dict[str, Callable[[Path, Path], Path]]:
    """Name -> function(source file, output stem) that writes the converted file."""

    def wav8k(src: Path, stem: Path) -> Path:
        wave, rate = read_mono(src)
        sf.write(stem.with_suffix(".wav"), resample(wave, rate, 8000), 8000, subtype="PCM_16")
        return stem.with_suffix(".wav")

    def wav44k_stereo(src: Path, stem: Path) -> Path:
        wave, rate = read_mono(src)
        up = np.clip(resample(wave, rate, 44100), -1.0, 1.0)
        sf.write(stem.with_suffix(".wav"), np.stack([up, up], axis=1), 44100, subtype="PCM_16")
        return stem.with_suffix(".wav")

    def ogg(src: Path, stem: Path) -> Path:
        wave, rate = read_mono(src)
        sf.write(stem.with_suffix(".ogg"), wave, rate, format="OGG", subtype="VORBIS")
        return stem.with_suffix(".ogg")

    def mp3(src: Path, stem: Path) -> Path:
        wave, rate = read_mono(src)
        sf.write(stem.with_suffix(".mp3"), wave, rate, format="MP3", subtype="MPEG_LAYER_III")
        return stem.with_suffix(".mp3")

    conditions: dict[str, Callable[[Path, Path], Path]] = {
        "wav_8khz": wav8k,
        "wav_44.1khz_stereo": wav44k_stereo,
        "ogg_vorbis": ogg,
    }
    if "MP3" in sf.available_formats():
        conditions["mp3"] = mp3
    return conditions


def bench_voice(args: argparse.Namespace) -> dict[str, Any]:
    samples = test_samples("voice", args.voice_cap)
    verifier = Verifier.load(default_bundle("voice"))
    out: dict[str, Any] = {
        "model": verifier.info.name,
        "samples": len(samples),
        "speakers": len({s.identity for s in samples}),
        "cap_per_speaker": args.voice_cap,
        "source_formats": sorted({s.path.suffix for s in samples}),
        "conditions": {},
    }
    print(f"voice original ({len(samples)} clips) ...", flush=True)
    out["conditions"]["original"] = evaluate(verifier, [s.path for s in samples], samples)
    with tempfile.TemporaryDirectory(prefix="bench_defaults_") as tmp:
        for name, convert in voice_conditions().items():
            print(f"voice {name} ...", flush=True)
            folder = Path(tmp) / name
            folder.mkdir()
            paths = [convert(s.path, folder / f"{k:05d}") for k, s in enumerate(samples)]
            out["conditions"][name] = evaluate(verifier, paths, samples)
    if "MP3" not in sf.available_formats():
        out["not_done"] = "MP3: this libsndfile cannot write MP3"
    return out


def in_the_wild(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A gray aligned LFW image, tinted, rescaled and pasted at a random place on a 640x480
    canvas of smooth random colour with noise (BGR ``uint8``)."""
    height, width = CANVAS
    coarse = np.asarray(rng.uniform(0, 255, (3, 4, 3)), np.float32)
    canvas = cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)
    canvas = canvas + np.asarray(rng.normal(0, 12, canvas.shape), np.float32)
    tint = np.asarray(rng.uniform(0.5, 1.0, 3), np.float32)
    face = image.astype(np.float32)[:, :, None] * tint[None, None, :]
    scale = float(rng.uniform(0.6, 1.4))
    size = (round(face.shape[1] * scale), round(face.shape[0] * scale))
    scaled = cv2.resize(face, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    y = int(rng.integers(0, height - scaled.shape[0] + 1))
    x = int(rng.integers(0, width - scaled.shape[1] + 1))
    canvas[y : y + scaled.shape[0], x : x + scaled.shape[1]] = scaled
    return np.clip(canvas, 0, 255).astype(np.uint8)


def bench_face(args: argparse.Namespace) -> dict[str, Any]:
    samples = test_samples("face", args.face_cap)
    aligned = Verifier.load(default_bundle("face"), face_mode="aligned")
    detect = Verifier.load(default_bundle("face"), face_mode="detect")
    out: dict[str, Any] = {
        "model": aligned.info.name,
        "samples": len(samples),
        "identities": len({s.identity for s in samples}),
        "cap_per_identity": args.face_cap,
        "conditions": {},
    }
    print(f"face aligned ({len(samples)} images) ...", flush=True)
    out["conditions"]["aligned"] = evaluate(aligned, [s.path for s in samples], samples)
    print("face aligned images through the detector ...", flush=True)
    out["conditions"]["lfw_detect"] = evaluate(detect, [s.path for s in samples], samples)
    rng = np.random.default_rng(0)
    wild = []
    for s in samples:
        gray = cv2.imread(str(s.path), cv2.IMREAD_GRAYSCALE)
        if gray is None:
            raise SystemExit(f"{s.path}: cannot read the image")
        wild.append(in_the_wild(np.asarray(gray), rng))
    print("face synthetic in-the-wild (detect) ...", flush=True)
    out["conditions"]["wild_proxy_detect"] = evaluate(detect, wild, samples)
    if args.save_wild_example:
        cv2.imwrite(str(args.save_wild_example), wild[0])
    return out


def _eer_row(name: str, result: dict[str, Any], base: dict[str, Any]) -> str:
    eer, ref = result["pooled"]["eer"], base["pooled"]["eer"]
    cells = [f"{100 * eer:.2f}", f"{100 * (eer - ref):+.2f}"]
    for corpus, row in result.get("per_corpus", {}).items():
        corpus_ref = base["per_corpus"][corpus]["eer"]
        cells.append(f"{100 * row['eer']:.2f} ({100 * (row['eer'] - corpus_ref):+.2f})")
    fta = f"{result['failed_to_acquire']}/{result['inputs']} ({100 * result['fta_rate']:.1f} %)"
    return f"| {name} | " + " | ".join(cells) + f" | {fta} | {result['load'][0]} |"


def trial_counts(result: dict[str, Any]) -> str:
    """'pooled 477 genuine / 30000 impostor; corpus ...' for one condition."""
    rows = {"pooled": result["pooled"], **result.get("per_corpus", {})}
    return "; ".join(
        f"{name} {row['n_genuine']} genuine / {row['n_impostor']} impostor"
        for name, row in rows.items()
    )


def robustness_markdown(r: dict[str, Any], command: str) -> str:
    lines = ["# Default models: robustness to unseen formats and capture", "", f"`{command}`", ""]
    lines.append(
        f"{r['machine']['cpus']} CPUs (load average "
        f"{r['machine']['load_at_start']} at start). Trials: `benchmarks/protocol.py` (all "
        "within-identity pairs up to 50 per identity, at least 30,000 cross-identity pairs or "
        "all there are, seed 0) on the inputs that were acquired; inputs that failed to "
        "acquire are counted, and their trials dropped. EER in %, change vs the first row."
    )
    voice = r.get("voice")
    if voice:
        corpora = list(voice["conditions"]["original"].get("per_corpus", {}))
        lines += [
            "",
            f"## Voice ({voice['model']})",
            "",
            f"{voice['samples']} clips of the {voice['speakers']} test speakers of "
            f"`benchmarks/splits/speakers.json` (at most {voice['cap_per_speaker']} per speaker, "
            f"first by path; stored as {', '.join(voice['source_formats'])}). Each condition "
            "converts every clip from the shared data into a temporary folder (mono mixdown, "
            "polyphase resampling with scipy, written by libsndfile) and embeds the files. "
            "The cap makes the first row differ slightly from the all-clips figure in "
            "`defaults_accuracy.md`. Trials (original): "
            + trial_counts(voice["conditions"]["original"])
            + ".",
            "",
            "| condition | pooled EER | change | "
            + " | ".join(f"{c} EER (change)" for c in corpora)
            + " | failed to acquire | load (1 min) |",
            "|---" * (4 + len(corpora) + 1) + "|",
        ]
        base = voice["conditions"]["original"]
        for name, result in voice["conditions"].items():
            lines.append(_eer_row(name, result, base))
        if "not_done" in voice:
            lines += ["", f"Not done: {voice['not_done']}."]
        lines += [
            "",
            "Trials per corpus are few for the small corpora (common_voice_fa and urdu_speech "
            "have 4 and 3 test speakers here, some with under 10 clips), so their EERs move in "
            "large steps; the pooled and Arabic figures are the steadier ones.",
        ]
    face = r.get("face")
    if face:
        base = face["conditions"]["aligned"]
        lines += [
            "",
            f"## Face ({face['model']})",
            "",
            f"{face['samples']} images of the {face['identities']} test identities of "
            f"`benchmarks/splits/lfw.json` (at most {face['cap_per_identity']} per identity, "
            "first by path). Trials (aligned): " + trial_counts(base) + ".",
            "",
            "**The in-the-wild row is a synthetic proxy, not real in-the-wild photos** (the "
            "shared data holds none): each grayscale aligned LFW image is tinted with a random "
            "colour, scaled by a random 0.6-1.4 and pasted at a random position on a 640x480 "
            "canvas of smooth random colour plus Gaussian noise (seed 0), then embedded with "
            '`face_mode="detect"` (Haar cascade). It tests detection, scale and placement; it '
            "does not test real colour, lighting, pose, blur or compression.",
            "",
            "| condition | EER | change | failed to acquire | load (1 min) |",
            "|---|---|---|---|---|",
        ]
        for name, result in face["conditions"].items():
            lines.append(_eer_row(name, result, base))
        lines += [
            "",
            "aligned: the default for these crops. lfw_detect: the same aligned images sent "
            "through the detector. wild_proxy_detect: the synthetic proxy above.",
        ]
    if "face_missing" in r:
        lines += ["", f"Not measured: {r['face_missing']}."]
    return "\n".join(lines) + "\n"


# -- main ------------------------------------------------------------------------------------


def write(name: str, result: dict[str, Any], markdown: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2, default=str) + "\n")
    (RESULTS / f"{name}.md").write_text(markdown)
    print(markdown)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--what", choices=("speed", "robustness", "all"), default="all")
    parser.add_argument("--cold-runs", type=int, default=3)
    parser.add_argument("--warm-calls", type=int, default=20)
    parser.add_argument("--min-seconds", type=float, default=5.0, help="per throughput figure")
    parser.add_argument("--voice-cap", type=int, default=40, help="clips per test speaker")
    parser.add_argument("--face-cap", type=int, default=20, help="images per test identity")
    parser.add_argument("--skip-face", action="store_true", help="robustness: voice only")
    parser.add_argument(
        "--save-wild-example",
        type=Path,
        metavar="FILE",
        help="write the first synthetic in-the-wild image here (an LFW face: not for the repo)",
    )
    args = parser.parse_args()
    command = "python -m benchmarks.bench_defaults " + " ".join(sys.argv[1:])

    if args.what in ("speed", "all"):
        speed = bench_speed(args)
        write("defaults_speed", speed, speed_markdown(speed, command))
    if args.what in ("robustness", "all"):
        robust: dict[str, Any] = {"machine": machine(), "voice": bench_voice(args)}
        if args.skip_face:
            robust["face_missing"] = "face part skipped (--skip-face)"
        elif (MODELS_DIR / "face" / "bundle.json").is_file():
            robust["face"] = bench_face(args)
        else:
            robust["face_missing"] = "no default face model installed"
        write("defaults_robustness", robust, robustness_markdown(robust, command))


if __name__ == "__main__":
    main()
