"""``bioverify verify A B``: are two photos / recordings the same person?

Exit code 0 whether they match or not; non-zero only when something went wrong (one line on
stderr).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from bioverify.cli import options
from bioverify.cli.render import echo_json, echo_lines, verification_lines
from bioverify.errors import InvalidInput
from bioverify.gallery import Decision, Gallery


@click.command("verify")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@options.model(
    default=None,
    help="Model bundle (folder, bundle.json or .zip), or face / voice / voice-int8 for the "
    "packaged models. Default: the packaged model for the inputs' kind (image or audio).",
)
@options.decision
@options.model_settings
@options.gallery(
    required=False,
    default=None,
    help="With --id: verify ONE input against an identity enrolled in this gallery.",
)
@click.option("--id", "identity", default=None, help="The claimed identity (with --gallery).")
@options.json_output
def verify(
    inputs: tuple[Path, ...],
    model: Path | None,
    calibration: Path | None,
    far: float | None,
    threshold: float | None,
    settings: dict[str, Any],
    location: Path | str | None,
    identity: str | None,
    as_json: bool,
) -> None:
    """Decide whether INPUTS (two photos or two recordings: A B) show the same person.

    With --gallery G --id ID, INPUTS is one sample, compared with ID's enrolled templates
    (--model then defaults to the gallery's own model).
    """
    settings = {
        "calibration": calibration,
        "operating_point": far,
        "threshold": threshold,
        **settings,
    }
    result: Decision
    if location is not None or identity is not None:
        if location is None or identity is None:
            raise InvalidInput(
                "--gallery and --id go together: the gallery and the claimed identity"
            )
        if len(inputs) != 1:
            raise InvalidInput(f"verify --gallery --id needs one input, got {len(inputs)}")
        with Gallery.open(location, model, **settings) as gallery:
            result = gallery.verify(identity, inputs[0])
    else:
        if len(inputs) != 2:
            raise InvalidInput(f"verify needs two inputs A B, got {len(inputs)}")
        from bioverify.verify.defaults import default_bundle
        from bioverify.verify.inputs import input_modality
        from bioverify.verify.verifier import Verifier

        a, b = inputs
        bundle = model if model is not None else default_bundle(input_modality(a))
        result = Verifier.load(bundle, **settings).verify(a, b)
    if as_json:
        echo_json(result.to_dict())
    else:
        echo_lines(verification_lines(result))


__all__ = ["verify"]
