"""Distributed training: two CPU processes (gloo) launched by torchrun take one step with
DistributedDataParallel and end with identical weights that differ from the initial ones.

Only parameters are compared: BatchNorm running statistics stay per rank under DDP (rank 0's
are broadcast at each forward and are the ones saved)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from bioverify.datasets.inventory import scan_dataset
from bioverify.datasets.splits import make_split, save_split

pytestmark = pytest.mark.slow  # two torchrun processes

WORKER = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path

    import torch

    from bioverify.training import trainer

    out = Path(sys.argv[2])
    rank = os.environ["RANK"]
    build = trainer.build_encoder

    def parameters(module):
        return {name: p.detach().clone() for name, p in module.named_parameters()}

    def recording_build(*args, **kwargs):
        encoder = build(*args, **kwargs)
        torch.save(parameters(encoder), out / f"init{rank}.pt")
        return encoder

    trainer.build_encoder = recording_build
    config = trainer.TrainConfig.from_dict(json.loads(sys.argv[1]))
    result = trainer.train(config, progress=False)
    torch.save(parameters(result.encoder), out / f"final{rank}.pt")
    """
)


def _write_faces(root: Path) -> None:
    rng = np.random.default_rng(1)
    for k in range(6):
        folder = root / f"person_{k}"
        folder.mkdir(parents=True)
        base = rng.integers(0, 256, (250, 250))
        for n in range(4):
            noisy = np.clip(base + rng.normal(0, 20, base.shape), 0, 255).astype(np.uint8)
            cv2.imwrite(str(folder / f"{n}.png"), noisy)


def test_two_gloo_ranks_step_in_sync(tmp_path: Path) -> None:
    data = tmp_path / "faces"
    _write_faces(data)
    split = make_split(scan_dataset(data, progress=False), val_fraction=0.34, test_fraction=0.17)
    save_split(split, tmp_path / "split.json")
    config = {
        "data": [str(data)],
        "split": str(tmp_path / "split.json"),
        "modality": "face",
        "model": "mobilefacenet",
        "model_kwargs": {"width": 0.0625},
        "embedding_dim": 16,
        "out_dir": str(tmp_path / "run"),
        "epochs": 1,
        "batch_size": 2,
        "steps_per_epoch": 1,
        "num_workers": 0,
        "device": "cpu",
    }
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone"]
    command += ["--nproc_per_node", "2", str(script), json.dumps(config), str(tmp_path)]
    environment = os.environ | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=120, env=environment, check=False
    )
    assert done.returncode == 0, done.stderr[-3000:]

    def load(name: str) -> dict[str, torch.Tensor]:
        return torch.load(tmp_path / name, map_location="cpu", weights_only=True)

    init0, init1, final0, final1 = (load(f"{n}.pt") for n in ("init0", "init1", "final0", "final1"))
    # ranks start apart (seeded by rank) until DDP broadcasts rank 0's weights
    assert any(not torch.equal(init0[k], init1[k]) for k in init0)
    for key in final0:
        assert torch.equal(final0[key], final1[key]), key
    assert any(not torch.equal(final0[k], init0[k]) for k in init0)
    # only rank 0 writes the run files; one step of 2 samples on each of 2 ranks
    (line,) = [json.loads(s) for s in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    assert line["step"] == 1 and "val_eer" in line
