"""The runtime must import and run its CLI with torch unavailable."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# A finder that makes torch look uninstalled. (Setting sys.modules["torch"] = None would not:
# scipy and scikit-learn look torch up in sys.modules and trip over the None.)
BLOCK_TORCH = (
    "import sys, importlib.abc\n"
    "class _NoTorch(importlib.abc.MetaPathFinder):\n"
    "    def find_spec(self, name, path=None, target=None):\n"
    "        if name.split('.')[0] in ('torch', 'torchvision', 'torchaudio',\n"
    "                                  'pytorch_metric_learning'):\n"
    "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
    "sys.meta_path.insert(0, _NoTorch())\n"
)


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", BLOCK_TORCH + code], capture_output=True, text=True, timeout=120
    )


def test_runtime_imports_without_torch() -> None:
    proc = _run(
        "import bioverify, bioverify.errors, bioverify.calibration, bioverify.cli\n"
        "import bioverify.datasets, bioverify.datasets.splits\n"
        "import bioverify.verify, bioverify.verify.verifier, bioverify.verify.evaluation\n"
        "import bioverify.cli.verify, bioverify.cli.evaluate\n"
        "from bioverify import Verifier, VerifyResult, verify\n"
        "assert 'torch' not in sys.modules\n"
        "print('ok')\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_cli_help_without_torch() -> None:
    proc = _run("from bioverify.cli import main\nsys.argv = ['bioverify', '--help']\nmain()\n")
    assert proc.returncode == 0, proc.stderr
    for command in ("calibrate", "split", "train", "verify", "evaluate"):
        assert command in proc.stdout


def test_train_without_torch_is_one_line_error(tmp_path) -> None:
    split = tmp_path / "split.json"
    split.write_text("{}")
    proc = _run(
        "from bioverify.cli import main\n"
        f"sys.argv = ['bioverify', 'train', '--data', {str(tmp_path)!r}, '--split', {str(split)!r},"
        f" '--modality', 'face', '--model', 'mobilefacenet', '--loss', 'arcface',"
        f" '--out', {str(tmp_path / 'run')!r}]\n"
        "main()\n"
    )
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and "train" in lines[0]


def test_verify_runs_without_torch(calibrated_face_bundle) -> None:
    image = Path(__file__).parent / "data" / "faces" / "Colin_Powell_0001.jpg"
    proc = _run(
        "import bioverify\n"
        f"r = bioverify.verify({str(image)!r}, {str(image)!r}, "
        f"model={str(calibrated_face_bundle.folder)!r}, face_mode='aligned')\n"
        "assert r.match and 'torch' not in sys.modules, r\n"
        "print('ok')\n"
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_calibrate_report_without_matplotlib_is_one_line_error(tmp_path) -> None:
    """matplotlib is the `report` extra: the runtime install works without it, and asking
    for a report says what to install before any work is done."""
    scores = tmp_path / "scores.csv"
    scores.write_text("score,label\n" + "".join(f"{k / 10},{k % 2}\n" for k in range(10)))
    block = BLOCK_TORCH.replace(
        "'pytorch_metric_learning'", "'pytorch_metric_learning', 'matplotlib'"
    )
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            block + "from bioverify.cli import main\nmain()\n",
            "calibrate",
            "--scores",
            str(scores),
            "--out",
            str(tmp_path / "cal.json"),
            "--report",
            str(tmp_path / "report"),
            "--force",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 8, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the calibration report draws")
    assert 'pip install "bioverify[report]"' in lines[0]
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


def test_every_runtime_module_imports_with_torch_blocked() -> None:
    package = Path(__file__).resolve().parents[1] / "src"
    modules = [
        ".".join(path.relative_to(package).with_suffix("").parts).removesuffix(".__init__")
        for path in _runtime_modules()
    ]
    proc = _run(
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert not any(m.split('.')[0] == 'torch' for m in sys.modules)\n"
        "assert not any(m.startswith(('bioverify.training', 'bioverify.export')) "
        "for m in sys.modules)\n"
        "print(len(sys.modules))\n"
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert len(modules) > 60
