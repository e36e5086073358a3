"""What the gallery commands share: their options, loading the model, opening the gallery.

``--gallery`` is a file (SQLite) or a ``postgresql://`` URL (PostgreSQL + pgvector); a
URL's password never appears in output or errors (give it in the URL, or in libpq's
``PGPASSWORD`` / ``~/.pgpass`` to keep it off the command line).

A gallery remembers the bundle it was enrolled with, so ``--model`` can be left out after
the first enrollment; the model is still checked (bundle sha256, then the gallery's).
Face options (``--face-mode``, ``--detector``) are the runtime commands' own
(:func:`bioverify.cli.runtime_options.face_options`); use the same ones to enroll and to
search.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from bioverify.cli.runtime_options import load_runtime_verifier
from bioverify.errors import GalleryError, InvalidInput, ModelError
from bioverify.gallery import Decision, Gallery, GalleryVerifier
from bioverify.gallery.store import is_url, redact, store_exists

F = TypeVar("F", bound=Callable[..., Any])

_OPEN_UNIT = click.FloatRange(0.0, 1.0, min_open=True, max_open=True)


class GalleryLocation(click.ParamType):
    """A gallery file path (as :class:`Path`) or a ``postgresql://`` URL (as ``str``)."""

    name = "GALLERY"

    def convert(self, value: Any, param: Any, ctx: Any) -> Path | str:
        if isinstance(value, Path) or is_url(value):
            return value
        path = Path(value)
        if path.is_dir():
            self.fail(f"{path}: a folder; give a gallery file or a postgresql:// URL", param, ctx)
        return path


GALLERY = GalleryLocation()


def gallery_option(function: F) -> F:
    return click.option(
        "--gallery",
        "location",
        required=True,
        type=GALLERY,
        help="Gallery: a file (SQLite, created 0600 by the first enrollment) or a "
        "postgresql://user@host/db URL (PostgreSQL with pgvector; ?schema=NAME).",
    )(function)


def model_option(function: F) -> F:
    return click.option(
        "--model",
        type=click.Path(path_type=Path),
        default=None,
        help="Model bundle (folder or .zip), or face / voice for the packaged default models. "
        "Default: the one the gallery remembers.",
    )(function)


def decision_options(function: F) -> F:
    """--calibration, --far and --threshold, as for ``bioverify verify``."""
    for option in reversed(
        [
            click.option(
                "--calibration",
                # no exists=True: a missing file is the runtime's one-line CalibrationError,
                # not click's three-line usage error
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="Calibration JSON. Default: the bundle's calibration.json.",
            ),
            click.option(
                "--far",
                type=_OPEN_UNIT,
                default=None,
                help="Use the calibration's threshold at this target FAR (e.g. 0.001). "
                "Default: its first FAR operating point.",
            ),
            click.option(
                "--threshold",
                type=float,
                default=None,
                help="Explicit threshold instead of a calibrated operating point "
                "(error rates unknown).",
            ),
        ]
    ):
        function = option(function)
    return function


def json_option(function: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print JSON.")(function)


def load_verifier(
    model: Path, face_mode: str = "auto", detector: str | None = None, **options: Any
) -> GalleryVerifier:
    """Load a bundle (onnxruntime is imported on this first use)."""
    return load_runtime_verifier(model, face_mode, detector, **options)


def resolve_bundle(model: Path) -> Path:
    """``face`` / ``voice`` → the packaged default bundle's folder (what a gallery then
    remembers); a bundle path as given."""
    from bioverify.verify.api import resolve_model

    return Path(resolve_model(model))


def remembered_model(location: Path | str) -> Path:
    """The bundle a gallery was enrolled with, if it is still there."""
    with Gallery(location) as gallery:
        bundle, where = gallery.bundle_path, gallery.location
    if bundle is None:
        raise GalleryError(f"{where}: the gallery remembers no model; pass --model")
    if not bundle.exists():
        raise ModelError(
            f"{where}: the gallery's model {bundle} is not there any more; pass --model"
        )
    return bundle


def open_gallery(
    location: Path | str,
    model: Path | None,
    face_mode: str = "auto",
    detector: str | None = None,
    **options: Any,
) -> Gallery:
    """The gallery with its model loaded (``model`` or the remembered one); ``options``
    go to ``Verifier.load`` (calibration, operating_point, threshold)."""
    if model is None and not store_exists(location):
        raise GalleryError(
            f"{redact(location)}: no gallery there; enroll with --model to create one"
        )
    model = None if model is None else resolve_bundle(model)
    bundle = model if model is not None else remembered_model(location)
    options = {key: value for key, value in options.items() if value is not None}
    verifier = load_verifier(bundle, face_mode, detector, **options)
    return Gallery(location, verifier, bundle_path=model)


def verify_claim(
    location: Path | str | None,
    identity: str | None,
    inputs: Sequence[Path],
    model: Path | None,
    face_mode: str = "auto",
    detector: str | None = None,
    **options: Any,
) -> Decision:
    """``bioverify verify --gallery G --id ID FILE``: 1:1 against an enrolled identity."""
    if location is None or identity is None:
        raise InvalidInput("--gallery and --id go together: the gallery and the claimed identity")
    if len(inputs) != 1:
        raise InvalidInput(f"verify --gallery --id needs one input, got {len(inputs)}")
    with open_gallery(location, model, face_mode, detector, **options) as gallery:
        return gallery.verify(identity, inputs[0])


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, allow_nan=False))


def quality_text(quality: dict[str, Any]) -> str:
    """A short description of an acquisition's quality facts."""
    if quality.get("face_size") is not None:
        return f"face {quality['face_size']} px"
    if quality.get("speech_seconds") is not None:
        return f"{float(quality['speech_seconds']):.1f} s of speech"
    return ""


__all__ = [
    "GALLERY",
    "GalleryLocation",
    "decision_options",
    "echo_json",
    "gallery_option",
    "json_option",
    "load_verifier",
    "model_option",
    "open_gallery",
    "quality_text",
    "remembered_model",
    "verify_claim",
]
