"""``bioverify verify A B``: are two photos / recordings the same person?

Exit code 0 whether they match or not; non-zero only when something went wrong (one line on
stderr).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from bioverify.cli.gallery_common import GALLERY, decision_options, verify_claim
from bioverify.cli.runtime_options import (
    device_option,
    face_options,
    load_runtime_verifier,
    pct,
)
from bioverify.errors import InvalidInput


def _lines(result: dict[str, Any]) -> list[str]:
    threshold = result["threshold"]
    where = f" ({result['operating_point']})" if result["operating_point"] else ""
    lines = [
        f"match        {'yes' if result['match'] else 'no'}",
        f"score        {result['score']:.4f}",
        f"threshold    {threshold if isinstance(threshold, str) else f'{threshold:.4f}'}{where}",
    ]
    if result["far"] is not None:
        far_ci, frr_ci = result["far_ci"], result["frr_ci"]
        lines.append(
            f"expected     FAR {pct(result['far'])} [{pct(far_ci[0])}, {pct(far_ci[1])}], "
            f"FRR {pct(result['frr'])} [{pct(frr_ci[0])}, {pct(frr_ci[1])}]"
        )
        lines.append(f"measured on  {result['measured_on'] or 'the calibration trials'}")
        worst = result["worst_condition"]
        if worst is not None:
            low, high = worst["far_ci"]
            lines.append(
                f"worst case   FAR {pct(worst['far'])} [{pct(low)}, {pct(high)}] in the "
                f"condition {worst['name']} ({worst['n_impostor']:,} impostor trials)"
            )
        lines.append(
            "your data    may differ (other people, cameras, microphones): measure it with "
            "bioverify calibrate --check --data DIR"
        )
    if result["probability"] is not None:
        lines.append(
            f"probability  {result['probability']:.4f} same identity at prior "
            f"{result['prior']:g} (LLR {result['llr']:.3f})"
        )
    if result["threshold_llr"] is not None:
        lines.append(
            f"decision     match when LLR >= {result['threshold_llr']:.3f}: the threshold is "
            f"the even-odds decision at prior {result['threshold_prior']:.3g}, not "
            f"{result['prior']:g}"
        )
    lines += [f"warning: {w}; the rates above may not hold" for w in result["quality_warnings"]]
    lines += [f"note: {note}" for note in result["notes"]]
    return lines


@click.command("verify")
@click.argument("inputs", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--model",
    type=click.Path(path_type=Path),
    default=None,
    help="Model bundle (folder, bundle.json or .zip), or face / voice for the packaged "
    "default models. Default: the packaged model for the inputs' kind (image or audio).",
)
@decision_options
@face_options
@device_option
@click.option(
    "--gallery",
    "location",
    type=GALLERY,
    default=None,
    help="With --id: verify ONE input against an identity enrolled in this gallery.",
)
@click.option("--id", "identity", default=None, help="The claimed identity (with --gallery).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify(
    inputs: tuple[Path, ...],
    model: Path | None,
    calibration: Path | None,
    far: float | None,
    threshold: float | None,
    face_mode: str,
    detector: str | None,
    device: str,
    location: Path | str | None,
    identity: str | None,
    as_json: bool,
) -> None:
    """Decide whether INPUTS (two photos or two recordings: A B) show the same person.

    With --gallery G --id ID, INPUTS is one sample, compared with ID's enrolled templates
    (--model then defaults to the gallery's own model).
    """
    if location is not None or identity is not None:
        claim = verify_claim(
            location,
            identity,
            inputs,
            model,
            face_mode,
            detector,
            calibration=calibration,
            operating_point=far,
            threshold=threshold,
            device=device,
        )
        _print(claim.to_dict(), as_json)
        return
    if len(inputs) != 2:
        raise InvalidInput(f"verify needs two inputs A B, got {len(inputs)}")
    a, b = inputs
    if model is None:
        from bioverify.verify.api import default_bundle
        from bioverify.verify.inputs import input_modality

        model = default_bundle(input_modality(a))
    verifier = load_runtime_verifier(
        model,
        face_mode,
        detector,
        calibration=calibration,
        operating_point=far,
        threshold=threshold,
        device=device,
    )
    _print(verifier.verify(a, b).to_dict(), as_json)


def _print(result: dict[str, Any], as_json: bool) -> None:
    if as_json:
        click.echo(json.dumps(result, indent=2, allow_nan=False))
        return
    for line in _lines(result):
        click.echo(line)


__all__ = ["verify"]
