"""examples/embedded/verify_embedded.py (onnxruntime + numpy only) embeds exactly as the
Verifier does, on the shipped default models and the example inputs."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from bioverify.verify import Verifier
from bioverify.verify.api import MODELS_DIR

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
SCRIPT = EXAMPLES / "embedded" / "verify_embedded.py"
CASES = {
    "face": ["face_a1.jpg", "face_a2.jpg", "face_b1.jpg"],
    "voice": ["voice_a1.ogg", "voice_b1.ogg"],
}


def _script():
    spec = importlib.util.spec_from_file_location("verify_embedded", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("modality", ["face", "voice"])
def test_embeddings_equal_the_verifier(modality: str) -> None:
    bundle = MODELS_DIR / modality
    if not (bundle / "model.onnx").is_file():
        pytest.skip(f"no default {modality} model in this checkout")
    files = [str(EXAMPLES / name) for name in CASES[modality]]
    model = _script().Model(str(bundle / "model.onnx"))
    embedded = np.stack([model.embed(f) for f in files])
    verifier = Verifier.load(bundle, face_mode="aligned")
    np.testing.assert_allclose(embedded, verifier.embed(files), atol=2e-5)


@pytest.mark.slow  # a fresh interpreter (the embeddings are checked in this one)
def test_command_line_decision_matches_the_verifier() -> None:
    bundle = MODELS_DIR / "voice"
    if not (bundle / "model.onnx").is_file():
        pytest.skip("no default voice model in this checkout")
    a, b = EXAMPLES / "voice_a1.ogg", EXAMPLES / "voice_a2.ogg"
    args = [
        sys.executable,
        str(SCRIPT),
        str(bundle / "model.onnx"),
        str(bundle / "calibration.json"),
    ]
    out = subprocess.run([*args, str(a), str(b)], capture_output=True, text=True, check=True)
    decision = json.loads(out.stdout)
    verifier = Verifier.load(bundle)
    expected = verifier.verify(a, b)
    assert decision["score"] == pytest.approx(expected.score, abs=1e-5)
    # without the runtime's quality measures the example decides at the pooled threshold:
    # the verifier's decision on the same score when the pair's quality is unknown
    pooled = verifier.result_for(expected.score)
    assert decision["threshold"] == pytest.approx(pooled.threshold)
    assert decision["match"] == pooled.match


@pytest.mark.parametrize("trim", ["none", "ends", "all"])
@pytest.mark.parametrize("partials", [None, {}, {"fill": "loop", "rate": 2.0}])
def test_voice_windows_cut_what_the_runtime_cuts(trim: str, partials: dict | None) -> None:
    from bioverify.verify.voice_input import PartialWindows, VoicePreprocessor

    path = EXAMPLES / "voice_a1.ogg"
    target = None if partials is None else -30.0
    windows = _script().voice_windows(str(path), 16000, trim, partials, target)
    split = None if partials is None else PartialWindows.from_dict(partials)
    expected = VoicePreprocessor(16000, trim=trim, partials=split, target_dbfs=target)(path).arrays
    assert len(windows) == len(expected)
    for got, want in zip(windows, expected, strict=True):
        np.testing.assert_allclose(got, want, atol=1e-6)
