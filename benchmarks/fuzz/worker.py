"""The campaign's worker process: reads one JSON case per line on stdin, runs it through
the public API and answers one JSON line: ``outcome`` (``ok``, ``typed`` or ``untyped``),
the error, the seconds taken and the process's peak memory during the case."""

from __future__ import annotations

import contextlib
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from benchmarks.fuzz.seeds import AUDIO_KINDS, FACES, IMAGE_KINDS
from bioverify.errors import BioverifyError


def _peak_reset() -> None:
    """Reset the kernel's peak-RSS mark (VmHWM) so it measures this case alone."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Targets:
    """The public API call of each input kind (models are loaded on first use)."""

    def __init__(self) -> None:
        self._verifiers: dict[str, Any] = {}

    def verifier(self, modality: str) -> Any:
        if modality not in self._verifiers:
            from bioverify.verify.api import default_bundle, load_verifier

            self._verifiers[modality] = load_verifier(default_bundle(modality))
        return self._verifiers[modality]

    def run(self, kind: str, path: str) -> str:
        if kind in IMAGE_KINDS:
            return str(self.verifier("face").embed([path]).shape)
        if kind in AUDIO_KINDS:
            return str(self.verifier("voice").embed([path]).shape)
        if kind == "scores_csv":
            from bioverify.calibration.scores_csv import read_scores_csv

            return f"{len(read_scores_csv(path).scores)} rows"
        if kind == "calibration":
            from bioverify.calibration.calibration_file import Calibration

            return str(Calibration.load(path).model_sha256)
        if kind == "bundle":
            from bioverify.bundle import load_bundle

            return str(load_bundle(Path(path).parent).modality)
        if kind == "gallery":
            from bioverify.gallery import Gallery

            with Gallery(path, self.verifier("face")) as gallery:
                return str(gallery.identify(FACES[0]).decision)
        raise ValueError(f"unknown kind {kind}")


def main() -> None:
    targets = Targets()
    for modality in ("face", "voice"):  # model loading is not part of any case
        targets.verifier(modality)
    print("ready", flush=True)
    for line in sys.stdin:
        case = json.loads(line)
        _peak_reset()
        start = time.perf_counter()
        try:
            detail = targets.run(case["kind"], case["path"])
            outcome = "ok"
        except BioverifyError as exc:
            outcome, detail = "typed", f"{type(exc).__name__}: {exc}"
        except Exception as exc:
            outcome = "untyped"
            detail = "".join(traceback.format_exception_only(exc)).strip()
            detail += " | " + traceback.format_tb(exc.__traceback__)[-1].strip().replace("\n", " ")
        answer = {
            "outcome": outcome,
            "detail": detail[:500],
            "seconds": round(time.perf_counter() - start, 4),
            "peak_mb": round(_peak_mb(), 1),
        }
        sys.stdout.write(json.dumps(answer) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
