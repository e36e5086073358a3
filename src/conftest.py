"""Doctest collection of ``src/bioverify`` (``--doctest-modules`` in pyproject.toml).

Every module is imported to find its examples, so a module that needs an optional extra
which is not installed is left out here instead of failing collection: the
``.[cpu,train,dev]`` set-up of CI has them all. (FAISS, the ``faiss`` extra, is imported
only when a gallery asks for it, so no module needs skipping for it; no example uses it.)
Examples run from the repository root, which is where they find ``examples/``.
"""

from __future__ import annotations

import importlib.util

#: modules (globs relative to this folder) and the import names their imports need
_OPTIONAL = {
    "bioverify/training/*": ("torch", "torchaudio", "torchvision", "pytorch_metric_learning"),
    "bioverify/export/*": ("torch", "onnx"),
    "bioverify/gallery/postgres*.py": ("psycopg", "psycopg_pool"),
    "bioverify/calibration/report.py": ("matplotlib",),
}


def _installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


collect_ignore_glob = [
    pattern for pattern, needs in _OPTIONAL.items() if not all(_installed(name) for name in needs)
]
