"""Degraded copies of held-out identities: the conditions a default model is calibrated on.

A threshold measured on clean studio data does not hold on a door camera at night or on a
phone line. This script writes, for the identities of one split part, one identity-folder
tree per condition, so that ``bioverify calibrate --by-dataset`` can hold each threshold in
the worst condition and record the rates in every one:

faces (applied to the whole frame, before detection):
  as_is      the original photo
  blur       Gaussian blur, sigma 2.5 px (out of focus, motion)
  jpeg       JPEG quality 12 (heavy compression, messaging apps)
  dark       brightness x 0.25 with sensor noise (sigma 3 grey levels): low light
  small      the frame scaled by 0.45: faces about 45-55 px wide
  large      the frame scaled by 4: faces about 450 px wide, a 1000 px photo

voices (written as files, decoded by the runtime like a user's):
  as_is      the original recording
  8k         resampled to 8 kHz (telephone band)
  44k        resampled to 44.1 kHz
  ogg        an OGG Vorbis round trip at quality 0.1
  mp3        an MP3 round trip (libsndfile's LAME, compression level 0.9)
  noise      white noise at 10 dB SNR
  short      the first 1.0 s only

Usage::

    python -m benchmarks.make_conditions --modality face --data ../shared/data/faces/lfw \
        --split benchmarks/splits/lfw.json --part test --out /tmp/conditions/face

Deterministic (seeded noise). Only the selected part's identities are written, so the copies
can be scored without --split. With ``--by-corpus`` each condition is split further by the
--data it came from (``out/<condition>/<corpus>/<identity>``): a corpus is a condition too
(language, microphone, channel), and impostor trials then stay within one corpus.
"""

from __future__ import annotations

import argparse
from math import gcd
from pathlib import Path

import cv2
import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from bioverify.datasets import select_samples
from bioverify.media import read_audio, read_image

FACE_CONDITIONS = ("as_is", "blur", "jpeg", "dark", "small", "large")
VOICE_CONDITIONS = ("as_is", "8k", "44k", "ogg", "mp3", "noise", "short")


def degrade_image(image: np.ndarray, condition: str, seed: int) -> np.ndarray:
    """``uint8 [H, W, 3]`` RGB (or ``[H, W]``) under ``condition``; JPEG is applied when
    writing (see :func:`write_image`)."""
    if condition in ("as_is", "jpeg"):
        return image
    if condition == "blur":
        return cv2.GaussianBlur(image, (0, 0), 2.5)
    if condition == "dark":
        noise = np.random.default_rng(seed).normal(0, 3, image.shape)
        return np.clip(image.astype(np.float64) * 0.25 + noise, 0, 255).astype(np.uint8)
    scale = {"small": 0.45, "large": 4.0}[condition]
    size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    return cv2.resize(image, size, interpolation=interpolation)


def write_image(path: Path, image: np.ndarray, condition: str) -> Path:
    bgr = image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    if condition == "jpeg":
        path = path.with_suffix(".jpg")
        cv2.imwrite(str(path), bgr, [cv2.IMWRITE_JPEG_QUALITY, 12])
    else:
        path = path.with_suffix(".png")
        cv2.imwrite(str(path), bgr)
    return path


def _resample(wave: np.ndarray, rate: int, new_rate: int) -> np.ndarray:
    common = gcd(rate, new_rate)
    return resample_poly(wave, new_rate // common, rate // common).astype(np.float32)


def write_audio(path: Path, wave: np.ndarray, rate: int, condition: str, seed: int) -> Path:
    """Write ``wave`` (mono float32 at ``rate``) under ``condition``."""
    if condition == "8k":
        wave, rate = _resample(wave, rate, 8000), 8000
    elif condition == "44k":
        wave, rate = _resample(wave, rate, 44100), 44100
    elif condition == "noise":
        power = float(np.mean(wave**2)) or 1e-8
        noise = np.random.default_rng(seed).normal(0, np.sqrt(power / 10.0), wave.shape)
        wave = np.clip(wave + noise, -1, 1).astype(np.float32)
    elif condition == "short":
        wave = wave[:rate]
    if condition == "ogg":
        path = path.with_suffix(".ogg")
        sf.write(path, wave, rate, format="OGG", subtype="VORBIS", compression_level=0.9)
    elif condition == "mp3":
        path = path.with_suffix(".mp3")
        sf.write(path, wave, rate, format="MP3", subtype="MPEG_LAYER_III", compression_level=0.9)
    else:
        path = path.with_suffix(".flac")
        sf.write(path, np.clip(wave, -1, 1), rate, subtype="PCM_16")
    return path


def _corpus(path: Path, data: list[Path]) -> str:
    """The name of the --data a sample came from (a manifest's folder for a CSV)."""
    for root in data:
        folder = root.parent if root.suffix.lower() == ".csv" else root
        if Path(path).resolve().is_relative_to(folder.resolve()):
            return folder.name
    return "other"


def make_conditions(
    modality: str,
    data: list[Path],
    split: Path | None,
    part: str,
    out: Path,
    conditions: tuple[str, ...],
    by_corpus: bool = False,
) -> dict[str, int]:
    """Write every condition's tree under ``out/<condition>/[<corpus>/]<identity>/``; the
    file counts."""
    chosen = select_samples(data, split, part, modality)
    paths, identities = chosen.paths, chosen.identities
    counts = dict.fromkeys(conditions, 0)
    for k, (path, identity) in enumerate(zip(paths, identities, strict=True)):
        name = f"{Path(path).stem}_{k:05d}"
        corpus = _corpus(Path(path), data) if by_corpus else ""
        if modality == "face":
            image = read_image(path)
            for condition in conditions:
                folder = out / condition / corpus / identity.replace("/", "_")
                folder.mkdir(parents=True, exist_ok=True)
                write_image(folder / name, degrade_image(image, condition, k), condition)
                counts[condition] += 1
        else:
            rate = 16000  # every shared corpus is 16 kHz; the conditions resample from there
            wave = read_audio(path, rate)
            for condition in conditions:
                folder = out / condition / corpus / identity.replace("/", "_")
                folder.mkdir(parents=True, exist_ok=True)
                write_audio(folder / name, wave, rate, condition, k)
                counts[condition] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--modality", choices=("face", "voice"), required=True)
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--split", type=Path, default=None)
    parser.add_argument("--part", default="test")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--conditions", default=None, help="comma-separated subset")
    parser.add_argument("--by-corpus", action="store_true", help="one tree per --data too")
    args = parser.parse_args()
    every = FACE_CONDITIONS if args.modality == "face" else VOICE_CONDITIONS
    chosen = tuple(args.conditions.split(",")) if args.conditions else every
    unknown = sorted(set(chosen) - set(every))
    if unknown:
        parser.error(f"unknown conditions {unknown}; choose from {every}")
    counts = make_conditions(
        args.modality, args.data, args.split, args.part, args.out, chosen, args.by_corpus
    )
    for condition, count in counts.items():
        print(f"{condition}: {count} files in {args.out / condition}")


if __name__ == "__main__":
    main()
