"""Helpers the test modules share (imported like ``tiny_bundles``: pytest puts this folder,
conftest.py's, on ``sys.path``): where the test data lies, running the ``bioverify`` command
line in this process or in a child one (optionally with packages made to look
uninstalled), and small synthetic data sets."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from click.testing import CliRunner

from bioverify.cli import cli

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
FACES = TESTS / "data" / "faces"
POWELL_1 = FACES / "Colin_Powell_0001.jpg"
POWELL_6 = FACES / "Colin_Powell_0006.jpg"
SERENA = FACES / "Serena_Williams_0001.jpg"
# ../shared/data beside the checkout (tests that need it skip cleanly when it is absent)
SHARED_DATA = ROOT.parent / "shared" / "data"
LFW = SHARED_DATA / "faces" / "lfw"
DEFAULT_FACE = ROOT / "src" / "bioverify" / "models" / "face"

# torch and what cannot import without it: hidden, they look uninstalled (the runtime install)
TORCH = ("torch", "torchvision", "torchaudio", "pytorch_metric_learning")


# ------------------------------------------------------------------ the command line
def run_cli(*args: object) -> tuple[int, str, str]:
    """``bioverify ARGS`` in this process (click's runner): exit code, stdout and stderr.
    An exception escaping the command (anything but its ``SystemExit``) fails the test."""
    result = CliRunner().invoke(cli, [str(a) for a in args])
    escaped = result.exception
    assert escaped is None or isinstance(escaped, SystemExit), repr(escaped)
    return result.exit_code, result.stdout, result.stderr


def one_line_error(code: int, stderr: str) -> str:
    """The single ``error: …`` line a failed command printed (asserted: non-zero exit, one
    line, no traceback)."""
    assert code != 0
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:"), stderr
    assert "Traceback" not in stderr
    return lines[0]


def hide_packages(packages: Iterable[str]) -> str:
    """Python source that makes the top-level ``packages`` look uninstalled: a finder that
    raises ModuleNotFoundError for them. (Setting ``sys.modules["torch"] = None`` would not
    do: scipy and scikit-learn look torch up in sys.modules and trip over the None.)"""
    return (
        "import sys, importlib.abc\n"
        "class _Hidden(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {tuple(packages)!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, _Hidden())\n"
    )


def run_python(
    code: str, *argv: object, hide: Iterable[str] = (), cwd: Path | None = None, timeout=120
) -> subprocess.CompletedProcess[str]:
    """``python -c CODE ARGV`` in a child process, ``hide`` (package names, see
    :func:`hide_packages`) made to look uninstalled; its text output captured."""
    source = (hide_packages(hide) if hide else "") + code
    return subprocess.run(
        [sys.executable, "-c", source, *(str(a) for a in argv)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
    )


def run_bioverify(
    *args: object, hide: Iterable[str] = (), cwd: Path | None = None, timeout=120
) -> subprocess.CompletedProcess[str]:
    """``python -m bioverify ARGS`` in a child process: a real process, its own exit code and
    streams (``hide`` as for :func:`run_python`)."""
    code = "import runpy\nrunpy.run_module('bioverify', run_name='__main__', alter_sys=True)\n"
    return run_python(code, *args, hide=hide, cwd=cwd, timeout=timeout)


# ------------------------------------------------------------------ synthetic data
def normal_trials(
    n_gen: int, n_imp: int, seed: int = 0, decimals: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Scores of ``n_gen`` genuine trials drawn from N(2, 1) then ``n_imp`` impostor ones from
    N(0, 1) (rounded to ``decimals`` when given), and their boolean labels."""
    rng = np.random.default_rng(seed)
    scores = np.concatenate([rng.normal(2, 1, n_gen), rng.normal(0, 1, n_imp)])
    if decimals is not None:
        scores = np.round(scores, decimals)
    labels = np.concatenate([np.ones(n_gen, bool), np.zeros(n_imp, bool)])
    return scores, labels


def _person_image(seed: int, person: int) -> np.ndarray:
    """A 250 × 250 image: a person's fixed pattern plus a little per-image noise."""
    base = np.random.default_rng(1000 + person).integers(0, 256, (250, 250, 3))
    noise = np.random.default_rng(seed).integers(-20, 21, (250, 250, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def make_fake_lfw(root: Path, people: int = 4, per_person: int = 3) -> Path:
    """Identity folders in LFW's naming (``Person_0/Person_0_0001.png``…)."""
    import cv2

    for p in range(people):
        name = f"Person_{p}"
        (root / name).mkdir(parents=True)
        for n in range(1, per_person + 1):
            cv2.imwrite(str(root / name / f"{name}_{n:04d}.png"), _person_image(10 * p + n, p))
    return root


# LFW pairs.txt over make_fake_lfw's first four people: 2 folds of 2 genuine + 2 impostor pairs
PAIRS = """2\t2
Person_0\t1\t2
Person_1\t1\t3
Person_0\t1\tPerson_1\t1
Person_2\t2\tPerson_3\t1
Person_2\t1\t3
Person_3\t2\t3
Person_0\t3\tPerson_3\t3
Person_1\t2\tPerson_2\t2
"""


def write_split(path: Path, test: list[str], train: list[str]) -> Path:
    """A split file (format 1) naming ``test`` and ``train`` identities, no val ones."""
    document = {
        "format_version": 1,
        "seed": 0,
        "params": {"modality": "face"},
        "train": train,
        "val": [],
        "test": test,
        "counts": {},
        "data": [],
    }
    path.write_text(json.dumps(document))
    return path
