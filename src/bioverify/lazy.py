"""Package attributes imported on first use (PEP 562), so that importing a package stays
fast and free of the heavy modules (onnxruntime, OpenCV, matplotlib) until a name needs them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_attributes(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` that imports each name of ``homes`` from its module.

    Parameters
    ----------
    package : str
        The package's ``__name__``, for the message of an unknown name.
    homes : mapping of str to str
        Each lazy name and the module that defines it.

    Returns
    -------
    callable
        Assign it to the package's ``__getattr__``.

    Examples
    --------
    >>> getattr_ = lazy_attributes("pkg", {"sqrt": "math"})
    >>> getattr_("sqrt")(9.0)
    3.0
    >>> getattr_("cbrt")
    Traceback (most recent call last):
    ...
    AttributeError: module 'pkg' has no attribute 'cbrt'
    """

    def __getattr__(name: str) -> Any:
        if name in homes:
            return getattr(importlib.import_module(homes[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
