"""Options and helpers shared by the runtime commands (verify, evaluate, calibrate --model).

Kept free of heavy imports: the runtime itself is imported inside the commands.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from bioverify.datasets.trials import TrialProtocol

if TYPE_CHECKING:
    from bioverify.verify.verifier import Verifier

F = TypeVar("F", bound=Callable[..., Any])

#: the face modes of :mod:`bioverify.verify.face_input` (repeated to keep --help light)
FACE_MODES = ("auto", "aligned", "detect")
SPLIT_PARTS = ("test", "val", "train")
#: the devices of :mod:`bioverify.verify.session` (repeated to keep --help light)
DEVICES = ("auto", "cpu", "cuda")
#: the choices of :mod:`bioverify.verify.score_norm` (repeated to keep --help light)
SCORE_NORMS = ("bundle", "none")
_PROTOCOL = TrialProtocol()


def face_options(function: F) -> F:
    """--face-mode and --detector."""
    function = click.option(
        "--detector",
        default=None,
        help="Face detector: 'yunet' (the shipped model; default for models aligned on its "
        "five landmarks, such as the default one), 'haar' (OpenCV's cascade; default for "
        "older models) or a YuNet .onnx file.",
    )(function)
    return click.option(
        "--face-mode",
        type=click.Choice(FACE_MODES),
        default="auto",
        show_default=True,
        help="Faces: detect in photos, treat images as aligned crops, or auto (detect, else "
        "aligned when the image has the aligned frame's shape).",
    )(function)


def _remember_score_norm(ctx: click.Context, _: click.Parameter, value: str) -> str:
    ctx.meta["bioverify.score_norm"] = value
    return value


def device_option(function: F) -> F:
    """--device: where onnxruntime runs the model; and --score-norm, which
    :func:`load_runtime_verifier` reads from the click context (every command that loads a
    model has both)."""
    function = click.option(
        "--score-norm",
        type=click.Choice(SCORE_NORMS),
        default="bundle",
        show_default=True,
        expose_value=False,
        callback=_remember_score_norm,
        help="Scores: the bundle's normalisation (AS-Norm against its cohort, when it has "
        "one) or none (raw cosines). A calibration is only used with the scores it was "
        "fitted on.",
    )(function)
    return click.option(
        "--device",
        type=click.Choice(DEVICES),
        default="auto",
        show_default=True,
        help="Where to run the model: cuda when it really works else cpu (auto), or force "
        "one; --device cuda fails with what is missing rather than run slower on the CPU.",
    )(function)


def data_options(function: F) -> F:
    """--data, --split, --split-part."""
    for option in reversed(
        [
            click.option(
                "--data",
                required=True,
                multiple=True,
                type=click.Path(path_type=Path),
                help="Identity folders (one sub-folder per identity) or a CSV manifest; "
                "repeat for several datasets (as given to `bioverify train`).",
            ),
            click.option(
                "--split",
                "split_path",
                type=click.Path(dir_okay=False, path_type=Path),
                default=None,
                help="split.json from `bioverify split`: only identities of --split-part are "
                "used (identity-disjoint from training).",
            ),
            click.option(
                "--split-part",
                type=click.Choice(SPLIT_PARTS),
                default="test",
                show_default=True,
                help="Which part of --split to use.",
            ),
        ]
    ):
        function = option(function)
    return function


def trial_options(function: F) -> F:
    """--max-genuine-per-identity, --max-genuine: the caps on genuine trials when trials are
    made from labelled data; their defaults are :class:`~bioverify.datasets.TrialProtocol`'s."""
    for option in reversed(
        [
            click.option(
                "--max-genuine-per-identity",
                type=click.IntRange(min=1),
                default=_PROTOCOL.max_genuine_per_identity,
                show_default=True,
                help="Genuine trials kept per identity when trials come from labelled data.",
            ),
            click.option(
                "--max-genuine",
                type=click.IntRange(min=1),
                default=_PROTOCOL.max_genuine,
                show_default=True,
                help="Genuine trials kept overall when trials come from labelled data.",
            ),
        ]
    ):
        function = option(function)
    return function


def load_runtime_verifier(
    model: Path, face_mode: str, detector: str | None, **options: Any
) -> Verifier:
    """A :class:`Verifier` for a command (``model`` may be ``face`` or ``voice``, the
    packaged defaults); face options only matter for face models. The score normalisation
    is the command's ``--score-norm`` (``bundle`` outside a command)."""
    from bioverify.verify.verifier import Verifier

    ctx = click.get_current_context(silent=True)
    norm = ctx.meta.get("bioverify.score_norm", "bundle") if ctx is not None else "bundle"
    options.setdefault("score_normalization", norm)
    return Verifier.load(model, face_mode=face_mode, detector=detector, **options)


def pct(rate: float) -> str:
    return f"{100.0 * rate:.3g} %"
