"""``bioverify split``: happy paths, fixed splits, identical content, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import soundfile

from bioverify.datasets.inventory import scan_dataset, scan_datasets
from bioverify.datasets.splits import load_split
from helpers import one_line_error, run_cli


def _faces(root: Path) -> Path:
    """12 identities with 3 images, 3 with one; p00/0.png and p01/0.png are byte-identical."""
    for k in range(15):
        for j in range(3 if k < 12 else 1):
            path = root / f"p{k:02d}" / f"{j}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            value = 7 if j == 0 and k < 2 else 10 * k + j
            cv2.imwrite(str(path), np.full((6, 6), value, np.uint8))
    (root / "pairs.txt").write_text("not a sample\n")
    return root


def test_split_face_folder(tmp_path: Path) -> None:
    data = _faces(tmp_path / "faces")
    out = tmp_path / "split.json"
    code, stdout, stderr = run_cli(
        "split", data, "--out", out, "--val-fraction", "0.25", "--test-fraction", "0.25"
    )
    assert code == 0, stderr
    lines = stdout.splitlines()
    assert lines[0] == "data: faces: 39 face files, 15 identities"
    assert "identical content: 1 groups of byte-identical files span 2 identities" in lines[1]
    # 12 eligible identities: round(0.25 * 12) = 3 in val and 3 in test
    assert "  val: 3 identities, 9 samples" in lines
    assert " test: 3 identities, 9 samples" in lines
    assert "train: 9 identities, 21 samples" in lines
    assert "train only (fewer than 2 samples): 3 identities" in lines
    assert "content check: passed, no file content is in two splits" in lines
    assert lines[-1] == f"wrote {out}"
    split = load_split(out, scan_dataset(data, progress=False), progress=False)
    assert split.assignment()["p00"] == split.assignment()["p01"]
    assert {"p12", "p13", "p14"} <= set(split.train)


def test_split_is_reproducible(tmp_path: Path) -> None:
    data = _faces(tmp_path / "faces")
    first, second = tmp_path / "a.json", tmp_path / "b.json"
    assert run_cli("split", data, "--out", first, "--seed", "5")[0] == 0
    assert run_cli("split", data, "--out", second, "--seed", "5")[0] == 0
    assert first.read_bytes() == second.read_bytes()


def test_split_several_voice_corpora_with_fixed_split(tmp_path: Path) -> None:
    level = 0.0
    for corpus, speakers in {"arabic": ["a1", "a2", "a3", "a4"], "urdu": ["u1", "u2"]}.items():
        for speaker in speakers:
            for k in range(2):
                path = tmp_path / corpus / speaker / f"{k}.flac"
                path.parent.mkdir(parents=True, exist_ok=True)
                level += 0.01  # every file different
                soundfile.write(path, np.full(400, level, np.float32), 8000)
    splits = tmp_path / "arabic_splits"
    splits.mkdir()
    (splits / "train_speakers.txt").write_text("a1\na2\n")
    (splits / "val_speakers.txt").write_text("a3\n")
    (splits / "test_speakers.txt").write_text("a4\n")
    out = tmp_path / "voice.json"
    code, stdout, stderr = run_cli(
        *("split", tmp_path / "arabic", tmp_path / "urdu", "--fixed-split", splits),
        *("--modality", "voice", "--val-fraction", "0", "--test-fraction", "0.5", "--out", out),
    )
    assert code == 0, stderr
    assert "fixed by --fixed-split: 4 identities" in stdout
    assert "  arabic: identities train 2, val 1, test 1" in stdout
    assert "  urdu: identities train 1, val 0, test 1" in stdout
    document = json.loads(out.read_text())
    assert document["val"] == ["a3"] and "a4" in document["test"]
    assert document["params"]["modality"] == "voice"
    inventory = scan_datasets([tmp_path / "arabic", tmp_path / "urdu"], progress=False)
    load_split(out, inventory, progress=False)


def test_missing_dataset_is_a_one_line_error(tmp_path: Path) -> None:
    code, _, stderr = run_cli("split", tmp_path / "nowhere", "--out", tmp_path / "s.json")
    assert code == 2
    assert "nowhere" in one_line_error(code, stderr)
    assert not (tmp_path / "s.json").exists()


def test_bad_fractions_are_a_one_line_error(tmp_path: Path) -> None:
    data = _faces(tmp_path / "faces")
    code, _, stderr = run_cli(
        "split",
        data,
        "--out",
        tmp_path / "s.json",
        "--val-fraction",
        "0.6",
        "--test-fraction",
        "0.5",
    )
    assert code == 2
    assert "sum to less than 1" in one_line_error(code, stderr)


def test_missing_out_is_a_usage_error(tmp_path: Path) -> None:
    code, _, stderr = run_cli("split", _faces(tmp_path / "faces"))
    assert code == 2
    assert "Missing option '--out'" in stderr
