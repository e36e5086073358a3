"""Fine-tuning a voice model that is served in partial windows (the converted GE2E encoder):
the run inherits ``partials`` / ``target_dbfs`` from ``--init-from``, trains on served
windows, validates with the runtime's embedding and hands the facts on to the export; a
model without them trains as before. The last test checks, on real clips of ../shared,
that the validation embedding of the converted checkpoint is the shipped bundle's."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile
import torch
from torch.nn import functional as F

from bioverify.bundle import file_sha256
from bioverify.calibration.scoring import score_trials
from bioverify.calibration.summary import summarize
from bioverify.datasets.inventory import Sample, scan_dataset
from bioverify.datasets.splits import make_split, save_split
from bioverify.export.source import load_trained_encoder
from bioverify.media import read_audio
from bioverify.training.checkpoint import load_checkpoint, save_checkpoint
from bioverify.training.config import TrainConfig
from bioverify.training.models import build_encoder
from bioverify.training.run_data import init_checkpoint, load_run_data, voice_runtime
from bioverify.training.trainer import train
from bioverify.training.validation import FAR_TARGETS, embed_batch, validate, validation_trials
from bioverify.training.voice_data import VoiceDataset
from bioverify.verify import Verifier
from bioverify.verify.voice_input import PartialWindows, raise_level

ROOT = Path(__file__).resolve().parents[1]
SPEAKERS = ROOT.parent / "shared" / "data" / "speakers"
#: 0.4 s windows (40 frames) keep the tiny LSTM fast; the converted model's are 1.6 s
PARTIALS = PartialWindows(frames=40, rate=4.0)
RUNTIME = {"partials": asdict(PARTIALS), "target_dbfs": -30.0}
GE2E = {"hidden": 16, "layers": 2}
PROVENANCE = {"source": "a.pt", "source_sha256": "ab" * 32, "license": "Apache-2.0"}


def _init_checkpoint(path: Path, runtime: dict[str, Any]) -> Path:
    """A converted-style checkpoint (as ``recipes/voice_ge2e/convert.py`` writes) of a
    small GE2E LSTM, with the given runtime facts in its ``voice`` section."""
    torch.manual_seed(0)
    encoder = build_encoder("voice", "ge2e_lstm", 16, **GE2E)
    save_checkpoint(
        path,
        {
            "modality": "voice",
            "encoder": {"config": encoder.config, "state_dict": encoder.state_dict()},
            "head": None,
            "loss": {"name": "ge2e", "kwargs": {}, "num_classes": 0, "state_dict": {}},
            "identities": [],
            "voice": {"sample_rate": 16000, "trim": "none", **runtime},
            "provenance": PROVENANCE,
        },
    )
    return path


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """6 speakers × 3 quiet 16-bit clips (0.3, 0.8 and 1.3 s), split 3 / 2 / 1."""
    root = tmp_path_factory.mktemp("voices")
    rng = np.random.default_rng(0)
    for k in range(6):
        (root / "data" / f"speaker_{k}").mkdir(parents=True)
        for n in range(3):
            t = np.arange(round((0.3 + 0.5 * n) * 16000)) / 16000
            wave = 0.01 * np.sin(2 * np.pi * (180 + 90 * k) * t * (1 + 0.2 * t))
            wave = wave + 0.002 * rng.normal(size=t.size)
            path = root / "data" / f"speaker_{k}" / f"{n}.wav"
            soundfile.write(path, wave.astype(np.float32), 16000, subtype="PCM_16")
    split = make_split(scan_dataset(root / "data", progress=False), 0.34, 0.17)
    save_split(split, root / "split.json")
    return root / "data", root / "split.json"


def _config(
    voices: tuple[Path, Path], out: Path, init_from: Path | None, loss: str = "arcface"
) -> TrainConfig:
    return TrainConfig(
        data=[str(voices[0])],
        split=str(voices[1]),
        modality="voice",
        model="ge2e_lstm",
        out_dir=str(out),
        loss=loss,
        samples_per_identity=2,
        embedding_dim=16,
        model_kwargs=GE2E,
        epochs=1,
        steps_per_epoch=1,
        batch_size=4,
        num_workers=0,
        num_threads=1,
        chunk_seconds=0.5,
        init_from=None if init_from is None else str(init_from),
    )


def _runtime_embedding(encoder: torch.nn.Module, path: Path) -> np.ndarray:
    """A recording embedded as the verifier does with the converted model's bundle."""
    audio = raise_level(read_audio(path, 16000), -30.0)
    with torch.no_grad():
        windows = encoder(torch.from_numpy(PARTIALS.windows(audio, 16000)))
    return F.normalize(windows.mean(dim=0), dim=0).numpy()


@pytest.mark.parametrize("loss", ["arcface", "triplet"])
def test_fine_tune_trains_validates_and_exports_as_served(
    voices: tuple[Path, Path], tmp_path: Path, loss: str
) -> None:
    init = _init_checkpoint(tmp_path / "init.pt", RUNTIME)
    config = _config(voices, tmp_path / "run", init, loss)
    data = load_run_data(config, True, False, lambda item: None)
    assert data.voice_runtime == RUNTIME
    window, _ = data.train_set[0]
    assert window.shape == (PARTIALS.window_samples,)
    # validation: the runtime's embedding of every val recording, so the runtime's EER
    encoder = load_trained_encoder(init).encoder
    summary, unreadable = validate(encoder, data, config, torch.device("cpu"), None, False)
    val_set = data.val_set
    assert isinstance(val_set, VoiceDataset) and unreadable == 0
    expected = np.stack([_runtime_embedding(encoder, s.path) for s in val_set.samples])
    identities = [data.val_identities[label] for label in val_set.labels]
    trials = validation_trials(identities, config)
    reference = summarize(score_trials(expected, trials), trials.genuine, FAR_TARGETS)
    assert summary.eer == pytest.approx(reference.eer, abs=1e-6)
    # the fine-tuned checkpoint keeps the facts, and its export writes them
    result = train(config, progress=False)
    assert result.global_step == 1 and np.isfinite(result.metrics[0]["loss"])
    last = load_checkpoint(tmp_path / "run" / "last.pt")
    assert {key: last["voice"][key] for key in RUNTIME} == RUNTIME
    assert load_trained_encoder(tmp_path / "run" / "last.pt").preprocessing == {
        "sample_rate": 16000,
        "trim": "none",
        **RUNTIME,
    }
    # and where its weights came from: the converted source, licence, and the checkpoint
    assert last["provenance"] == PROVENANCE
    assert last["fine_tuned_from"] == {"checkpoint": "init.pt", "sha256": file_sha256(init)}
    training = load_trained_encoder(tmp_path / "run" / "last.pt").training  # → bundle.json
    assert training["provenance"] == PROVENANCE
    assert training["fine_tuned_from"] == last["fine_tuned_from"]


@pytest.mark.parametrize("init", [False, True], ids=["from-scratch", "init-without-facts"])
def test_a_model_without_runtime_facts_trains_as_before(
    voices: tuple[Path, Path], tmp_path: Path, init: bool
) -> None:
    checkpoint = _init_checkpoint(tmp_path / "init.pt", {}) if init else None
    config = _config(voices, tmp_path / "run", checkpoint)
    assert voice_runtime(init_checkpoint(config)) == {}
    data = load_run_data(config, True, False, lambda item: None)
    chunk, _ = data.train_set[0]
    whole, _ = data.val_set[0]
    assert data.voice_runtime == {} and chunk.shape == (8000,) and whole.dim() == 1
    val_set = data.val_set
    assert isinstance(val_set, VoiceDataset)
    recording = read_audio(val_set.samples[0].path, 16000)
    np.testing.assert_allclose(whole.numpy(), recording, atol=1 / 32768)  # not raised


@pytest.mark.shared_data
@pytest.mark.slow  # converts Resemblyzer's weights, loads the shipped bundle
def test_validation_embedding_of_the_converted_model_is_the_bundles(tmp_path: Path) -> None:
    pytest.importorskip("resemblyzer")
    if not SPEAKERS.is_dir():
        pytest.skip("../shared/data/speakers is absent")
    converted = tmp_path / "ge2e.pt"
    recipe = ROOT / "recipes" / "voice_ge2e" / "convert.py"
    subprocess.run([sys.executable, str(recipe), "--out", str(converted)], check=True, cwd=ROOT)
    folders = ("arabic_speech_commands/00000001", "urdu_speech/urdu_SF1", "common_voice_fa/cvfa000")
    files = [sorted((SPEAKERS / folder).glob("*.*"))[k] for folder in folders for k in (0, 1)]
    samples = [Sample(path, path.parent.name, path.parts[-3]) for path in files]
    runtime = voice_runtime(init_checkpoint(_config((SPEAKERS, SPEAKERS), tmp_path, converted)))
    dataset = VoiceDataset(
        samples,
        {sample.identity: 0 for sample in samples},
        train=False,
        partials=PartialWindows.from_dict(runtime["partials"]),
        target_dbfs=runtime["target_dbfs"],
    )
    encoder = load_trained_encoder(converted).encoder
    with torch.no_grad():
        ours = torch.cat([embed_batch(encoder, dataset[i][0][None], True) for i in range(6)])
    shipped = Verifier.load("voice", calibration=False).embed([str(path) for path in files])
    assert {dataset[i][0].shape[0] for i in range(6)} == {1, 2, 3, 5}  # short and long clips
    assert np.sum(ours.numpy() * shipped, axis=1).min() > 0.999
