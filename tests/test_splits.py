"""Identity-disjoint splits: rules, determinism, fixed splits, JSON, and the load checks."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from bioverify.datasets.inventory import Inventory, Sample, scan_dataset
from bioverify.datasets.splits import (
    SPLIT_NAMES,
    Split,
    check_content_disjoint,
    hash_files,
    load_split,
    make_split,
    read_fixed_split,
    save_split,
    shared_content,
)
from bioverify.errors import DataError
from helpers import LFW


def _inventory(sizes: dict[str, int], source: str = "set", modality: str = "face") -> Inventory:
    samples = [
        Sample(Path(f"/data/{source}/{identity}/{k}.jpg"), identity, source)
        for identity, n in sorted(sizes.items())
        for k in range(n)
    ]
    return Inventory([Path(f"/data/{source}")], modality, samples, [])


def _merge(*inventories: Inventory) -> Inventory:
    return Inventory(
        [r for inv in inventories for r in inv.roots],
        inventories[0].modality,
        [s for inv in inventories for s in inv.samples],
        [],
    )


def _all_identities(split: Split) -> list[str]:
    return [i for name in SPLIT_NAMES for i in split.identities(name)]


# 40 identities with 2..6 samples, 10 with a single sample
SIZES = {f"id{k:02d}": 2 + k % 5 for k in range(40)} | {f"solo{k}": 1 for k in range(10)}


def test_split_is_deterministic_and_seed_dependent() -> None:
    inventory = _inventory(SIZES)
    first, again = make_split(inventory, seed=3), make_split(inventory, seed=3)
    assert first.to_dict() == again.to_dict()
    assert make_split(inventory, seed=4).test != first.test
    # the order samples are listed in does not matter
    shuffled = Inventory(inventory.roots, "face", inventory.samples[::-1], [])
    assert make_split(shuffled, seed=3).to_dict() == first.to_dict()


def test_split_is_disjoint_and_complete() -> None:
    split = make_split(_inventory(SIZES), val_fraction=0.2, test_fraction=0.2)
    everyone = _all_identities(split)
    assert len(everyone) == len(set(everyone)) == len(SIZES)
    for name in SPLIT_NAMES:
        assert split.identities(name) == sorted(split.identities(name))


def test_small_identities_go_to_train_and_fractions_apply_to_eligible() -> None:
    split = make_split(_inventory(SIZES), val_fraction=0.1, test_fraction=0.2, seed=1)
    solos = {f"solo{k}" for k in range(10)}
    assert solos <= set(split.train)
    assert split.counts["train_only_small"] == 10
    # 40 eligible identities: round(0.1 * 40) = 4 val, round(0.2 * 40) = 8 test
    assert len(split.val) == 4 and len(split.test) == 8
    assert len(split.train) == 50 - 12
    for name in SPLIT_NAMES:
        members = split.identities(name)
        assert split.counts[name] == {
            "identities": len(members),
            "samples": sum(SIZES[i] for i in members),
        }


def test_min_samples_threshold() -> None:
    sizes = {"a": 1, "b": 2, "c": 3, "d": 3, "e": 3}
    split = make_split(_inventory(sizes), val_fraction=0.0, test_fraction=0.4, min_samples=3)
    assert {"a", "b"} <= set(split.train)
    assert split.counts["train_only_small"] == 2
    assert len(split.test) == 1  # round(0.4 * 3 eligible) = 1


def test_fractions_apply_per_source_and_sources_are_independent() -> None:
    first = _inventory({f"a{k:02d}": 3 for k in range(20)}, source="first")
    second = _inventory({f"b{k:02d}": 3 for k in range(10)}, source="second")
    both = make_split(_merge(first, second), val_fraction=0.1, test_fraction=0.2)
    by_source = both.counts["by_source"]
    assert by_source["first"]["val"]["identities"] == 2
    assert by_source["first"]["test"]["identities"] == 4
    assert by_source["second"]["val"]["identities"] == 1
    assert by_source["second"]["test"]["identities"] == 2
    alone = make_split(first, val_fraction=0.1, test_fraction=0.2)
    assert [i for i in both.test if i.startswith("a")] == alone.test


def test_fixed_identities_are_honoured() -> None:
    sizes = {f"id{k:02d}": 3 for k in range(20)} | {"tiny": 1}
    fixed = {"id00": "test", "id01": "test", "id02": "val", "tiny": "val"}
    split = make_split(_inventory(sizes), val_fraction=0.1, test_fraction=0.1, fixed=fixed)
    assert {"id00", "id01"} <= set(split.test) and {"id02", "tiny"} <= set(split.val)
    # the fractions apply to the 16 eligible identities that were not fixed: 2 + 2 drawn
    assert len(split.test) == 2 + 2 and len(split.val) == 2 + 2
    assert split.counts["train_only_small"] == 0
    assert split.params["fixed_identities"] == 4


@pytest.mark.parametrize(
    ("fixed", "message"),
    [({"nobody": "test"}, "not in the data"), ({"a": "holdout"}, "must be one of")],
)
def test_bad_fixed_split_raises(fixed: dict[str, str], message: str) -> None:
    with pytest.raises(DataError, match=message):
        make_split(_inventory({"a": 2, "b": 2}), fixed=fixed)


@pytest.mark.parametrize(("val", "test"), [(0.6, 0.5), (-0.1, 0.1), (0.1, 1.0)])
def test_bad_fractions_raise(val: float, test: float) -> None:
    with pytest.raises(DataError, match="sum to less than 1"):
        make_split(_inventory({"a": 2}), val_fraction=val, test_fraction=test)


def test_identities_kept_together_share_a_split() -> None:
    sizes = {f"id{k:02d}": 3 for k in range(30)} | {"small": 1, "big": 3}
    inventory = _inventory(sizes)
    for seed in range(15):
        split = make_split(
            inventory,
            val_fraction=0.3,
            test_fraction=0.3,
            seed=seed,
            together=[{"id03", "id17"}, {"small", "big"}],
        )
        where = split.assignment()
        assert where["id03"] == where["id17"]
        assert where["small"] == where["big"] == "train"
        assert split.counts["kept_together"] == 4


def test_read_fixed_split_from_speaker_lists(tmp_path: Path) -> None:
    (tmp_path / "train_speakers.txt").write_text("00000001\n00000005\n\n")
    (tmp_path / "test_speakers.txt").write_text("# held out\n00000003\n")
    assert read_fixed_split(tmp_path) == {
        "00000001": "train",
        "00000005": "train",
        "00000003": "test",
    }


def test_read_fixed_split_from_json_and_errors(tmp_path: Path) -> None:
    (tmp_path / "f.json").write_text(json.dumps({"val": ["x"], "test": ["y"]}))
    assert read_fixed_split(tmp_path / "f.json") == {"x": "val", "y": "test"}
    (tmp_path / "overlap.json").write_text(json.dumps({"train": ["x"], "test": ["x"]}))
    with pytest.raises(DataError, match="in both train and test"):
        read_fixed_split(tmp_path / "overlap.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no fixed split found"):
        read_fixed_split(tmp_path / "empty")


def test_json_roundtrip(tmp_path: Path) -> None:
    split = make_split(_inventory(SIZES), seed=7)
    save_split(split, tmp_path / "out" / "split.json")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["split.json"]
    document = json.loads((tmp_path / "out" / "split.json").read_text())
    assert document["format_version"] == 1
    assert document["data"] == ["/data/set"]
    assert set(document) == {
        "format_version",
        "seed",
        "params",
        "train",
        "val",
        "test",
        "counts",
        "data",
    }
    loaded = load_split(tmp_path / "out" / "split.json")
    assert loaded.to_dict() == split.to_dict()


def test_save_split_into_a_folder_path_raises(tmp_path: Path) -> None:
    (tmp_path / "taken").mkdir()
    with pytest.raises(DataError, match="cannot write the split file"):
        save_split(make_split(_inventory({"a": 2})), tmp_path / "taken")
    assert [p.name for p in tmp_path.iterdir()] == ["taken"]


def test_samples_and_label_map() -> None:
    inventory = _inventory({"b": 2, "a": 3, "c": 1})
    split = Split(["c", "a"], ["b"], [], seed=0, params={}, counts={})
    assert split.label_map() == {"a": 0, "c": 1}
    assert [s.identity for s in split.samples(inventory, "train")] == ["a", "a", "a", "c"]
    assert [s.path.name for s in split.samples(inventory, "val")] == ["0.jpg", "1.jpg"]
    with pytest.raises(DataError, match="not in the data"):
        split.samples(_inventory({"a": 2}), "val")


def _write(path: Path, document: object) -> Path:
    path.write_text(json.dumps(document))
    return path


def _valid_document() -> dict[str, object]:
    return make_split(_inventory({"a": 2, "b": 2, "c": 2}), test_fraction=0.4).to_dict()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d.update(val=[*d["val"], d["train"][0]]), "in both train and val"),
        (lambda d: d.update(train=[*d["train"], d["train"][0]]), "twice in train"),
        (lambda d: d.pop("counts"), r"lacks \['counts'\]"),
        (lambda d: d.update(format_version=2), "format_version 2 is not supported"),
        (lambda d: d.update(test="a"), "'test' must be a list"),
        (lambda d: d.update(seed="0"), "seed must be an integer"),
    ],
)
def test_load_split_rejects_invalid_documents(tmp_path: Path, edit, message: str) -> None:
    document = _valid_document()
    edit(document)
    with pytest.raises(DataError, match=message):
        load_split(_write(tmp_path / "s.json", document))


def test_load_split_rejects_unreadable_files(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(DataError, match="not a readable split file"):
        load_split(tmp_path / "bad.json")
    for hostile in ("[" * 100_000, "1" * 100_000):
        (tmp_path / "hostile.json").write_text(hostile)
        with pytest.raises(DataError, match="not a readable split file"):
            load_split(tmp_path / "hostile.json")
    with pytest.raises(DataError, match="holds a JSON object"):
        load_split(_write(tmp_path / "list.json", [1, 2]))
    with pytest.raises(DataError, match="split file not found"):
        load_split(tmp_path / "missing.json")


def test_load_split_checks_against_the_data(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.json", _valid_document())
    with pytest.raises(DataError, match="not in the data"):
        load_split(path, _inventory({"a": 2, "b": 2}), check_content=False)
    with pytest.raises(DataError, match="for face data but the data is voice"):
        load_split(path, _inventory({"a": 2, "b": 2, "c": 2}, modality="voice"))


def _faces_with_shared_file(root: Path) -> Path:
    """alice and bob have two images each; alice/a1.png and bob/b1.png are byte-identical."""
    for identity, values in {"alice": (10, 20), "bob": (10, 30), "carol": (40, 50)}.items():
        (root / identity).mkdir(parents=True)
        for k, value in enumerate(values, start=1):
            cv2.imwrite(
                str(root / identity / f"{identity[0]}{k}.png"), np.full((4, 4), value, np.uint8)
            )
    return root


def test_load_split_rejects_content_in_two_splits(tmp_path: Path) -> None:
    inventory = scan_dataset(_faces_with_shared_file(tmp_path / "faces"), progress=False)
    split = Split(["alice", "carol"], [], ["bob"], seed=0, params={"modality": "face"}, counts={})
    path = tmp_path / "split.json"
    save_split(split, path)
    with pytest.raises(DataError, match=r"1 file contents are in more than one split") as info:
        load_split(path, inventory, progress=False)
    assert "a1.png" in str(info.value) and "b1.png" in str(info.value)
    assert load_split(path, inventory, check_content=False).test == ["bob"]


def test_shared_content_keeps_identities_together(tmp_path: Path) -> None:
    inventory = scan_dataset(_faces_with_shared_file(tmp_path / "faces"), progress=False)
    digests = hash_files((s.path for s in inventory.samples), progress=False)
    shared = shared_content(inventory, digests)
    assert [sorted(s.path.name for s in group) for group in shared] == [["a1.png", "b1.png"]]
    together = [{s.identity for s in group} for group in shared]
    for seed in range(10):
        split = make_split(
            inventory, val_fraction=0.3, test_fraction=0.3, seed=seed, together=together
        )
        check_content_disjoint(split, inventory, digests)
        assert split.assignment()["alice"] == split.assignment()["bob"]


@pytest.mark.shared_data
@pytest.mark.skipif(not LFW.exists(), reason="shared LFW data absent")
def test_real_lfw_split() -> None:
    inventory = scan_dataset(LFW, progress=False)
    split = make_split(inventory, min_samples=2, seed=0)
    sizes = {identity: len(samples) for identity, samples in inventory.by_identity().items()}
    singles = {identity for identity, n in sizes.items() if n == 1}
    assert len(sizes) == 5749 and len(singles) == 4069
    assert singles <= set(split.train)
    assert split.counts["train_only_small"] == 4069
    everyone = _all_identities(split)
    assert len(everyone) == len(set(everyone)) == 5749
    # fractions of the 1,680 identities with at least two images
    assert len(split.val) == len(split.test) == 168
