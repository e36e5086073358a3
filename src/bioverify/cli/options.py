"""The command-line options that several commands share, each declared once.

Module-level decorators, as pip-tools' ``scripts/options.py``: a command stacks the ones it
takes (``@options.model_settings``, ``@options.data``…). An option whose help or requiredness
differs between commands is a function taking click's keyword overrides
(``options.data(required=False, help=...)``). Their destinations are the commands'
parameter names, except :data:`model_settings`, which hands its four options to the
command as one ``settings`` keyword (``Verifier.load(model, **settings)``). Kept free of
heavy imports: ``--help`` loads no model runtime.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

from bioverify.datasets.trials import TrialProtocol
from bioverify.gallery.store import is_url

F = TypeVar("F", bound=Callable[..., Any])

#: the face modes of :mod:`bioverify.verify.face_input` (repeated to keep --help light)
FACE_MODES = ("auto", "aligned", "detect")
SPLIT_PARTS = ("test", "val", "train")
#: the devices of :mod:`bioverify.verify.session` (repeated to keep --help light)
DEVICES = ("auto", "cpu", "cuda")
#: the choices of :mod:`bioverify.verify.score_norm` (repeated to keep --help light)
SCORE_NORMS = ("bundle", "none")
#: a rate strictly between 0 and 1
OPEN_UNIT = click.FloatRange(0.0, 1.0, min_open=True, max_open=True)
#: a file (not a folder), handed to the command as a :class:`Path`
FILE = click.Path(dir_okay=False, path_type=Path)
_PROTOCOL = TrialProtocol()


def count(*decls: str, minimum: int, default: int, help: str | None = None) -> Any:
    """A whole-number option of at least ``minimum``; --help shows its default."""
    return click.option(
        *decls, type=click.IntRange(min=minimum), default=default, show_default=True, help=help
    )


def seed(help: str | None = None) -> Any:
    """--seed: a random seed, 0 by default."""
    return count("--seed", minimum=0, default=0, help=help)


def stack(*decorators: Callable[[Any], Any]) -> Callable[[F], F]:
    """One decorator applying ``decorators`` so that their options are listed in
    ``--help`` in the order given."""

    def apply(function: F) -> F:
        for decorator in reversed(decorators):
            function = decorator(function)
        return function

    return apply


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


# -- the model and how it runs -------------------------------------------------------------


def model(**overrides: Any) -> Callable[[F], F]:
    """--model: a bundle path, or ``face`` / ``voice`` (each command words its help)."""
    return click.option("--model", **{"type": click.Path(path_type=Path), **overrides})


def _choice(flag: str, choices: tuple[str, ...], default: str, help: str) -> Any:
    return click.option(
        flag, type=click.Choice(choices), default=default, show_default=True, help=help
    )


face_mode = _choice(
    "--face-mode",
    FACE_MODES,
    "auto",
    "Faces: detect in photos, treat images as aligned crops, or auto (detect, else "
    "aligned when the image has the aligned frame's shape).",
)
detector = click.option(
    "--detector",
    default=None,
    help="Face detector: 'yunet' (the shipped model; default for models aligned on its "
    "five landmarks, such as the default one), 'haar' (OpenCV's cascade; default for "
    "older models) or a YuNet .onnx file.",
)

face_index = click.option(
    "--face-index",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Photos with several faces: which one to use, by prominence (0: the largest, or "
    "one about as large nearer the centre; 1: the next…), in every photo the command reads.",
)
device = _choice(
    "--device",
    DEVICES,
    "auto",
    "Where to run the model: cuda when it really works else cpu (auto), or force "
    "one; --device cuda fails with what is missing rather than run slower on the CPU.",
)
score_norm = _choice(
    "--score-norm",
    SCORE_NORMS,
    "bundle",
    "Scores: the bundle's normalisation (AS-Norm against its cohort, when it has "
    "one) or none (raw cosines). A calibration is only used with the scores it was "
    "fitted on.",
)


def _model_settings(with_score_norm: bool) -> Callable[[F], F]:
    def decorate(function: F) -> F:
        @functools.wraps(function)
        def command(*args: Any, **kwargs: Any) -> Any:
            kwargs["settings"] = {
                "face_mode": kwargs.pop("face_mode"),
                "detector": kwargs.pop("detector"),
                "face_index": kwargs.pop("face_index"),
                "device": kwargs.pop("device"),
                "score_normalization": kwargs.pop("score_norm", "none"),
            }
            return function(*args, **kwargs)

        flags: tuple[Any, ...] = (face_mode, detector, face_index, device)
        flags += (score_norm,) if with_score_norm else ()
        return stack(*flags)(command)  # type: ignore[return-value]

    return decorate


#: --face-mode, --detector, --face-index, --device and --score-norm, handed to the command as
#: ONE keyword, ``settings``: the keywords of ``Verifier.load`` (and ``Gallery.open``) they mean
model_settings = _model_settings(with_score_norm=True)
#: the same without --score-norm, for commands that need raw scores (``settings`` says
#: ``score_normalization="none"``)
raw_model_settings = _model_settings(with_score_norm=False)


# -- how scores become decisions -----------------------------------------------------------

calibration = click.option(
    "--calibration",
    # no exists=True: a missing file is the runtime's one-line CalibrationError, not
    # click's three-line usage error
    type=FILE,
    default=None,
    help="Calibration JSON. Default: the bundle's calibration.json.",
)


def calibration_file(**overrides: Any) -> Callable[[F], F]:
    """--calibration of the commands that check or compare against one calibration
    (parameter ``calibration_path``; each command words its help)."""
    return click.option(
        "--calibration", "calibration_path", **{"type": FILE, "default": None, **overrides}
    )


def scores(**overrides: Any) -> Callable[[F], F]:
    """--scores: a CSV of trial scores (parameter ``scores_path``)."""
    return click.option("--scores", "scores_path", **{"type": FILE, "default": None, **overrides})


far = click.option(
    "--far",
    type=OPEN_UNIT,
    default=None,
    help="Use the calibration's threshold at this target FAR (e.g. 0.001). "
    "Default: its first FAR operating point.",
)
threshold = click.option(
    "--threshold",
    type=float,
    default=None,
    help="Explicit threshold instead of a calibrated operating point (error rates unknown).",
)
#: --calibration, --far and --threshold
decision = stack(calibration, far, threshold)

# -- labelled data and trials --------------------------------------------------------------


def data(**overrides: Any) -> Callable[[F], F]:
    """--data: identity folders or a CSV manifest, repeatable (required by default)."""
    return click.option(
        "--data",
        **{
            "required": True,
            "multiple": True,
            "type": click.Path(path_type=Path),
            "help": "Identity folders (one sub-folder per identity) or a CSV manifest; "
            "repeat for several datasets (as given to `bioverify train`).",
            **overrides,
        },
    )


def split(**overrides: Any) -> Callable[[F], F]:
    """--split: a split.json (parameter ``split_path``)."""
    return click.option(
        "--split",
        "split_path",
        **{
            "type": FILE,
            "default": None,
            "help": "split.json from `bioverify split`: only identities of --split-part are "
            "used (identity-disjoint from training).",
            **overrides,
        },
    )


def split_part(**overrides: Any) -> Callable[[F], F]:
    """--split-part: which part of --split."""
    return click.option(
        "--split-part",
        **{
            "type": click.Choice(SPLIT_PARTS),
            "default": "test",
            "show_default": True,
            "help": "Which part of --split to use.",
            **overrides,
        },
    )


#: --data, --split and --split-part
data_selection = stack(data(), split(), split_part())


def _genuine_cap(flag: str, default: int, scope: str) -> Any:
    return count(
        flag,
        minimum=1,
        default=default,
        help=f"Genuine trials kept {scope} when trials come from labelled data.",
    )


#: --max-genuine-per-identity and --max-genuine: the caps on genuine trials made from
#: labelled data; their defaults are :class:`~bioverify.datasets.TrialProtocol`'s
trial_caps = stack(
    _genuine_cap("--max-genuine-per-identity", _PROTOCOL.max_genuine_per_identity, "per identity"),
    _genuine_cap("--max-genuine", _PROTOCOL.max_genuine, "overall"),
)

# -- galleries and output ------------------------------------------------------------------


def gallery(**overrides: Any) -> Callable[[F], F]:
    """--gallery: a file or a postgresql:// URL (parameter ``location``; required by
    default)."""
    return click.option(
        "--gallery",
        "location",
        **{
            "required": True,
            "type": GALLERY,
            "help": "Gallery: a file (SQLite, created 0600 by the first enrollment) or a "
            "postgresql://user@host/db URL (PostgreSQL with pgvector; ?schema=NAME).",
            **overrides,
        },
    )


#: --model of the gallery commands: default, the bundle the gallery remembers
gallery_model = model(
    default=None,
    help="Model bundle (folder or .zip), or face / voice / voice-int8 for the packaged models. "
    "Default: the one the gallery remembers.",
)

json_output = click.option("--json", "as_json", is_flag=True, help="Print JSON.")

__all__ = [
    "DEVICES",
    "FACE_MODES",
    "FILE",
    "GALLERY",
    "OPEN_UNIT",
    "SCORE_NORMS",
    "SPLIT_PARTS",
    "GalleryLocation",
    "calibration",
    "calibration_file",
    "count",
    "data",
    "data_selection",
    "decision",
    "detector",
    "device",
    "face_mode",
    "far",
    "gallery",
    "gallery_model",
    "json_output",
    "model",
    "model_settings",
    "raw_model_settings",
    "score_norm",
    "scores",
    "seed",
    "split",
    "split_part",
    "stack",
    "threshold",
    "trial_caps",
]
