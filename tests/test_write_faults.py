"""Write paths under injected OS errors and SIGKILL (``benchmarks/fuzz/faults.py``): the
previous file stays as it was and loads, the error is one typed line naming the OS error,
and no temporary file is left behind."""

from __future__ import annotations

import errno
import random
from pathlib import Path

import pytest
from benchmarks.fuzz.faults import (
    FAULTS,
    INJECTABLE,
    concurrent_installs,
    identify_during_backup,
    identify_during_reembed,
    inject,
    kill_once,
    kills_during_reembed,
    run,
)
from benchmarks.fuzz.write_paths import WRITE_PATHS

from bioverify.atomic import write_atomic


@pytest.mark.parametrize("path", [p for p in INJECTABLE if p != "gallery_backup"])
@pytest.mark.parametrize(("call", "code"), FAULTS)
def test_an_os_error_leaves_the_previous_file(
    path: str, call: str, code: int, tmp_path: Path
) -> None:
    WRITE_PATHS[path].setup(tmp_path)
    result = inject(path, tmp_path, 1, call, code, nth=1)
    assert result["outcome"] == "typed", result
    assert result["ok"], result
    assert WRITE_PATHS[path].read(tmp_path) == 0


def test_a_gallery_backup_under_a_full_disk(tmp_path: Path) -> None:
    WRITE_PATHS["gallery_backup"].setup(tmp_path)
    for call, code in (("write", errno.ENOSPC), ("fsync", errno.EIO)):
        result = inject("gallery_backup", tmp_path, 1, call, code, nth=1)
        assert result["ok"] and "cannot write the backup" in result["message"], result


def test_write_atomic_replaces_and_keeps_the_mode(tmp_path: Path) -> None:
    target = tmp_path / "a.json"
    target.write_text("old")
    write_atomic(target, b"new", mode=0o600)
    assert target.read_bytes() == b"new"
    assert target.stat().st_mode & 0o777 == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["a.json"]


@pytest.mark.slow
@pytest.mark.parametrize("path", ["calibration", "checkpoint", "gallery_enroll"])
def test_sigkill_mid_write_keeps_the_old_or_the_new_version(path: str, tmp_path: Path) -> None:
    WRITE_PATHS[path].setup(tmp_path)
    rng, version = random.Random(0), 1
    for _ in range(2):
        result = kill_once(path, tmp_path, version, rng)
        assert not result["lost"] and not result["half_written_accepted"], result
        assert result["state"] in (result["finished"], result["finished"] + 1)
        version = result["state"] + 2


@pytest.mark.slow
def test_fault_campaign_summary_counts_every_kill_and_fault() -> None:
    summary = run(["split"], kills=2)
    row = summary["paths"]["split"]
    assert summary["failures"] == []
    assert row["kills"] == 2 and row["faults"] == 3 * len(FAULTS)
    assert row["states_lost"] == row["half_written_accepted"] == row["fault_failures"] == 0


@pytest.mark.slow
def test_two_installs_at_once_give_the_old_or_a_new_calibration() -> None:
    result = concurrent_installs(10)
    assert result["writer_errors"] == [] and result["mixed"] == 0, result
    assert result["final"] in (1000, 2000) and result["reads"] > 0


@pytest.mark.slow
def test_identify_during_a_backup_sees_the_gallery_and_a_whole_backup() -> None:
    result = identify_during_backup(5)
    assert result["writer_error"] == "" and result["wrong"] == 0, result
    assert result["identifications"] > 0


@pytest.mark.slow
def test_identify_during_reembed_sees_one_model_or_the_other() -> None:
    result = identify_during_reembed(3)
    assert result["writer_error"] == "" and result["wrong"] == 0, result
    assert result["reembeds"] == 6 and result["identifications"] > 0


@pytest.mark.slow
def test_a_kill_during_export_leaves_a_whole_bundle(tmp_path: Path) -> None:
    WRITE_PATHS["export"].setup(tmp_path)
    result = kill_once("export", tmp_path, 1, random.Random(3))
    assert not result["lost"] and not result["half_written_accepted"], result


@pytest.mark.slow
def test_a_kill_during_gallery_remove_keeps_the_gallery_whole(tmp_path: Path) -> None:
    WRITE_PATHS["gallery_remove"].setup(tmp_path)
    result = kill_once("gallery_remove", tmp_path, 1, random.Random(1))
    assert not result["lost"] and not result["half_written_accepted"], result


@pytest.mark.slow
def test_kills_during_reembed_leave_the_gallery_on_one_model() -> None:
    result = kills_during_reembed(2, random.Random(0))
    assert result["failures"] == [] and result["row"]["kills"] == 2, result
