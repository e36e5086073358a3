"""The ``bioverify`` command line: thin click commands over the library.

Each sub-command lives in its own module and is registered on :data:`cli`. Errors from
:mod:`bioverify.errors` become one line on stderr and the error's exit code, never a
traceback.
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from bioverify import __version__
from bioverify.errors import BioverifyError


class _Group(click.Group):
    """A click group that turns bioverify errors into one line and an exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except BioverifyError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            sys.exit(130)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="bioverify")
def cli() -> None:
    """Face and speaker verification with calibrated thresholds."""
    _quiet_opencv()


def _quiet_opencv() -> None:
    """Silence OpenCV's own warnings (e.g. "PNG input buffer is incomplete").

    bioverify reports every decoding failure itself as one line; OpenCV's log would add a
    second. A user's ``OPENCV_LOG_LEVEL`` still wins.
    """
    if "OPENCV_LOG_LEVEL" not in os.environ:
        import cv2

        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


#: the sub-command modules, each defining the command of its own name (imported once the
#: group exists, since they import this package)
_COMMANDS = (
    "calibrate",
    "cohort",
    "drift",
    "split",
    "train",
    "export",
    "enroll",
    "identify",
    "gallery",
    "verify",
    "evaluate",
    "info",
)


def _register() -> None:
    for name in _COMMANDS:
        cli.add_command(getattr(importlib.import_module(f"bioverify.cli.{name}"), name))


_register()


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="bioverify")
