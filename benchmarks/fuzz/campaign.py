"""Run the fuzz campaign: ``python -m benchmarks.fuzz.campaign --cases 10000``.

Case ``k`` of a kind is seed ``k % seeds`` mutated with ``random.Random(f"{kind}:{k}")``,
so any case can be rebuilt from its number. Each case goes to a worker process
(:mod:`benchmarks.fuzz.worker`) watched by this one: a case over ``--timeout`` seconds is a
hang, a worker whose resident memory passes ``--max-rss-mb`` is killed and the case is a
memory blow-up, a worker that dies is a crash; the worker is restarted and the campaign goes
on. Every case is appended to ``<out>/cases.jsonl`` as it finishes (a rerun resumes after
the cases already there) and inputs that failed are kept in ``<out>/failures/``. The
summary goes to ``<out>/summary.json`` (and ``--markdown``).
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import selectors
import shlex
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.fuzz.mutate import mutate
from benchmarks.fuzz.seeds import (
    KINDS,
    ROOT,
    SUFFIX,
    bundle_folder,
    child_env,
    describe_seeds,
    seeds,
)

#: outcomes that are failures of the library (the others: ok, typed)
FAILURES = ("untyped", "crash", "hang", "memory")


def _rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class Worker:
    """A worker subprocess with an address-space limit, a timeout and an RSS watchdog."""

    def __init__(self, max_rss_mb: float, address_space_mb: float) -> None:
        self.max_rss_mb = max_rss_mb
        self.address_space_mb = address_space_mb
        self.process: subprocess.Popen[str] | None = None

    def _start(self) -> subprocess.Popen[str]:
        limit = int(self.address_space_mb * 2**20)

        def limits() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))

        env = child_env()
        return subprocess.Popen(
            [sys.executable, "-m", "benchmarks.fuzz.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            cwd=ROOT,
            env=env,
            preexec_fn=limits,
        )

    def run(self, kind: str, path: Path, timeout: float) -> dict[str, Any]:
        if self.process is None or self.process.poll() is not None:
            self.process = self._start()
            assert self.process.stdout is not None
            # the worker loads both default models before its first case, then says so
            if self.process.stdout.readline().strip() != "ready":
                raise RuntimeError("the fuzz worker did not start; run benchmarks.fuzz.worker")
        return self._ask(kind, path, timeout)

    def _ask(self, kind: str, path: Path, timeout: float) -> dict[str, Any]:
        process = self.process
        assert process is not None and process.stdin is not None and process.stdout is not None
        case = {"kind": kind, "path": str(path)}
        start, peak = time.perf_counter(), 0.0
        try:
            process.stdin.write(json.dumps(case) + "\n")
            process.stdin.flush()
        except BrokenPipeError:
            return self._dead("crash", start, peak)
        selector = selectors.DefaultSelector()
        selector.register(process.stdout, selectors.EVENT_READ)
        while True:
            if selector.select(timeout=0.02):
                line = process.stdout.readline()
                if not line:
                    return self._dead("crash", start, peak)
                answer: dict[str, Any] = json.loads(line)
                answer["peak_mb"] = max(answer.get("peak_mb", 0.0), peak)
                return answer
            peak = max(peak, _rss_mb(process.pid))
            if peak > self.max_rss_mb:
                return self._dead("memory", start, peak)
            if time.perf_counter() - start > timeout:
                return self._dead("hang", start, peak)

    def _dead(self, outcome: str, start: float, peak: float) -> dict[str, Any]:
        assert self.process is not None
        self.process.kill()
        code = self.process.wait()
        self.process = None
        return {
            "outcome": outcome,
            "detail": f"worker exit status {code}",
            "seconds": round(time.perf_counter() - start, 4),
            "peak_mb": round(peak, 1),
        }

    def close(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()


def _done(log: Path) -> dict[str, set[int]]:
    done: dict[str, set[int]] = defaultdict(set)
    if log.exists():
        for line in log.read_text().splitlines():
            try:
                record = json.loads(line)
            except ValueError:  # a line cut short by a kill: that case runs again
                continue
            done[record["kind"]].add(record["case"])
    return done


def run_campaign(
    kinds: list[str],
    cases: int,
    out: Path,
    timeout: float,
    max_rss_mb: float,
    address_space_mb: float,
    budget_s: float | None = None,
) -> None:
    """Run cases ``0..cases-1`` of each kind, interleaved, skipping those already logged."""
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    work.mkdir(exist_ok=True)
    (out / "failures").mkdir(exist_ok=True)
    log = out / "cases.jsonl"
    done = _done(log)
    pool = {kind: seeds(kind, work) for kind in kinds}
    worker = Worker(max_rss_mb, address_space_mb)
    deadline = None if budget_s is None else time.monotonic() + budget_s
    try:
        with log.open("a") as handle:
            for k in range(cases):
                for kind in kinds:
                    if k in done[kind]:
                        continue
                    if deadline is not None and time.monotonic() > deadline:
                        return
                    data = mutate(
                        kind, pool[kind][k % len(pool[kind])], random.Random(f"{kind}:{k}")
                    )
                    if kind == "bundle":
                        path = bundle_folder(work, data) / "bundle.json"
                    else:
                        path = work / f"case{SUFFIX[kind]}"
                        path.write_bytes(data)
                    answer = worker.run(kind, path, timeout)
                    record = {"kind": kind, "case": k, "bytes": len(data), **answer}
                    if answer["outcome"] in FAILURES or answer["seconds"] > timeout / 2:
                        (out / "failures" / f"{kind}-{k}{SUFFIX[kind]}").write_bytes(data)
                    handle.write(json.dumps(record) + "\n")
                    handle.flush()
    finally:
        worker.close()


def summarise(out: Path, command: str) -> dict[str, Any]:
    """Per-kind counts, worst time and peak memory from ``<out>/cases.jsonl``."""
    kinds: dict[str, dict[str, Any]] = {}
    failures = []
    for line in (out / "cases.jsonl").read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        row = kinds.setdefault(
            record["kind"],
            {
                "cases": 0,
                "ok": 0,
                "typed": 0,
                "untyped": 0,
                "crash": 0,
                "hang": 0,
                "memory": 0,
                "max_seconds": 0.0,
                "peak_mb": 0.0,
            },
        )
        row["cases"] += 1
        row[record["outcome"]] += 1
        row["max_seconds"] = max(row["max_seconds"], record["seconds"])
        row["peak_mb"] = max(row["peak_mb"], record["peak_mb"])
        if record["outcome"] in FAILURES:
            failures.append(record)
    summary = {
        "command": command,
        "seeds": describe_seeds(),
        "kinds": kinds,
        "failures": failures[:200],
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def markdown(summary: dict[str, Any]) -> str:
    """The summary as a Markdown table."""
    lines = [
        "| input kind | cases | ok | typed error | untyped error | crash | hang (> timeout) | "
        "memory blow-up | slowest case (s) | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, row in summary["kinds"].items():
        lines.append(
            f"| {kind} | {row['cases']} | {row['ok']} | {row['typed']} | {row['untyped']} | "
            f"{row['crash']} | {row['hang']} | {row['memory']} | {row['max_seconds']:.2f} | "
            f"{row['peak_mb']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated input kinds")
    parser.add_argument("--cases", type=int, default=10_000, help="cases per kind")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/fuzz")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per case")
    parser.add_argument("--max-rss-mb", type=float, default=2048.0)
    parser.add_argument(
        "--address-space-mb",
        type=float,
        default=8192.0,
        help="RLIMIT_AS of the worker (a backstop above --max-rss-mb)",
    )
    parser.add_argument("--budget-s", type=float, default=None, help="stop after this long")
    args = parser.parse_args(argv)
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
    run_campaign(
        kinds,
        args.cases,
        args.out,
        args.timeout,
        args.max_rss_mb,
        args.address_space_mb,
        args.budget_s,
    )
    summary = summarise(
        args.out,
        "python -m benchmarks.fuzz.campaign " + shlex.join(sys.argv[1:] if argv is None else argv),
    )
    print(markdown(summary))


if __name__ == "__main__":
    main()
