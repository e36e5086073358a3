"""The runtime must import and run its CLI with torch unavailable."""

from __future__ import annotations

from pathlib import Path

import pytest

from helpers import POWELL_1, TORCH, one_line_error, run_bioverify, run_python


def _runs_without_torch(code: str) -> None:
    """``code`` runs to its end in a child process where torch looks uninstalled."""
    proc = run_python(code + "print('ok')\n", hide=TORCH)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_runtime_imports_without_torch() -> None:
    _runs_without_torch(
        "import bioverify, bioverify.errors, bioverify.calibration, bioverify.cli\n"
        "import bioverify.datasets, bioverify.datasets.splits\n"
        "import bioverify.verify, bioverify.verify.verifier, bioverify.verify.evaluation\n"
        "import bioverify.cli.verify, bioverify.cli.evaluate\n"
        "from bioverify import Verifier, VerifyResult, verify\n"
        "assert 'torch' not in sys.modules\n"
    )


@pytest.mark.slow  # a fresh interpreter
def test_cli_help_without_torch() -> None:
    proc = run_bioverify("--help", hide=TORCH)
    assert proc.returncode == 0, proc.stderr
    for command in ("calibrate", "split", "train", "verify", "evaluate"):
        assert command in proc.stdout


@pytest.mark.slow  # a fresh interpreter
def test_train_without_torch_is_one_line_error(tmp_path) -> None:
    split = tmp_path / "split.json"
    split.write_text("{}")
    proc = run_bioverify(
        *("train", "--data", tmp_path, "--split", split, "--modality", "face"),
        *("--model", "mobilefacenet", "--loss", "arcface", "--out", tmp_path / "run"),
        hide=TORCH,
    )
    assert "train" in one_line_error(proc.returncode, proc.stderr)


def test_verify_runs_without_torch(calibrated_face_bundle) -> None:
    image = str(POWELL_1)
    _runs_without_torch(
        "import bioverify\n"
        f"r = bioverify.verify({image!r}, {image!r}, "
        f"model={str(calibrated_face_bundle.folder)!r}, face_mode='aligned')\n"
        "assert r.match and 'torch' not in sys.modules, r\n"
    )


@pytest.mark.slow  # a fresh interpreter
def test_calibrate_report_without_matplotlib_is_one_line_error(tmp_path) -> None:
    """matplotlib is the `report` extra: the runtime install works without it, and asking
    for a report says what to install before any work is done."""
    scores = tmp_path / "scores.csv"
    scores.write_text("score,label\n" + "".join(f"{k / 10},{k % 2}\n" for k in range(10)))
    proc = run_bioverify(
        *("calibrate", "--scores", scores, "--out", tmp_path / "cal.json"),
        *("--report", tmp_path / "report", "--force"),
        hide=(*TORCH, "matplotlib"),
    )
    assert proc.returncode == 8, proc.stderr
    line = one_line_error(proc.returncode, proc.stderr)
    assert line.startswith("error: the calibration report draws")
    assert 'pip install "bioverify[report]"' in line
    assert not (tmp_path / "cal.json").exists()


RUNTIME_PACKAGES = ("datasets", "verify", "gallery", "calibration", "cli")
#: the commands that train and export: they import the torch side, inside the command
TORCH_COMMANDS = ("cli/train.py", "cli/export.py")


def _runtime_modules() -> list[Path]:
    package = Path(__file__).resolve().parents[1] / "src" / "bioverify"
    return sorted(
        path
        for name in RUNTIME_PACKAGES
        for path in (package / name).rglob("*.py")
        if path.relative_to(package).as_posix() not in TORCH_COMMANDS
    )


def test_the_runtime_never_imports_training_or_export() -> None:
    import ast

    offenders = []
    for path in _runtime_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            names = (
                [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else []
            )
            offenders += [
                f"{path.name}:{node.lineno} {name}"
                for name in names
                if name.startswith(("bioverify.training", "bioverify.export"))
            ]
    assert offenders == []


@pytest.mark.slow  # a fresh interpreter importing all 60+ runtime modules
def test_every_runtime_module_imports_with_torch_blocked() -> None:
    package = Path(__file__).resolve().parents[1] / "src"
    modules = [
        ".".join(path.relative_to(package).with_suffix("").parts).removesuffix(".__init__")
        for path in _runtime_modules()
    ]
    proc = run_python(
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert not any(m.split('.')[0] == 'torch' for m in sys.modules)\n"
        "assert not any(m.startswith(('bioverify.training', 'bioverify.export')) "
        "for m in sys.modules)\n"
        "print(len(sys.modules))\n",
        hide=TORCH,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(modules) > 60
