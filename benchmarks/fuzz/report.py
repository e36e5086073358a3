"""Write ``benchmarks/results/reliability.md`` and ``.json`` from a fuzz campaign's
``summary.json`` and a fault campaign's JSON:
``python -m benchmarks.fuzz.report FUZZ_DIR/summary.json FAULTS.json``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from benchmarks.fuzz.campaign import markdown as fuzz_table
from benchmarks.fuzz.faults import markdown as fault_table
from benchmarks.fuzz.seeds import ROOT


def _concurrency(concurrency: dict[str, Any]) -> str:
    installs = concurrency["two_calibration_installs"]
    backup = concurrency["identify_during_backup"]
    reembed = concurrency.get("identify_during_reembed")
    reembed_row = (
        f"| identify with the old and the new model while another process runs `gallery "
        f"reembed` back and forth | {reembed['reembeds']} re-embeddings | "
        f"{reembed['identifications']} identifications, {reembed['refused_other_model']} "
        f"refused (`ModelMismatch`: the gallery was on the other model) | {reembed['wrong']} |\n"
        if reembed
        else ""
    )
    return (
        "| check | writes | reads | reads that were neither the old nor a new state |\n"
        "|---|---:|---:|---:|\n"
        f"| two processes install calibrations at once, a third loads the file | "
        f"{installs['writes']} | {installs['reads']} | {installs['mixed']} |\n"
        f"| identify + read the backup while another process writes `gallery export` | "
        f"{backup['backups']} | {backup['identifications']} identifications, "
        f"{backup['backup_reads']} backup reads | {backup['wrong']} |\n"
        f"{reembed_row}"
    )


def write(fuzz: dict[str, Any], faults: dict[str, Any], out: Path, notes: str) -> None:
    """The Markdown page and the JSON of both campaigns."""
    totals = {
        k: sum(row[k] for row in fuzz["kinds"].values())
        for k in ("cases", "untyped", "crash", "hang", "memory")
    }
    peak = max(row["peak_mb"] for row in fuzz["kinds"].values())
    slowest = max(row["max_seconds"] for row in fuzz["kinds"].values())
    text = f"""# Reliability: fuzz and fault campaign

What is guaranteed and how it is tested: [docs/reliability.md](../../docs/reliability.md).
{notes}

## Fuzz campaign

`{fuzz["command"]}`

{totals["cases"]:,} cases in all: {totals["untyped"]} untyped errors, {totals["crash"]}
crashes, {totals["hang"]} hangs (> 10 s), {totals["memory"]} memory blow-ups (> 2 GB RSS);
slowest case {slowest:.2f} s, highest peak RSS of the worker during a case {peak:.0f} MB
(the default face and voice models loaded: about 230 MB before any case).

{fuzz_table(fuzz)}
Seeds: {"; ".join(f"{k}: {v}" for k, v in fuzz["seeds"].items())}.

## Write paths: SIGKILL and injected OS errors

`{faults["command"]}`

{fault_table(faults)}
Injected errors: {", ".join("os." + c for c in ("open", "write", "fsync", "replace"))} failing
with ENOSPC, EIO, EACCES (a read-only folder) or EROFS, on the first, second or third call
of a write (21 per path). A right outcome: a one-line typed error naming the OS error, the
previous version still loads, no temporary file left; or, when the failing call came after
the rename (the folder's fsync), the new version.

## Concurrency

{_concurrency(faults["concurrency"]) if "concurrency" in faults else "not run"}"""
    (out / "reliability.md").write_text(text)
    (out / "reliability.json").write_text(
        json.dumps({"fuzz": fuzz, "faults": faults}, indent=1) + "\n"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("fuzz_summary", type=Path)
    parser.add_argument("faults", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--notes", default="", help="Markdown put under the title")
    args = parser.parse_args(argv)
    write(
        json.loads(args.fuzz_summary.read_text()),
        json.loads(args.faults.read_text()),
        args.out,
        args.notes,
    )


if __name__ == "__main__":
    main()
