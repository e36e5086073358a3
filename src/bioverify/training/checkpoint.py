"""Training checkpoints: atomic ``torch.save`` of tensors and plain types, loaded with
``weights_only=True``.

A checkpoint is a dict (see :func:`bioverify.training.resume.save_run` for the keys a
training run writes). Nothing in it needs pickle's arbitrary-object loading: state dicts,
numbers, strings, lists and dicts only; random-generator states are converted to those by
:func:`rng_state` and back by :func:`set_rng_state`.
"""

from __future__ import annotations

import io
import random
import zipfile
from collections.abc import Mapping
from pathlib import Path
from pickle import UnpicklingError  # the error torch.load(weights_only=True) raises
from typing import Any

import numpy as np
import torch

from bioverify.atomic import write_atomic
from bioverify.errors import ModelError

FORMAT_VERSION = 1


def save_checkpoint(path: Path | str, state: Mapping[str, Any]) -> None:
    """Write ``state`` to ``path`` atomically (a temporary file renamed over it).

    ``format_version`` is added. A reader never sees a half-written file, even if the
    process is killed while saving.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    torch.save({"format_version": FORMAT_VERSION, **state}, buffer)
    try:
        write_atomic(path, buffer.getvalue(), mode=0o600)
    except OSError as exc:
        raise ModelError(
            f"{path}: cannot write the checkpoint ({exc.strerror or exc}); the previous "
            "file, if any, is unchanged"
        ) from exc


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """Read a checkpoint onto the CPU with ``weights_only=True``.

    Raises :class:`ModelError` naming the path when the file is missing, is not a checkpoint
    (or holds objects other than tensors and plain types), or has another format version.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: checkpoint not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except UnpicklingError as exc:
        raise ModelError(
            f"{path}: the file holds Python objects other than tensors and plain values, so it "
            "is refused (loading it would run code from the file); a bioverify checkpoint "
            "never does"
        ) from exc
    except zipfile.BadZipFile as exc:
        raise ModelError(f"{path}: checkpoint file is truncated or corrupt ({exc})") from exc
    except Exception as exc:  # torch's unpickler raises KeyError, IndexError... on garbage
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
        reason = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
        raise ModelError(f"{path}: not a readable bioverify checkpoint ({reason})") from exc
    if not isinstance(state, dict) or "format_version" not in state:
        raise ModelError(f"{path}: not a bioverify checkpoint (no format_version)")
    if state["format_version"] != FORMAT_VERSION:
        raise ModelError(
            f"{path}: checkpoint format_version {state['format_version']!r} is not supported "
            f"(expected {FORMAT_VERSION}); use the bioverify version that wrote it"
        )
    return state


def rng_state() -> dict[str, Any]:
    """The Python, numpy and torch (CPU and every CUDA device) generator states, as tensors
    and plain types."""
    version, internal, gauss_next = random.getstate()
    _, keys, position, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": {"version": version, "state": list(internal), "gauss_next": gauss_next},
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(position),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached_gaussian),
        },
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return state


def set_rng_state(state: Mapping[str, Any]) -> None:
    """Restore generator states saved by :func:`rng_state` (CUDA ones only when the same
    number of devices is visible)."""
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"]), python["gauss_next"]))
    numpy = state["numpy"]
    np.random.set_state(
        (
            "MT19937",
            numpy["keys"].numpy().astype(np.uint32),
            numpy["pos"],
            numpy["has_gauss"],
            numpy["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    cuda = state["cuda"]
    if cuda and torch.cuda.is_available() and len(cuda) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda)


__all__ = ["FORMAT_VERSION", "load_checkpoint", "rng_state", "save_checkpoint", "set_rng_state"]
