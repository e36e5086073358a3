"""One hierarchy of typed errors.

Every error bioverify raises on purpose derives from :class:`BioverifyError`. Messages say
what was wrong and what to do; the CLI prints them as one line and exits non-zero.
"""

from __future__ import annotations


class BioverifyError(Exception):
    """Base class of every error bioverify raises on purpose."""

    #: process exit code the CLI uses for this kind of error
    exit_code: int = 1


class InvalidInput(BioverifyError, ValueError):
    """An argument, array, file or table is malformed (wrong shape, NaN, missing column…)."""

    exit_code = 2


class DataError(InvalidInput):
    """A dataset folder, manifest or split file is unusable or violates identity-disjointness."""


class NoFaceFound(BioverifyError):
    """No face could be found in an image (a failure to acquire)."""

    exit_code = 3


class NoSpeechFound(BioverifyError):
    """A recording holds too little speech to embed (a failure to acquire)."""

    exit_code = 3


class ModelMismatch(BioverifyError):
    """A calibration, gallery or checkpoint was made with another model."""

    exit_code = 4


class CalibrationError(BioverifyError):
    """Scores cannot be calibrated, or a calibration file is invalid or foreign."""

    exit_code = 5


class GalleryError(BioverifyError):
    """A gallery file is corrupt, foreign, or an operation on it failed."""

    exit_code = 6


class GalleryUnavailable(GalleryError):
    """The gallery's database server cannot be reached (down, unreachable, overloaded);
    trying again later may succeed."""


class UnknownIdentity(GalleryError, KeyError):
    """The gallery holds no identity of that name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ModelError(BioverifyError):
    """A model bundle or checkpoint is missing, unreadable or inconsistent."""

    exit_code = 7


class MissingDependency(BioverifyError):
    """An optional dependency (for example the ``train`` extra) is not installed."""

    exit_code = 8


class ExportError(ModelError):
    """Exporting a checkpoint failed: the ONNX model lost a dynamic axis, or its output
    differs from the torch model's (parity check)."""

    exit_code = 9


__all__ = [
    "BioverifyError",
    "CalibrationError",
    "DataError",
    "ExportError",
    "GalleryError",
    "GalleryUnavailable",
    "InvalidInput",
    "MissingDependency",
    "ModelError",
    "ModelMismatch",
    "NoFaceFound",
    "NoSpeechFound",
    "UnknownIdentity",
]
