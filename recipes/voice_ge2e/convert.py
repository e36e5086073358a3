"""Resemblyzer's pretrained GE2E voice encoder → a ``bioverify`` checkpoint (``ge2e_lstm``).

Reads ``resemblyzer/pretrained.pt`` and the licence from the installed ``resemblyzer``
distribution (``pip install resemblyzer==0.1.4``; the package is only read, never
imported), loads its weights into :func:`bioverify.training.models.build_encoder`'s
``ge2e_lstm`` with a :class:`~bioverify.training.frontends.MelSpectrogram` front-end (the
features of its ``audio.wav_to_mel_spectrogram``), and writes a checkpoint that
``torch.load(weights_only=True)`` reads and that ``bioverify export`` and
``bioverify train --init-from`` accept. The checkpoint keeps the source file's sha256, the
package version and its Apache-2.0 licence text (``provenance``), and the runtime settings
Resemblyzer embeds with (``voice``: 1.6 s partial windows at 1.3 per second, volume raised
to -30 dBFS).

Usage::

    PYTHONPATH=src .venv/bin/python recipes/voice_ge2e/convert.py --out runs/voice_ge2e/ge2e.pt
"""

from __future__ import annotations

import argparse
import hashlib
from importlib import metadata
from pathlib import Path

import torch

from bioverify.training.checkpoint import save_checkpoint
from bioverify.training.models import build_encoder

PACKAGE = "resemblyzer"
WEIGHTS = "resemblyzer/pretrained.pt"
#: what Resemblyzer's VoiceEncoder.embed_utterance and preprocess_wav do (hparams.py)
PARTIALS = {
    "frames": 160,
    "hop_length": 160,
    "context": 200,
    "rate": 1.3,
    "min_coverage": 0.75,
    "fill": "zeros",
}
TARGET_DBFS = -30.0


def _package_file(distribution: metadata.Distribution, name: str) -> Path:
    for file in distribution.files or []:
        if str(file) == name or file.name == name:
            return Path(str(distribution.locate_file(file)))
    raise SystemExit(f"{PACKAGE} {distribution.version}: no {name} in the installed package")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="checkpoint to write (.pt)")
    parser.add_argument(
        "--trim", choices=["none", "ends", "all"], default="none", help="runtime VAD cut"
    )
    args = parser.parse_args()

    try:
        distribution = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        raise SystemExit(f"install the source first: pip install {PACKAGE}==0.1.4") from None
    weights = _package_file(distribution, WEIGHTS)
    licence = _package_file(distribution, "LICENSE").read_text(encoding="utf-8")
    source = torch.load(weights, map_location="cpu", weights_only=True)
    state = {k: v for k, v in source["model_state"].items() if k.startswith(("lstm.", "linear."))}

    encoder = build_encoder("voice", "ge2e_lstm", embedding_dim=256)
    encoder.backbone.load_state_dict(state)  # strict: every weight has its place
    save_checkpoint(
        args.out,
        {
            "modality": "voice",
            "encoder": {"config": encoder.config, "state_dict": encoder.state_dict()},
            "head": None,
            "loss": {"name": "ge2e", "kwargs": {}, "num_classes": 0, "state_dict": {}},
            "identities": [],
            "voice": {
                "sample_rate": 16000,
                "trim": args.trim,
                "partials": dict(PARTIALS),
                "target_dbfs": TARGET_DBFS,
            },
            "provenance": {
                "source": f"{PACKAGE} {distribution.version} (PyPI), {WEIGHTS}",
                "url": "https://github.com/resemble-ai/Resemblyzer",
                "source_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
                "source_step": int(source.get("step", 0)),
                "license": "Apache-2.0",
                "license_text": licence,
                "converted_by": "recipes/voice_ge2e/convert.py",
            },
        },
    )
    print(f"wrote {args.out} from {weights} (sha256 recorded, licence Apache-2.0)")


if __name__ == "__main__":
    main()
