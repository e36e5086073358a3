"""Verify two inputs with a bare bioverify ``model.onnx`` + ``calibration.json``: onnxruntime
and numpy only (OpenCV to decode images, soundfile to decode audio) — no bioverify install.

Everything needed is read from the files themselves: the modality, input name and
preprocessing (face crop geometry or voice sample rate) from the ONNX ``metadata_props``
(``bioverify.*`` keys), the threshold from the calibration's operating points — the pooled
one: a calibration's ``quality_bins`` (thresholds by the worse sample's sharpness or SNR)
need the runtime's quality measures, so this example decides as strictly as the worst bin.
The model does normalisation, the log-mel front-end and the L2 normalisation in its graph.

Faces must be aligned images shaped like the geometry's frame (e.g. 250 × 250 LFW-style
crops); face detection is the full runtime's job. Audio must already be at the model's
sample rate (16 kHz); the speech check (energy VAD), the loudness raise and the windows
(6 s ones, or the 1.6 s partial windows of a model whose metadata names ``partials``) match
``bioverify.verify``. A calibration fitted on AS-Norm scores (``score_normalization`` in
the calibration, e.g. the default voice model's) needs the bundle's ``cohort.npy`` beside
the model: scores are then normalised against it as ``bioverify.verify.score_norm`` does.

Usage::

    python verify_embedded.py model.onnx calibration.json a.jpg b.jpg [--far 0.01]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys

import cv2
import numpy as np
import onnxruntime as ort
import soundfile

# speech check (energy VAD), trimming and windows, as bioverify.verify.voice_input's defaults;
# what the VAD cuts before the model is the model's own "trim" (none, ends or all)
FRAME_SECONDS, FLOOR_DB, RANGE_DB, HANGOVER = 0.02, -55.0, 35.0, 0.1
WINDOW_SECONDS, HOP_SECONDS, MIN_SPEECH_SECONDS = 6.0, 3.0, 0.2


class Model:
    """An ONNX session plus the facts its metadata carries."""

    def __init__(self, path: str) -> None:
        providers = [
            p
            for p in ("CUDAExecutionProvider", "CPUExecutionProvider")
            if p in ort.get_available_providers()
        ]
        self.session = ort.InferenceSession(path, providers=providers)
        meta = self.session.get_modelmeta().custom_metadata_map
        self.modality = meta["bioverify.modality"]
        self.input_name = json.loads(meta["bioverify.input"])["name"]
        self.preprocessing = json.loads(meta["bioverify.preprocessing"])

    def run(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self.input_name: batch})[0]

    def embed(self, path: str) -> np.ndarray:
        """A unit-norm embedding of one file."""
        if self.modality == "face":
            return self.run(face_crop(path, self.preprocessing["face_geometry"])[None])[0]
        facts = self.preprocessing
        windows = voice_windows(
            path,
            facts["sample_rate"],
            facts.get("trim", "none"),
            facts.get("partials"),
            facts.get("target_dbfs"),
        )
        total = np.sum([self.run(w[None])[0].astype(np.float64) for w in windows], axis=0)
        return (total / np.linalg.norm(total)).astype(np.float32)


def face_crop(path: str, geometry: dict) -> np.ndarray:
    """The aligned crop ``uint8 [S, S, 3]`` RGB the face model takes."""
    image = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR_RGB)
    if image is None:
        sys.exit(f"error: {path}: not a readable image")
    height, width = image.shape[:2]
    frame_w, frame_h = geometry["frame_size"]
    scale_x, scale_y = width / frame_w, height / frame_h
    x, y, w, h = geometry["crop_box"]
    crop = image[
        round(y * scale_y) : round((y + h) * scale_y), round(x * scale_x) : round((x + w) * scale_x)
    ]
    if geometry["colour"] == "gray":
        crop = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    size = geometry["output_size"]
    method = {"area": cv2.INTER_AREA, "linear": cv2.INTER_LINEAR}[geometry["interpolation"]]
    resized = cv2.resize(crop, (size, size), interpolation=method)
    if resized.ndim == 2:
        resized = np.repeat(resized[:, :, None], 3, axis=2)
    return np.ascontiguousarray(resized)


def voice_windows(
    path: str,
    rate: int,
    trim: str,
    partials: dict | None = None,
    target_dbfs: float | None = None,
) -> list[np.ndarray]:
    """``float32`` model inputs of a recording with enough speech, with the non-speech that
    ``trim`` names cut out, raised to ``target_dbfs`` if quieter, cut into ``partials``
    windows or windows of at most 6 s (as the runtime)."""
    waveform, file_rate = soundfile.read(path, dtype="float32", always_2d=True)
    if file_rate != rate:
        sys.exit(f"error: {path} is at {file_rate} Hz; resample it to {rate} Hz first")
    waveform = waveform.mean(axis=1, dtype=np.float32)
    frame = max(1, round(FRAME_SECONDS * rate))
    n_frames = int(np.ceil(waveform.size / frame))
    padded = np.zeros(n_frames * frame, np.float32)
    padded[: waveform.size] = waveform
    power = np.mean(padded.reshape(n_frames, frame).astype(np.float64) ** 2, axis=1)
    level = 10.0 * np.log10(np.maximum(power, 1e-20))
    speech = (level > FLOOR_DB) & (level > float(np.percentile(level, 99)) - RANGE_DB)
    widen = round(HANGOVER / FRAME_SECONDS)
    if widen and speech.any():
        speech = np.convolve(speech.astype(np.float64), np.ones(2 * widen + 1), mode="same") > 0
    mask = np.repeat(speech, frame)[: waveform.size]
    if mask.sum() / rate < MIN_SPEECH_SECONDS:
        sys.exit(f"error: {path}: too little speech ({mask.sum() / rate:.2f} s)")
    if trim == "all":
        waveform = waveform[mask]
    elif trim == "ends":
        found = np.flatnonzero(mask)
        waveform = waveform[found[0] : found[-1] + 1]
    if target_dbfs is not None:
        rms = float(np.sqrt(np.mean(waveform.astype(np.float64) ** 2)))
        gain = 10.0 ** (target_dbfs / 20.0) / rms if rms > 0 else 1.0
        waveform = (waveform * np.float32(gain)).astype(np.float32) if gain > 1 else waveform
    if partials is not None:
        return partial_windows(waveform, rate, partials)
    size, hop = round(WINDOW_SECONDS * rate), round(HOP_SECONDS * rate)
    if waveform.size <= size:
        return [waveform]
    starts = list(range(0, waveform.size - size + 1, hop))
    if starts[-1] + size < waveform.size:
        starts.append(waveform.size - size)
    return [waveform[s : s + size] for s in starts]


def partial_windows(waveform: np.ndarray, rate: int, partials: dict) -> list[np.ndarray]:
    """Resemblyzer's partial utterances with their FFT context (see
    ``bioverify.verify.voice_input.PartialWindows``)."""
    frames, hop = partials.get("frames", 160), partials.get("hop_length", 160)
    context = partials.get("context", 200)
    span = frames * hop
    if 0 < waveform.size < span and partials.get("fill", "zeros") == "loop":
        waveform = np.resize(waveform, span)
    n_frames = int(np.ceil((waveform.size + 1) / hop))
    step = max(1, min(frames, round(rate / partials.get("rate", 1.3) / hop)))
    starts = list(range(0, max(1, n_frames - frames + step + 1), step))
    coverage = (waveform.size - starts[-1] * hop) / span
    if coverage < partials.get("min_coverage", 0.75) and len(starts) > 1:
        starts.pop()
    size = (frames - 1) * hop + 2 * context
    padded = np.zeros(max(starts[-1] * hop + size, waveform.size + 2 * context), np.float32)
    padded[context : context + waveform.size] = waveform
    return [padded[s * hop : s * hop + size] for s in starts]


def threshold_at(model_path: str, calibration_path: str, far: float | None) -> tuple[float, str]:
    """The calibrated threshold at ``far`` (default: the calibration's first FAR point);
    refused when the calibration was made for another model."""
    with open(calibration_path, encoding="utf-8") as handle:
        calibration = json.load(handle)
    with open(model_path, "rb") as handle:
        sha256 = hashlib.sha256(handle.read()).hexdigest()
    if calibration.get("model_sha256") not in (None, sha256):
        sys.exit(f"error: {calibration_path} was made for another model; recalibrate")
    points = [p for p in calibration["operating_points"] if p["target_far"]]
    if far is not None:
        points = [p for p in points if abs(p["target_far"] - far) < 1e-12]
    if not points:
        sys.exit(f"error: {calibration_path} has no operating point at FAR={far}")
    return float(points[0]["threshold"]), f"FAR={points[0]['target_far']:g}"


def as_norm(calibration_path: str, model_path: str, a: np.ndarray, b: np.ndarray) -> float:
    """The score of unit embeddings ``a`` and ``b``: their cosine, or its AS-Norm against
    the cohort beside the model when the calibration was fitted on AS-Norm scores."""
    with open(calibration_path, encoding="utf-8") as handle:
        key = json.load(handle).get("score_normalization")
    raw = float(np.clip(np.dot(a.astype(np.float64), b), -1.0, 1.0))
    if key is None:
        return raw
    fields = dict(part.split("=", 1) for part in key.split()[1:])  # "as-norm top_k=… cohort_…"
    path = model_path.rsplit("/", 1)[0] + "/cohort.npy" if "/" in model_path else "cohort.npy"
    with open(path, "rb") as handle:
        data = handle.read()
    if hashlib.sha256(data).hexdigest() != fields["cohort_sha256"]:
        sys.exit(f"error: {path} is not the cohort {calibration_path} was fitted with")
    cohort = np.load(path, allow_pickle=False).astype(np.float64)
    k = int(fields["top_k"])
    stats = []
    for x in (a, b):
        top = np.sort(cohort @ x.astype(np.float64))[-k:]
        stats.append((top.mean(), top.std() + 1e-6))
    return float(0.5 * sum((raw - mean) / std for mean, std in stats))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("model")
    parser.add_argument("calibration")
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--far", type=float, default=None)
    args = parser.parse_args()
    model = Model(args.model)
    threshold, point = threshold_at(args.model, args.calibration, args.far)
    score = as_norm(args.calibration, args.model, model.embed(args.a), model.embed(args.b))
    result = {"match": score >= threshold, "score": score, "threshold": threshold}
    print(json.dumps({**result, "operating_point": point, "modality": model.modality}))


if __name__ == "__main__":
    main()
