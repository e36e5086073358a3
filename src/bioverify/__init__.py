"""bioverify: face and speaker verification with calibrated thresholds.

The runtime (this package's top level, ``bioverify.calibration`` and ``bioverify.verify``)
never imports torch; training and export live in ``bioverify.training`` /
``bioverify.export`` and need the ``train`` extra.
"""

from __future__ import annotations

from bioverify import errors

__version__ = "0.1.0"

__all__ = ["__version__", "errors"]
