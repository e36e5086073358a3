"""Fault campaign on the write paths (:mod:`benchmarks.fuzz.write_paths`):
``python -m benchmarks.fuzz.faults --kills 50``.

* **Kills**: a child process writes versions 1, 2, 3… of a path's file; it is killed with
  SIGKILL after a random delay, and the file is read back. It must hold the last version the
  child finished or the one it was writing: a file that no longer loads, or that holds an
  older version, is a *state lost*; a file that loads with any other content is a
  *half-written file accepted*.
* **Injected errors**: ``ENOSPC``, ``EIO``, ``EACCES`` and ``EROFS`` raised by the ``n``-th
  call of ``os.open``, ``os.write``, ``os.fsync`` or ``os.replace`` (``unittest.mock``, at
  the OS-call boundary) during a write. The write must raise a one-line
  :class:`~bioverify.errors.BioverifyError` naming the OS error, the previous version must
  still load, and no temporary file may be left behind. (SQLite does its own I/O below
  Python, so the gallery's enroll path is covered by the kills only.)
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import random
import shlex
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from unittest import mock

from benchmarks.fuzz.seeds import FACES, ROOT, child_env
from benchmarks.fuzz.write_paths import WRITE_PATHS

#: (OS call, errno) pairs injected; EACCES on open stands for a read-only folder
FAULTS = (
    ("write", errno.ENOSPC),
    ("write", errno.EIO),
    ("fsync", errno.EIO),
    ("fsync", errno.ENOSPC),
    ("replace", errno.ENOSPC),
    ("replace", errno.EROFS),
    ("open", errno.EACCES),
)
#: paths whose writes go through Python's os module (the gallery's enroll is SQLite's I/O)
INJECTABLE = ("calibration", "bundle_json", "split", "checkpoint", "gallery_backup")
#: why the other paths get no injected errors here
NOT_INJECTED = {
    "gallery_enroll": "n/a (SQLite I/O)",
    "gallery_remove": "n/a (SQLite I/O)",
    "gallery_reembed": "n/a (SQLite I/O)",
    "export": "in tests/test_export.py (its renames and swap)",
}


def inject(path: str, folder: Path, version: int, call: str, code: int, nth: int) -> dict[str, Any]:
    """Write ``version`` with the ``nth`` call of ``os.<call>`` failing with ``code``."""
    from bioverify.errors import BioverifyError

    write_path = WRITE_PATHS[path]
    before = write_path.read(folder)
    temporary = {p.name for p in folder.iterdir() if p.name.endswith(".tmp")}  # from kills
    real = getattr(os, call)
    calls = 0

    def failing(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == nth:
            raise OSError(code, os.strerror(code))
        return real(*args, **kwargs)

    outcome, message = "no error", ""
    with mock.patch.object(os, call, failing):
        try:
            write_path.write(folder, version)
        except BioverifyError as exc:
            outcome, message = "typed", str(exc)
        except Exception as exc:
            outcome, message = f"untyped {type(exc).__name__}", str(exc)
    after = write_path.read(folder)
    leftovers = sorted(
        p.name for p in folder.iterdir() if p.name.endswith(".tmp") and p.name not in temporary
    )
    if outcome == "no error":  # the call failed after the rename (the folder's fsync), or never
        ok = after == version
    else:
        ok = (
            outcome == "typed"
            and os.strerror(code) in message
            and "\n" not in message
            and after == before
            and not leftovers
        )
    return {
        "path": path,
        "call": call,
        "errno": errno.errorcode[code],
        "nth": nth,
        "outcome": outcome,
        "message": message,
        "state": after,
        "before": before,
        "leftovers": leftovers,
        "ok": ok,
    }


def _child(path: str, folder: Path, start: int) -> None:
    write_path = WRITE_PATHS[path]
    write_path.write(folder, start - 1)  # warm up (imports, model) on the current version
    print("ready", flush=True)
    version = start
    while True:
        write_path.write(folder, version)
        print(version, flush=True)
        version += 1


def _spawn(*args: object, output: bool = False) -> subprocess.Popen[str]:
    """``python -m benchmarks.fuzz.faults ARGS`` as a child process (its stdout piped when
    ``output``, else discarded; its stderr piped)."""
    return subprocess.Popen(
        [sys.executable, "-m", "benchmarks.fuzz.faults", *(str(a) for a in args)],
        stdout=subprocess.PIPE if output else subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=child_env(),
    )


def _start_and_kill(args: list[str], within_s: float, rng: random.Random) -> str:
    """Start ``python -m benchmarks.fuzz.faults ARGS``, wait for its ``ready`` line, SIGKILL
    it after a random ``0..within_s`` seconds; its output after ``ready``."""
    child = _spawn(*args, output=True)
    assert child.stdout is not None
    if child.stdout.readline().strip() != "ready":
        child.kill()
        raise RuntimeError(f"{args} did not start: {child.communicate()[1][-2000:]}")
    time.sleep(rng.uniform(0.0, within_s))
    child.send_signal(signal.SIGKILL)
    return child.communicate()[0]


def kill_once(path: str, folder: Path, start: int, rng: random.Random) -> dict[str, Any]:
    """Start a writing child at version ``start``, SIGKILL it at a random moment, check."""
    args = ["--child", path, str(folder), str(start)]
    out = _start_and_kill(args, WRITE_PATHS[path].kill_within_s, rng)
    finished = [int(line) for line in out.split()]
    last = finished[-1] if finished else start - 1
    try:
        state: int | str = WRITE_PATHS[path].read(folder)
    except Exception as exc:
        state = f"{type(exc).__name__}: {exc}"
    lost = not isinstance(state, int) or state < last
    half = isinstance(state, int) and state > last + 1
    return {
        "path": path,
        "finished": last,
        "state": state,
        "lost": lost,
        "half_written_accepted": half,
    }


def _repeat(path: str, folder: Path, version: int, times: int) -> None:
    for _ in range(times):
        WRITE_PATHS[path].write(folder, version)


def concurrent_installs(writes: int) -> dict[str, Any]:
    """Two processes install calibrations 1000 and 2000, ``writes`` times each, at once,
    while this one loads the file in a loop: every load must give version 0, 1000 or 2000."""
    with tempfile.TemporaryDirectory(prefix="faults-concurrent-") as tmp:
        folder = Path(tmp)
        WRITE_PATHS["calibration"].setup(folder)
        writers = [_spawn("--repeat", "calibration", folder, v, writes) for v in (1000, 2000)]
        reads, mixed = 0, []
        while any(w.poll() is None for w in writers):
            try:
                state: int | str = WRITE_PATHS["calibration"].read(folder)
            except Exception as exc:
                state = f"{type(exc).__name__}: {exc}"
            reads += 1
            if state not in (0, 1000, 2000):
                mixed.append(state)
        errors = [w.communicate()[1][-500:] for w in writers if w.returncode != 0]
        final = WRITE_PATHS["calibration"].read(folder)
    return {
        "writes": 2 * writes,
        "reads": reads,
        "mixed": len(mixed),
        "final": final,
        "writer_errors": errors,
        "examples": mixed[:5],
    }


def identify_during_backup(backups: int) -> dict[str, Any]:
    """A process exports the gallery ``backups`` times while this one identifies and reads
    the backup in a loop: every identification must find ``p0`` and every backup read
    must hold the gallery's one identity."""
    from bioverify.gallery import Gallery

    with tempfile.TemporaryDirectory(prefix="faults-backup-") as tmp:
        folder = Path(tmp)
        WRITE_PATHS["gallery_backup"].setup(folder)
        writer = _spawn("--repeat", "gallery_backup", folder, 0, backups)
        identifications, reads, wrong = 0, 0, []
        with Gallery(folder / "gallery.db", _face_verifier()) as gallery:
            while writer.poll() is None:
                decision = gallery.identify(FACES[0]).decision
                identifications += 1
                if decision != "p0":
                    wrong.append(f"identify gave {decision!r}")
                try:
                    state: int | str = WRITE_PATHS["gallery_backup"].read(folder)
                except Exception as exc:
                    state = f"{type(exc).__name__}: {exc}"
                reads += 1
                if state != 0:
                    wrong.append(f"backup read gave {state!r}")
        error = writer.communicate()[1][-500:] if writer.returncode != 0 else ""
    return {
        "backups": backups,
        "identifications": identifications,
        "backup_reads": reads,
        "wrong": len(wrong),
        "examples": wrong[:5],
        "writer_error": error,
    }


def _face_verifier() -> Any:
    from bioverify.verify.api import default_bundle, load_verifier

    return load_verifier(default_bundle("face"))


def _other_face_model(folder: Path) -> Path:
    """The default face bundle with one more metadata entry in its model: other bytes (so
    another model to a gallery, which must be re-embedded), the same embeddings."""
    import dataclasses

    import onnx

    from bioverify.bundle import MODEL_FILE, file_sha256, load_bundle, write_bundle_json
    from bioverify.verify.api import default_bundle

    source = load_bundle(default_bundle("face"))
    folder.mkdir()
    model = onnx.load(str(source.model_path))
    entry = model.metadata_props.add()
    entry.key, entry.value = "fuzz.copy", "model B"
    onnx.save(model, str(folder / MODEL_FILE))
    write_bundle_json(
        dataclasses.replace(
            source, model_path=folder / MODEL_FILE, model_sha256=file_sha256(folder / MODEL_FILE)
        )
    )
    return folder


def _reembed_models(folder: Path) -> tuple[Any, Any]:
    """The default face model (A) and its copy with other bytes (B, made on first use)."""
    from bioverify.verify.api import load_verifier

    a = _face_verifier()
    if not (folder / "model-b").exists():
        _other_face_model(folder / "model-b")
    return a, load_verifier(folder / "model-b", threshold=a.threshold)


def _reembed_setup(folder: Path) -> tuple[Any, Any]:
    """A gallery of ``p0`` and ``p1`` on model A; models A and B."""
    from bioverify.gallery import Gallery

    a, b = _reembed_models(folder)
    with Gallery(folder / "gallery.db", a) as gallery:
        for k, face in enumerate(FACES[:2]):
            gallery.enroll(f"p{k}", [face])
    return a, b


def _reembed_back_and_forth(folder: Path, rounds: int) -> None:
    """Re-embed the gallery to the other model, ``2 * rounds`` times; print ``ready``, then
    the number of each re-embedding finished."""
    from bioverify.gallery import Gallery

    a, b = _reembed_models(folder)
    other = {a.model_sha256: b, b.model_sha256: a}
    print("ready", flush=True)
    for k in range(2 * rounds):
        with Gallery(folder / "gallery.db") as gallery:
            if not gallery.reembed(other[gallery.model_sha256]).switched:
                raise RuntimeError("reembed did not switch the gallery")
        print(k, flush=True)


def _reembed_state(folder: Path, models: tuple[Any, Any]) -> str | None:
    """None when the gallery passes its check, is on model A or B and finds ``p0`` with
    that model; else what is wrong."""
    from bioverify.gallery import Gallery

    try:
        with Gallery(folder / "gallery.db") as gallery:
            problems, sha = gallery.check(), gallery.model_sha256
        verifier = {m.model_sha256: m for m in models}[sha]
        with Gallery(folder / "gallery.db", verifier) as gallery:
            decision = gallery.identify(FACES[0]).decision
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None if not problems and decision == "p0" else f"{problems} {decision!r}"


def kills_during_reembed(kills: int, rng: random.Random) -> dict[str, Any]:
    """SIGKILL a process re-embedding a gallery back and forth between two models at a
    random moment, ``kills`` times; after each, the gallery must pass its check, be wholly
    on one of the two models and identify its enrolled person."""
    row = {"kills": 0, "writes_completed": 0, "states_lost": 0, "half_written_accepted": 0}
    row |= {"faults": 0, "fault_failures": 0}
    failures = []
    with tempfile.TemporaryDirectory(prefix="faults-reembed-kill-") as tmp:
        folder = Path(tmp)
        models = _reembed_setup(folder)
        for _ in range(kills):
            out = _start_and_kill(["--reembed", str(folder), "1000"], 2.0, rng)
            row["kills"] += 1
            row["writes_completed"] += len(out.split())
            problem = _reembed_state(folder, models)
            if problem is not None:
                row["states_lost"] += 1
                failures.append({"path": "gallery_reembed", "state": problem})
                break
    return {"row": row, "failures": failures}


def identify_during_reembed(rounds: int) -> dict[str, Any]:
    """A process re-embeds a gallery of two people to another model and back, ``rounds``
    times, while this one identifies with each model in a loop: each identification must
    find ``p0`` (the gallery is on that model) or be refused with ``ModelMismatch`` (it is
    on the other) — never another answer, a corrupt-gallery error or a mixed state."""
    from bioverify.errors import ModelMismatch
    from bioverify.gallery import Gallery

    with tempfile.TemporaryDirectory(prefix="faults-reembed-") as tmp:
        folder = Path(tmp)
        a, b = _reembed_setup(folder)
        writer = _spawn("--reembed", folder, rounds)
        counts = {"found": 0, "refused": 0}
        wrong: list[str] = []
        while writer.poll() is None:
            for verifier in (a, b):
                try:
                    with Gallery(folder / "gallery.db", verifier) as gallery:
                        decision = gallery.identify(FACES[0]).decision
                except ModelMismatch:
                    counts["refused"] += 1
                    continue
                except Exception as exc:
                    wrong.append(f"{type(exc).__name__}: {exc}")
                    continue
                if decision == "p0":
                    counts["found"] += 1
                else:
                    wrong.append(f"identify gave {decision!r}")
        error = writer.communicate()[1][-500:] if writer.returncode != 0 else ""
    return {
        "reembeds": 2 * rounds,
        "identifications": counts["found"] + len(wrong),
        "refused_other_model": counts["refused"],
        "wrong": len(wrong),
        "examples": wrong[:5],
        "writer_error": error,
    }


def run(paths: list[str], kills: int, seed: int = 0) -> dict[str, Any]:
    """Kills and injected errors on each path; returns per-path counts and failures."""
    rng = random.Random(seed)
    rows: dict[str, dict[str, Any]] = {}
    failures: list[dict[str, Any]] = []
    for path in paths:
        if path == "gallery_reembed":
            result = kills_during_reembed(kills, rng)
            rows[path] = result["row"]
            failures += result["failures"]
            continue
        row = rows.setdefault(
            path,
            {
                "kills": 0,
                "writes_completed": 0,
                "states_lost": 0,
                "half_written_accepted": 0,
                "faults": 0,
                "fault_failures": 0,
            },
        )
        with tempfile.TemporaryDirectory(prefix=f"faults-{path}-") as tmp:
            folder = Path(tmp)
            WRITE_PATHS[path].setup(folder)
            version = 1
            for _ in range(kills):
                result = kill_once(path, folder, version, rng)
                row["kills"] += 1
                row["writes_completed"] += result["finished"] - version + 1
                row["states_lost"] += result["lost"]
                row["half_written_accepted"] += result["half_written_accepted"]
                if result["lost"] or result["half_written_accepted"]:
                    failures.append(result)
                    break  # the state is gone: the next kills would measure nothing
                version = max(result["finished"], result["state"]) + 2
            if path in INJECTABLE:
                for call, code in FAULTS:
                    for nth in (1, 2, 3):
                        version += 1
                        result = inject(path, folder, version, call, code, nth)
                        row["faults"] += 1
                        if not result["ok"]:
                            row["fault_failures"] += 1
                            failures.append(result)
    return {"paths": rows, "failures": failures}


def markdown(summary: dict[str, Any]) -> str:
    """The per-path table."""
    lines = [
        "| write path | SIGKILLs | writes completed between kills | states lost | "
        "half-written files accepted | injected OS errors | wrong outcomes |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for path, row in summary["paths"].items():
        faults = row["faults"] if path in INJECTABLE else NOT_INJECTED[path]
        lines.append(
            f"| {path} | {row['kills']} | {row['writes_completed']} | "
            f"{row['states_lost']} | {row['half_written_accepted']} | {faults} | "
            f"{row['fault_failures']} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--paths", default=",".join([*WRITE_PATHS, "gallery_reembed"]))
    parser.add_argument("--kills", type=int, default=50, help="SIGKILLs per write path")
    parser.add_argument("--out", type=Path, default=None, help="write the summary JSON here")
    parser.add_argument(
        "--concurrent-writes",
        type=int,
        default=100,
        help="writes per process in the concurrency checks (0: skip them)",
    )
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    parser.add_argument("--repeat", nargs=4, help=argparse.SUPPRESS)
    parser.add_argument("--reembed", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        _child(args.child[0], Path(args.child[1]), int(args.child[2]))
        return
    if args.reembed:
        _reembed_back_and_forth(Path(args.reembed[0]), int(args.reembed[1]))
        return
    if args.repeat:
        _repeat(args.repeat[0], Path(args.repeat[1]), int(args.repeat[2]), int(args.repeat[3]))
        return
    summary = run([p for p in args.paths.split(",") if p], args.kills)
    if args.concurrent_writes:
        summary["concurrency"] = {
            "two_calibration_installs": concurrent_installs(args.concurrent_writes),
            "identify_during_backup": identify_during_backup(args.concurrent_writes),
            "identify_during_reembed": identify_during_reembed(args.concurrent_writes // 2),
        }
    summary["command"] = "python -m benchmarks.fuzz.faults " + shlex.join(
        sys.argv[1:] if argv is None else argv
    )
    if args.out is not None:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(markdown(summary))
    print(json.dumps(summary.get("concurrency", {}), indent=1))
    print(json.dumps(summary["failures"][:20], indent=1))


if __name__ == "__main__":
    main()
