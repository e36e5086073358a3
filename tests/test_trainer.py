"""The trainer end to end on tiny synthetic face and voice datasets: files written, validation
metrics, checkpoints, resume (bit-identical for a deterministic run), Ctrl-C, time budget and
the ``bioverify train`` command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest
import soundfile
import torch
from click.testing import CliRunner

from bioverify.cli import cli
from bioverify.datasets.inventory import scan_dataset
from bioverify.datasets.splits import make_split, save_split
from bioverify.errors import InvalidInput, ModelMismatch
from bioverify.export.source import load_trained_encoder
from bioverify.training.config import TrainConfig
from bioverify.training.trainer import train

FACE_MODEL, FACE_KWARGS = "mobilefacenet", {"width": 0.0625}
VOICE_MODEL = "ecapa_tdnn"
VOICE_KWARGS = {
    "channels": 16,
    "scale": 2,
    "se_bottleneck": 8,
    "attention_bottleneck": 8,
    "aggregate_channels": 32,
}


def write_faces(root: Path, identities: int = 6, per_identity: int = 4) -> Path:
    """250 × 250 grayscale PNGs: a grating whose angle and frequency depend on the identity,
    plus noise."""
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:250, 0:250]
    for k in range(identities):
        angle, frequency = np.pi * k / identities, 0.04 + 0.015 * k
        pattern = 127 + 90 * np.sin(frequency * (np.cos(angle) * xx + np.sin(angle) * yy))
        folder = root / f"person_{k}"
        folder.mkdir(parents=True)
        for n in range(per_identity):
            image = np.clip(pattern + rng.normal(0, 25, pattern.shape), 0, 255)
            cv2.imwrite(str(folder / f"{n}.png"), image.astype(np.uint8))
    return root


def write_voices(root: Path, identities: int = 6, per_identity: int = 4) -> Path:
    """One-second 16 kHz WAVs: a tone whose pitch depends on the identity, plus noise."""
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    for k in range(identities):
        folder = root / f"speaker_{k}"
        folder.mkdir(parents=True)
        for n in range(per_identity):
            wave = 0.3 * np.sin(2 * np.pi * (200 + 150 * k) * t) + 0.05 * rng.normal(size=t.size)
            soundfile.write(folder / f"{n}.wav", wave.astype(np.float32), 16000)
    return root


def write_split(data: Path, path: Path) -> Path:
    """6 identities → 3 train, 2 val, 1 test."""
    split = make_split(scan_dataset(data, progress=False), val_fraction=0.34, test_fraction=0.17)
    assert (len(split.train), len(split.val), len(split.test)) == (3, 2, 1)
    save_split(split, path)
    return path


@pytest.fixture(scope="module")
def faces(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("faces")
    data = write_faces(root / "data")
    return data, write_split(data, root / "split.json")


def run_config(data: Path, split: Path, out: Path, **settings: Any) -> TrainConfig:
    """A tiny run: 16-d embeddings, batches of 4, no loader workers."""
    common: dict[str, Any] = {"data": [str(data)], "split": str(split), "out_dir": str(out)}
    common |= {"embedding_dim": 16, "batch_size": 4, "num_workers": 0}
    return TrainConfig(**(common | settings))


def face_config(faces: tuple[Path, Path], out: Path, **changes: Any) -> TrainConfig:
    settings: dict[str, Any] = {"modality": "face", "model": FACE_MODEL}
    settings |= {"model_kwargs": FACE_KWARGS, "epochs": 2, "steps_per_epoch": 2}
    settings |= {"seed": 3, "num_threads": 1}
    return run_config(*faces, out, **(settings | changes))


def voice_config(data: Path, split: Path, out: Path, **changes: Any) -> TrainConfig:
    settings: dict[str, Any] = {"modality": "voice", "model": VOICE_MODEL}
    settings |= {"model_kwargs": VOICE_KWARGS, "epochs": 1, "steps_per_epoch": 1}
    settings |= {"chunk_seconds": 0.5}
    return run_config(data, split, out, **(settings | changes))


def read_metrics(run: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def trained_tensors(checkpoint: Path) -> dict[str, torch.Tensor]:
    state = torch.load(checkpoint, map_location="cpu", weights_only=True)
    tensors = {f"encoder.{k}": v for k, v in state["encoder"]["state_dict"].items()}
    tensors |= {f"loss.{k}": v for k, v in state["loss"]["state_dict"].items()}
    for index, buffers in state["optimizer"]["state"].items():
        tensors |= {f"optimizer.{index}.{k}": v for k, v in buffers.items()}
    return tensors


def test_face_run_writes_config_metrics_and_checkpoints(
    faces: tuple[Path, Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    result = train(face_config(faces, run), progress=False)

    assert json.loads((run / "config.json").read_text())["optimizer"] == "sgd"
    metrics = read_metrics(run)
    assert [m["epoch"] for m in metrics] == [1, 2] and [m["step"] for m in metrics] == [2, 4]
    for line in metrics:
        assert 0.0 <= line["val_eer"] <= 1.0 and line["complete"]
        # 2 val identities × 4 images: 2 × C(4, 2) genuine, all 16 cross pairs impostor
        assert (line["n_genuine"], line["n_impostor"]) == (12, 16)
        assert {"tar_at_far_0.01", "tar_at_far_0.001", "lr", "samples_per_s"} <= set(line)
    assert metrics[-1]["lr"] == pytest.approx(0.0)  # cosine schedule ends at 0
    assert result.best_val_eer == min(m["val_eer"] for m in metrics)
    assert (result.epochs_completed, result.global_step, result.stopped_early) == (2, 4, False)

    last = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert torch.load(run / "best.pt", map_location="cpu", weights_only=True)["metrics"]
    split = json.loads(faces[1].read_text())
    assert last["identities"] == sorted(split["train"])
    assert last["loss"]["state_dict"]["criterion.W"].shape == (16, 3)
    assert last["loss"]["kwargs"] == {"margin": 0.5, "scale": 64.0}
    assert last["progress"]["epoch"] == 2 and last["progress"]["global_step"] == 4
    assert last["face_geometry"]["crop_box"] == [57, 49, 136, 136]
    assert last["head"] is None and last["encoder"]["config"]


def test_interrupted_and_resumed_run_matches_an_uninterrupted_one(
    faces: tuple[Path, Path], tmp_path: Path
) -> None:
    train(face_config(faces, tmp_path / "whole"), progress=False)

    def interrupt_at_step_3(step: int, loss: float) -> None:
        if step == 3:
            raise KeyboardInterrupt

    cut = tmp_path / "cut"
    with pytest.raises(KeyboardInterrupt):
        train(face_config(faces, cut), on_step=interrupt_at_step_3, progress=False)
    saved = torch.load(cut / "last.pt", map_location="cpu", weights_only=True)
    assert saved["progress"]["epoch"] == 1 and saved["progress"]["step_in_epoch"] == 1
    assert saved["progress"]["global_step"] == 3
    assert len(read_metrics(cut)) == 1

    result = train(face_config(faces, cut, resume=True), progress=False)
    assert result.global_step == 4 and result.epochs_completed == 2
    assert [m["step"] for m in read_metrics(cut)] == [2, 4]
    whole, resumed = (
        trained_tensors(tmp_path / "whole" / "last.pt"),
        trained_tensors(cut / "last.pt"),
    )
    assert whole.keys() == resumed.keys() and any(k.startswith("optimizer.") for k in whole)
    for key, tensor in whole.items():
        assert torch.equal(tensor, resumed[key]), key
    assert read_metrics(cut)[-1]["val_eer"] == read_metrics(tmp_path / "whole")[-1]["val_eer"]


def test_resume_continues_at_the_next_epoch(faces: tuple[Path, Path], tmp_path: Path) -> None:
    run = tmp_path / "run"
    train(face_config(faces, run), progress=False)
    before = trained_tensors(run / "last.pt")
    result = train(face_config(faces, run, epochs=3, resume=True), progress=False)
    metrics = read_metrics(run)
    assert [m["epoch"] for m in metrics] == [1, 2, 3] and metrics[-1]["step"] == 6
    assert result.epochs_completed == 3 and result.global_step == 6
    after = trained_tensors(run / "last.pt")
    assert not torch.equal(before["loss.criterion.W"], after["loss.criterion.W"])


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"model_kwargs": {"width": 0.125}}, ModelMismatch, "another model or loss"),
        ({"loss_kwargs": {"margin": 0.3}}, ModelMismatch, "another model or loss"),
        ({"batch_size": 2}, InvalidInput, "other settings: batch_size"),
    ],
)
def test_resume_refuses_a_different_setup(
    faces: tuple[Path, Path], tmp_path: Path, change: dict, error: type, message: str
) -> None:
    run = tmp_path / "run"
    train(face_config(faces, run, epochs=1, steps_per_epoch=1), progress=False)
    with pytest.raises(error, match=message):
        train(face_config(faces, run, epochs=2, steps_per_epoch=1, resume=True, **change))


def test_init_from_starts_a_new_schedule_from_trained_weights(
    faces: tuple[Path, Path], tmp_path: Path
) -> None:
    first = tmp_path / "first"
    train(face_config(faces, first, epochs=1, steps_per_epoch=1), progress=False)
    trained = torch.load(first / "last.pt", map_location="cpu", weights_only=True)

    second = tmp_path / "second"
    config = face_config(faces, second, epochs=1, init_from=str(first / "last.pt"), lr=1e-12)
    result = train(config, progress=False)
    state = result.encoder.state_dict()
    # lr ~ 0: the second run ends where the first one's weights were loaded
    for name in ("backbone.linear.weight", "backbone.features.bias"):
        assert torch.allclose(state[name], trained["encoder"]["state_dict"][name], atol=1e-6)
    assert read_metrics(second)[0]["epoch"] == 1  # a new schedule, not a resumption

    with pytest.raises(ModelMismatch, match="same model"):
        train(
            face_config(
                faces,
                tmp_path / "third",
                model_kwargs={"width": 0.125},
                init_from=str(first / "last.pt"),
            ),
            progress=False,
        )


def test_existing_run_is_not_overwritten_without_resume(
    faces: tuple[Path, Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    train(face_config(faces, run, epochs=1, steps_per_epoch=1), progress=False)
    with pytest.raises(InvalidInput, match="already holds a run"):
        train(face_config(faces, run, epochs=1, steps_per_epoch=1), progress=False)


def test_time_budget_stops_mid_epoch_then_validates_and_resumes(
    faces: tuple[Path, Path], tmp_path: Path
) -> None:
    run = tmp_path / "run"
    result = train(face_config(faces, run, max_minutes=1e-6), progress=False)
    assert result.stopped_early and result.global_step == 1 and result.epochs_completed == 0
    (line,) = read_metrics(run)
    assert not line["complete"] and line["step"] == 1 and "val_eer" in line
    result = train(face_config(faces, run, resume=True), progress=False)
    assert not result.stopped_early and result.global_step == 4
    assert [(m["epoch"], m["complete"]) for m in read_metrics(run)] == [
        (1, False),
        (1, True),
        (2, True),
    ]


def test_face_crop_follows_the_model_input_size(faces: tuple[Path, Path], tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = face_config(
        faces, run, model_kwargs=FACE_KWARGS | {"input_size": 32}, epochs=1, steps_per_epoch=1
    )
    train(config, progress=False)
    last = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert last["face_geometry"]["output_size"] == 32
    assert last["face_geometry"]["crop_box"] == [57, 49, 136, 136]

    mismatched = last["face_geometry"] | {"output_size": 112}
    with pytest.raises(InvalidInput, match="differs from the model's input_size 32"):
        train(
            face_config(
                faces,
                tmp_path / "other",
                model_kwargs=FACE_KWARGS | {"input_size": 32},
                face_geometry=mismatched,
            ),
            progress=False,
        )


def test_triplet_run_with_a_projection_head(faces: tuple[Path, Path], tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = face_config(
        faces,
        run,
        loss="triplet",
        loss_kwargs={"mining": "semihard"},
        samples_per_identity=2,
        head_dim=8,
        epochs=1,
    )
    assert (config.optimizer, config.lr) == ("adamw", 1e-3)
    train(config, progress=False)
    last = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert last["head"]["dim"] == 8 and last["head"]["state_dict"]["layers.3.weight"].shape == (
        8,
        16,
    )
    assert last["loss"]["state_dict"] == {}
    assert read_metrics(run)[0]["step"] == 2


@pytest.mark.slow  # trains ECAPA-TDNN
def test_voice_run(tmp_path: Path) -> None:
    data = write_voices(tmp_path / "voices")
    split = write_split(data, tmp_path / "split.json")
    run = tmp_path / "run"
    config = voice_config(data, split, run, loss="cosface", steps_per_epoch=2, trim="all")
    result = train(config, progress=False)
    (line,) = read_metrics(run)
    assert (line["n_genuine"], line["n_impostor"]) == (12, 16) and result.best_val_eer is not None
    last = torch.load(run / "last.pt", map_location="cpu", weights_only=True)
    assert last["voice"] == {"sample_rate": 16000, "chunk_seconds": 0.5, "trim": "all"}
    assert load_trained_encoder(run / "last.pt").preprocessing == {
        "sample_rate": 16000,
        "trim": "all",
    }  # the bundle will tell the runtime to cut the same


def test_voice_run_skips_recordings_that_do_not_decode(tmp_path: Path) -> None:
    """Voices are decoded before the first epoch; one that fails is skipped with a warning
    (it used to end the run with an AttributeError)."""
    data = write_voices(tmp_path / "voices", per_identity=5)
    for folder in data.iterdir():
        (folder / "4.wav").write_bytes(b"RIFF, not a wave file: " + folder.name.encode())
    split = write_split(data, tmp_path / "split.json")
    result = train(voice_config(data, split, tmp_path / "run"), progress=False)
    (line,) = result.metrics
    assert result.global_step == 1 and line["val_unreadable"] == 2


def test_config_round_trips_and_refuses_unknown_keys(tmp_path: Path) -> None:
    config = TrainConfig(data=["d"], split="s.json", modality="face", model="m", out_dir="o")
    assert TrainConfig.from_dict(json.loads(json.dumps(config.to_dict()))) == config
    with pytest.raises(InvalidInput, match="unknown training settings"):
        TrainConfig.from_dict(config.to_dict() | {"learning_rate": 1})
    with pytest.raises(InvalidInput, match="must be positive"):
        TrainConfig(data=["d"], split="s", modality="face", model="m", out_dir="o", epochs=0)
    # the optimiser defaults by loss, its learning rate by optimiser
    assert (config.optimizer, config.lr) == ("sgd", 0.1)
    adamw = TrainConfig(**(config.to_dict() | {"optimizer": "adamw", "lr": None}))
    assert adamw.lr == 1e-3


@pytest.mark.slow  # trains twice through the CLI
def test_cli_trains_and_resumes_from_the_run_config(
    faces: tuple[Path, Path], tmp_path: Path
) -> None:
    data, split = faces
    run = tmp_path / "run"
    args = ["train", "--data", str(data), "--split", str(split), "--modality", "face"]
    args += ["--model", FACE_MODEL, "--embedding-dim", "16", "--out", str(run)]
    args += [f"--model-arg={k}={v}" for k, v in FACE_KWARGS.items()]
    args += ["--loss-arg", "margin=0.4", "--epochs", "1", "--batch-size", "4"]
    args += ["--steps-per-epoch", "1", "--workers", "0"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "best val EER" in result.output and str(run) in result.output
    assert json.loads((run / "config.json").read_text())["loss_kwargs"] == {"margin": 0.4}

    resumed = CliRunner().invoke(cli, ["train", "--out", str(run), "--resume", "--epochs", "2"])
    assert resumed.exit_code == 0, resumed.output
    assert [m["epoch"] for m in read_metrics(run)] == [1, 2]

    missing = CliRunner().invoke(cli, ["train", "--out", str(tmp_path / "new")])
    assert (
        missing.exit_code == 2 and "missing --data, --split, --modality, --model" in missing.output
    )
