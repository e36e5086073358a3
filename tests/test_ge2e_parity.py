"""The converted GE2E voice encoder against the ``resemblyzer`` package it was converted from:
the torch module and the shipped ONNX bundle give Resemblyzer's ``embed_utterance``
embeddings on real clips of the shared corpora (the same trimmed audio), and the conversion
recipe writes a ``weights_only`` checkpoint with the source's sha256 and licence.

Dev-only: skips when ``resemblyzer`` (a dev dependency) or ``../shared/data`` is absent."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from bioverify.bundle import load_bundle
from bioverify.training.checkpoint import load_checkpoint
from bioverify.training.models import build_encoder
from bioverify.verify import Verifier
from bioverify.verify.voice_input import PartialWindows, VoicePreprocessor, VoiceSettings

pytest.importorskip("resemblyzer")
pytestmark = [
    pytest.mark.shared_data,
    pytest.mark.slow,  # Resemblyzer's own encoder on real clips, the conversion recipe
    pytest.mark.filterwarnings("ignore::UserWarning"),  # webrtcvad imports pkg_resources
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
]

ROOT = Path(__file__).resolve().parents[1]
SPEAKERS = ROOT.parent / "shared" / "data" / "speakers"
#: one clip shorter than a 1.6 s window (Arabic keyword) and two longer ones (Urdu, Persian)
CLIPS = (
    "arabic_speech_commands/00000001",
    "urdu_speech/urdu_SF1",
    "common_voice_fa",
)
DEFAULT_VOICE = ROOT / "src" / "bioverify" / "models" / "voice"


@pytest.fixture(scope="module")
def clips() -> list[np.ndarray]:
    """Real clips as Resemblyzer prepares them (volume raised, long silences cut)."""
    from resemblyzer import preprocess_wav

    if not SPEAKERS.is_dir():
        pytest.skip("../shared/data/speakers is absent")
    found = []
    for folder in CLIPS:
        files = sorted(
            p for p in (SPEAKERS / folder).rglob("*") if p.suffix in (".flac", ".ogg", ".wav")
        )
        if not files:
            pytest.skip(f"no clips under {SPEAKERS / folder}")
        found.append(preprocess_wav(files[0]))
    return found


@pytest.fixture(scope="module")
def reference(clips: list[np.ndarray]) -> np.ndarray:
    from resemblyzer import VoiceEncoder

    encoder = VoiceEncoder("cpu", verbose=False)
    return np.stack([encoder.embed_utterance(clip) for clip in clips])


def _pretrained() -> Path:
    import resemblyzer

    return Path(resemblyzer.__file__).parent / "pretrained.pt"


def _embed_torch(
    encoder: torch.nn.Module, clip: np.ndarray, partials: PartialWindows
) -> np.ndarray:
    with torch.no_grad():
        partial = encoder(torch.from_numpy(partials.windows(clip, 16000))).numpy()
    mean = partial.mean(axis=0)
    return mean / np.linalg.norm(mean)


def test_torch_module_gives_resemblyzers_embeddings(clips, reference) -> None:
    encoder = build_encoder("voice", "ge2e_lstm", embedding_dim=256).eval()
    state = torch.load(_pretrained(), map_location="cpu", weights_only=True)["model_state"]
    encoder.backbone.load_state_dict({k: v for k, v in state.items() if "similarity" not in k})
    partials = PartialWindows()
    ours = np.stack([_embed_torch(encoder, clip, partials) for clip in clips])
    assert np.sum(ours * reference, axis=1).min() >= 0.999


def test_shipped_bundle_gives_resemblyzers_embeddings(clips, reference) -> None:
    if load_bundle(DEFAULT_VOICE).training["model"]["name"] != "ge2e_lstm":
        pytest.skip("the default voice bundle is not the converted GE2E encoder")
    verifier = Verifier.load(DEFAULT_VOICE, calibration=False, voice=VoiceSettings(trim="none"))
    assert isinstance(verifier.preprocess, VoicePreprocessor)
    assert verifier.preprocess.partials == PartialWindows()  # Resemblyzer's, zero-filled
    ours = verifier.embed([(clip, 16000) for clip in clips])
    assert np.sum(ours * reference, axis=1).min() >= 0.999


def test_recipe_writes_a_weights_only_checkpoint_with_provenance(tmp_path) -> None:
    out = tmp_path / "ge2e.pt"
    recipe = ROOT / "recipes" / "voice_ge2e" / "convert.py"
    subprocess.run([sys.executable, str(recipe), "--out", str(out)], check=True, cwd=ROOT)
    checkpoint = load_checkpoint(out)  # weights_only=True
    provenance = checkpoint["provenance"]
    assert provenance["source_sha256"] == hashlib.sha256(_pretrained().read_bytes()).hexdigest()
    assert provenance["license"] == "Apache-2.0"
    assert "Apache License" in provenance["license_text"]
    assert checkpoint["encoder"]["config"]["name"] == "ge2e_lstm"
    assert checkpoint["voice"]["partials"]["frames"] == 160
