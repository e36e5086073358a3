"""Dataset discovery: identity folders, CSV manifests, skipped files, several corpora."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import soundfile
import torch

from bioverify.datasets.inventory import scan_dataset, scan_datasets
from bioverify.errors import DataError, InvalidInput
from bioverify.training.batches import Unreadable, collate_skipping_unreadable


def _image(path: Path, value: int = 128) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((8, 8), value, np.uint8))
    return path


def _audio(path: Path, seconds: float = 0.1, rate: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, np.zeros(round(seconds * rate), np.float32), rate)
    return path


def test_folder_scan_nested_and_non_media(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    a1 = _image(root / "alice" / "a1.jpg")
    a2 = _image(root / "alice" / "session2" / "deeper" / "a2.PNG")
    b1 = _image(root / "bob" / "b1.bmp")
    (root / "pairs.txt").write_text("10 300\n")
    (root / "README.md").write_text("top-level files are not samples")
    (root / "alice" / "notes.txt").write_text("not an image")
    (root / "bob" / ".DS_Store").write_bytes(b"hidden")
    (root / "empty_identity").mkdir()

    inventory = scan_dataset(root, progress=False)

    assert inventory.modality == "face"
    assert inventory.roots == [root.resolve()]
    assert inventory.identities() == ["alice", "bob"]
    assert [s.path for s in inventory.samples] == [a1.resolve(), a2.resolve(), b1.resolve()]
    assert {s.source for s in inventory.samples} == {"faces"}
    assert inventory.skipped == [
        ((root / "alice" / "notes.txt").resolve(), "not a face file (.txt)")
    ]
    assert {k: len(v) for k, v in inventory.by_identity().items()} == {"alice": 2, "bob": 1}


def test_voice_modality_inferred_and_empty_file_skipped(tmp_path: Path) -> None:
    root = tmp_path / "voices"
    _audio(root / "s1" / "x.wav")
    _audio(root / "s1" / "y.flac")
    _audio(root / "s2" / "z.ogg")
    (root / "s2" / "zero.wav").write_bytes(b"")
    inventory = scan_dataset(root, progress=False)
    assert inventory.modality == "voice"
    assert len(inventory.samples) == 3
    assert inventory.skipped == [((root / "s2" / "zero.wav").resolve(), "empty file")]


def test_given_modality_skips_the_other_kind(tmp_path: Path) -> None:
    root = tmp_path / "mixed"
    _image(root / "p" / "a.jpg")
    _audio(root / "p" / "a.wav")
    with pytest.raises(DataError, match="both images and audio"):
        scan_dataset(root, progress=False)
    inventory = scan_dataset(root, modality="voice", progress=False)
    assert [s.path.name for s in inventory.samples] == ["a.wav"]
    assert inventory.skipped == [((root / "p" / "a.jpg").resolve(), "not a voice file (.jpg)")]


def test_check_readable_reports_corrupt_files(tmp_path: Path) -> None:
    root = tmp_path / "faces"
    _image(root / "a" / "good.png")
    (root / "a" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    assert len(scan_dataset(root, progress=False).samples) == 2  # not decoded by default
    inventory = scan_dataset(root, check_readable=True, progress=False)
    assert [s.path.name for s in inventory.samples] == ["good.png"]
    [(path, reason)] = inventory.skipped
    assert path.name == "broken.jpg" and reason.startswith("unreadable:")


def test_manifest_with_speaker_alias_and_extra_columns(tmp_path: Path) -> None:
    root = tmp_path / "corpus"
    _audio(root / "spk1" / "a.flac")
    _audio(root / "spk1" / "b.flac")
    _audio(root / "other" / "c.flac")
    (root / "manifest.csv").write_text(
        "path,speaker,duration_s,sample_rate\n"
        "spk1/a.flac,S1,0.1,16000\n"
        "spk1/b.flac,S1,0.1,16000\n"
        "other/c.flac,S2,0.1,16000\n"
        "gone/d.flac,S2,0.1,16000\n"
    )
    inventory = scan_dataset(root / "manifest.csv", progress=False)
    assert inventory.modality == "voice"
    assert inventory.identities() == ["S1", "S2"]
    assert [s.path for s in inventory.samples] == [
        (root / "spk1" / "a.flac").resolve(),
        (root / "spk1" / "b.flac").resolve(),
        (root / "other" / "c.flac").resolve(),
    ]
    assert {s.source for s in inventory.samples} == {"corpus"}
    assert inventory.skipped == [((root / "gone" / "d.flac").resolve(), "file not found")]


def test_manifest_identity_column(tmp_path: Path) -> None:
    _image(tmp_path / "imgs" / "1.jpg")
    (tmp_path / "list.csv").write_text("identity,path\nzoe,imgs/1.jpg\n")
    inventory = scan_dataset(tmp_path / "list.csv", progress=False)
    assert [(s.identity, s.path.name) for s in inventory.samples] == [("zoe", "1.jpg")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("file,who\nx.jpg,a\n", "needs the columns path and identity"),
        ("path,identity\nx.jpg,\n", "line 2: empty path or identity"),
        ("path,identity\nx.jpg,a\nx.jpg,b\n", "line 3: x.jpg is listed twice"),
    ],
)
def test_bad_manifest_raises(tmp_path: Path, text: str, message: str) -> None:
    _image(tmp_path / "x.jpg")
    (tmp_path / "m.csv").write_text(text)
    with pytest.raises(DataError, match=message):
        scan_dataset(tmp_path / "m.csv", progress=False)


def test_missing_or_empty_dataset_raises(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not found"):
        scan_dataset(tmp_path / "nope", progress=False)
    (tmp_path / "only_text" / "a").mkdir(parents=True)
    (tmp_path / "only_text" / "a" / "x.txt").write_text("x")
    with pytest.raises(DataError, match="no image or audio files"):
        scan_dataset(tmp_path / "only_text", progress=False)


def test_several_corpora_keep_their_source(tmp_path: Path) -> None:
    _audio(tmp_path / "arabic" / "00000001" / "a.flac")
    _audio(tmp_path / "persian" / "cvfa000" / "b.ogg")
    (tmp_path / "urdu").mkdir()
    _audio(tmp_path / "urdu" / "clips" / "c.flac")
    (tmp_path / "urdu" / "manifest.csv").write_text("path,speaker\nclips/c.flac,urdu_SF1\n")
    inventory = scan_datasets(
        [tmp_path / "arabic", tmp_path / "persian", tmp_path / "urdu" / "manifest.csv"],
        progress=False,
    )
    assert inventory.sources() == ["arabic", "persian", "urdu"]
    assert {(s.identity, s.source) for s in inventory.samples} == {
        ("00000001", "arabic"),
        ("cvfa000", "persian"),
        ("urdu_SF1", "urdu"),
    }
    assert len(inventory.roots) == 3


def test_same_identity_in_two_corpora(tmp_path: Path) -> None:
    _image(tmp_path / "one" / "sam" / "a.jpg")
    _image(tmp_path / "two" / "sam" / "b.jpg")
    roots = [tmp_path / "one", tmp_path / "two"]
    with pytest.raises(DataError, match="'sam' appears in datasets 'one' and 'two'"):
        scan_datasets(roots, progress=False)
    inventory = scan_datasets(roots, prefix_identities=True, progress=False)
    assert inventory.identities() == ["one/sam", "two/sam"]


def test_corpora_of_different_modalities_refused(tmp_path: Path) -> None:
    _image(tmp_path / "faces" / "a" / "x.jpg")
    _audio(tmp_path / "voices" / "a" / "x.wav")
    with pytest.raises(DataError, match="mix modalities"):
        scan_datasets([tmp_path / "faces", tmp_path / "voices"], progress=False)


def test_collate_drops_unreadable_items() -> None:
    items = [
        (torch.ones(3), 4),
        Unreadable("bad.wav", "not a readable audio file"),
        (torch.zeros(3), 7),
    ]
    batch = collate_skipping_unreadable(items)
    assert batch.inputs.tolist() == [[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]]
    assert batch.labels.tolist() == [4, 7] and batch.labels.dtype == torch.int64
    assert batch.unreadable == [Unreadable("bad.wav", "not a readable audio file")]

    empty = collate_skipping_unreadable([Unreadable("a", "x")])
    assert empty.inputs.numel() == 0 and empty.labels.numel() == 0

    with pytest.raises(InvalidInput, match="different shapes"):
        collate_skipping_unreadable([(torch.ones(3), 0), (torch.ones(4), 1)])
