"""bioverify: face and speaker verification with calibrated thresholds.

The runtime (this package's top level, ``bioverify.calibration`` and ``bioverify.verify``)
never imports torch; training and export live in ``bioverify.training`` /
``bioverify.export`` and need the ``train`` extra.

``bioverify.verify(a, b, model=...)`` is the one-call check; :class:`Verifier` keeps a model
loaded for many calls and :class:`VerifyResult` is what both return. (The ``bioverify.verify``
*attribute* is that function; the runtime subpackage of the same name is imported with
``from bioverify.verify import …``.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from bioverify import errors
from bioverify.lazy import lazy_attributes
from bioverify.verify.api import verify

if TYPE_CHECKING:
    from bioverify.gallery import Gallery
    from bioverify.verify.result import VerifyResult
    from bioverify.verify.verifier import Verifier

__version__ = "0.1.0"

_LAZY = {
    "Gallery": "bioverify.gallery",
    "Verifier": "bioverify.verify.verifier",
    "VerifyResult": "bioverify.verify.result",
}


__getattr__ = lazy_attributes(__name__, _LAZY)


__all__ = ["Gallery", "Verifier", "VerifyResult", "__version__", "errors", "verify"]
