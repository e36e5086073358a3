"""``bioverify enroll / identify / gallery …`` end to end, with a fake model loader (the
tests taking ``locate`` run on an SQLite file and on PostgreSQL)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from bioverify.gallery.store import redact
from bioverify.verify.verifier import Verifier
from gallery_fakes import FakeVerifier, write_samples
from helpers import run_cli


@pytest.fixture
def bundles(tmp_path, monkeypatch) -> dict[str, Path]:
    """Two fake bundle folders; loading one gives the FakeVerifier of that name."""
    folders = {name: tmp_path / "bundles" / name for name in ("model-a", "model-b")}
    for folder in folders.values():
        folder.mkdir(parents=True)

    def fake_load(model, **options):
        name = Path(model).name
        assert name in folders, f"unexpected bundle {model}"
        return FakeVerifier(seed=name, bundle=Path(model).resolve())

    monkeypatch.setattr(Verifier, "load", fake_load)
    return folders


def _enroll_people(tmp_path: Path, gallery: Path, model: Path) -> None:
    for person in ("alice", "bob"):
        files = write_samples(tmp_path / "data" / person, person, 2)
        code, out, _ = run_cli(
            "enroll", "--gallery", gallery, "--model", model, "--id", person, *files
        )
        assert code == 0, out


def test_enroll_then_identify_without_model(tmp_path, bundles) -> None:
    gallery = tmp_path / "g.db"
    files = write_samples(tmp_path / "data" / "alice", "alice", 2)
    blank = tmp_path / "data" / "blank.txt"
    blank.write_text("noface")
    code, out, _ = run_cli(
        "enroll", "--gallery", gallery, "--model", bundles["model-a"], "--id", "alice",
        *files, blank,
    )  # fmt: skip
    assert code == 0
    assert f"enrolled {files[0]} (face 96 px)" in out
    assert f"skipped {blank}: " in out and "no face" in out
    assert "alice: 2 template(s) in the gallery (2 added, 1 skipped)" in out
    assert stat.S_IMODE(gallery.stat().st_mode) == 0o600
    probe = write_samples(tmp_path / "probe", "alice", 1, start=9)[0]
    code, out, _ = run_cli("identify", "--gallery", gallery, probe)  # model remembered
    assert code == 0 and out.startswith("1. alice  score 0.")
    code, out, _ = run_cli("identify", "--gallery", gallery, probe, "--json", "--top-k", "2")
    document = json.loads(out)
    assert document["decision"] == "alice" and document["candidates"][0]["match"] is True
    stranger = write_samples(tmp_path / "probe", "zed", 1)[0]
    code, out, _ = run_cli("identify", "--gallery", gallery, stranger)
    assert code == 0 and out.startswith("unknown: none of 1 identities")


def test_enroll_with_nothing_acquired_exits_3(tmp_path, bundles) -> None:
    blank = tmp_path / "blank.txt"
    blank.write_text("noface")
    code, _, err = run_cli(
        "enroll", "--gallery", tmp_path / "g.db", "--model", bundles["model-a"], "--id", "x", blank
    )
    assert code == 3 and "error: no sample of 'x' could be enrolled" in err


def test_enrolling_the_same_files_again_is_idempotent(tmp_path, bundles) -> None:
    gallery = tmp_path / "g.db"
    files = write_samples(tmp_path / "data" / "alice", "alice", 2)
    args = ["enroll", "--gallery", gallery, "--model", bundles["model-a"], "--id", "alice"]
    assert run_cli(*args, *files)[0] == 0
    code, out, err = run_cli(*args, *files)
    assert code == 0, err
    assert "alice: already enrolled (2 file(s) already held; 2 template(s) in the gallery)" in out
    code, out, _ = run_cli(*args, *files, "--json")
    assert code == 0 and json.loads(out)["already_enrolled"] is True


def _dataset(root: Path) -> Path:
    """alice (3 samples), bob (1), carol (no face in her only sample), and a stray file."""
    for person, n in (("alice", 3), ("bob", 1)):
        for path in write_samples(root / person, person, n):
            path.rename(path.with_suffix(".jpg"))
    (root / "carol").mkdir()
    (root / "carol" / "c.jpg").write_text("noface")
    (root / "alice" / "notes.txt").write_text("not a photo")
    return root


def test_enroll_a_whole_dataset_and_resume(locate, tmp_path, bundles) -> None:
    gallery, data = locate("g"), _dataset(tmp_path / "people")
    model = ("--model", bundles["model-a"])
    code, out, _ = run_cli("enroll", "--gallery", gallery, *model, "--from", data)
    assert code == 0, out
    assert f"skipped {data / 'carol' / 'c.jpg'}: " in out and "no face" in out
    assert "2 of 3 identities in the gallery: 4 template(s) added, 0 already enrolled, " in out
    assert "1 sample(s) failed" in out
    code, out, _ = run_cli("gallery", "list", "--gallery", gallery, "--json")
    listed = json.loads(out)["identities"]
    assert {row["id"]: row["n_templates"] for row in listed} == {"alice": 3, "bob": 1}
    # a new sample and a second run: only the new file is embedded and added
    write_samples(data / "bob", "bob", 1, start=1)[0].rename(data / "bob" / "b1.jpg")
    code, out, _ = run_cli("enroll", "--gallery", gallery, "--from", data, "--json")
    document = json.loads(out)
    assert code == 0 and document["templates_added"] == 1
    assert document["duplicates_skipped"] == 4 and document["samples_failed"] == 1
    assert document["identities_in_gallery"] == 2 and document["identities"] == 3


def test_enroll_from_refuses_mixed_or_missing_arguments(tmp_path, bundles) -> None:
    gallery, data = tmp_path / "g.db", _dataset(tmp_path / "people")
    model = ("--model", bundles["model-a"])
    for args in (("--from", data, "--id", "x"), ("--from", data, data / "bob"), ("--id", "x"), ()):
        code, _, err = run_cli("enroll", "--gallery", gallery, *model, *args)
        assert code != 0 and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    faceless = tmp_path / "faceless"
    faceless.mkdir()
    (data / "carol").rename(faceless / "carol")
    code, _, err = run_cli("enroll", "--gallery", gallery, *model, "--from", faceless)
    assert code == 3 and "error: no identity of the dataset could be enrolled" in err
    code, out, _ = run_cli("gallery", "list", "--gallery", gallery, "--json")
    assert json.loads(out)["identities"] == []


def test_gallery_list_show_remove(locate, tmp_path, bundles) -> None:
    gallery = locate("g")
    _enroll_people(tmp_path, gallery, bundles["model-a"])
    code, out, _ = run_cli("gallery", "list", "--gallery", gallery)
    assert code == 0 and out.splitlines()[0].startswith("2 identities; face model")
    code, out, _ = run_cli("gallery", "list", "--gallery", gallery, "--json")
    assert [i["id"] for i in json.loads(out)["identities"]] == ["alice", "bob"]
    code, out, _ = run_cli("gallery", "show", "--gallery", gallery, "bob", "--json")
    assert [t["source_name"] for t in json.loads(out)["templates"]] == ["bob_0.txt", "bob_1.txt"]
    code, out, _ = run_cli("gallery", "remove", "--gallery", gallery, "bob")
    assert code == 0 and out.strip() == "removed bob (2 template(s))"
    code, out, err = run_cli("gallery", "show", "--gallery", gallery, "bob")
    assert code == 6 and "no identity 'bob'" in err and len(err.strip().splitlines()) == 1
    code, out, _ = run_cli("gallery", "check", "--gallery", gallery)
    assert code == 0 and out.strip() == "ok"


def test_verify_against_a_claimed_identity(locate, tmp_path, bundles) -> None:
    gallery = locate("g")
    _enroll_people(tmp_path, gallery, bundles["model-a"])
    probe = write_samples(tmp_path / "probe", "bob", 1, start=9)[0]
    code, out, _ = run_cli("verify", "--gallery", gallery, "--id", "bob", probe, "--json")
    assert code == 0 and json.loads(out)["match"] is True
    code, out, _ = run_cli("verify", "--gallery", gallery, "--id", "alice", probe, "--json")
    assert code == 0 and json.loads(out)["match"] is False
    code, _, err = run_cli("verify", "--gallery", gallery, "--id", "carol", probe)
    assert code == 6 and "no identity 'carol'" in err
    code, _, err = run_cli("verify", "--gallery", gallery, probe)
    assert code == 2 and "--gallery and --id go together" in err
    code, _, err = run_cli("verify", "--gallery", gallery, "--id", "bob", probe, probe)
    assert code == 2 and "needs one input, got 2" in err


def test_other_model_and_reembed(locate, tmp_path, bundles) -> None:
    gallery = locate("g")
    _enroll_people(tmp_path, gallery, bundles["model-a"])
    probe = write_samples(tmp_path / "probe", "bob", 1, start=9)[0]
    code, _, err = run_cli("identify", "--gallery", gallery, "--model", bundles["model-b"], probe)
    assert code == 4 and "bioverify gallery reembed" in err
    moved = tmp_path / "moved"
    (tmp_path / "data").rename(moved)
    code, out, err = run_cli(
        "gallery", "reembed", "--gallery", gallery, "--model", bundles["model-b"]
    )
    assert code == 6 and out.count("unreachable ") == 4 and "--from DIR" in err
    code, out, _ = run_cli(
        "gallery", "reembed", "--gallery", gallery, "--model", bundles["model-b"], "--from", moved
    )
    assert code == 0 and "re-embedded 4 template(s)" in out
    code, out, _ = run_cli("identify", "--gallery", gallery, probe)  # now remembers model-b
    assert code == 0 and out.startswith("1. bob ")


def test_export_and_import(locate, tmp_path, bundles) -> None:
    gallery = locate("g")
    _enroll_people(tmp_path, gallery, bundles["model-a"])
    backup = tmp_path / "backup.json"
    code, out, _ = run_cli("gallery", "export", "--gallery", gallery, backup)
    assert code == 0 and "biometric" in out
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    restored = locate("restored")
    code, out, _ = run_cli("gallery", "import", "--gallery", restored, backup)
    assert code == 0 and out.strip() == f"imported 2 identities into {redact(restored)}"
    code, _, err = run_cli("gallery", "import", "--gallery", restored, backup)
    assert code == 6 and "already in the gallery" in err


def test_bad_gallery_files_are_one_line_errors(tmp_path, bundles) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    code, _, err = run_cli("gallery", "list", "--gallery", text)
    assert code == 6 and err.strip().splitlines() == [
        f"error: {text}: not a gallery (not an SQLite database)"
    ]
    code, _, err = run_cli("identify", "--gallery", tmp_path / "none.db", text)
    assert code == 6 and "enroll with --model" in err


def test_a_gallery_on_read_only_media_can_be_searched_not_changed(
    tmp_path, bundles, monkeypatch
) -> None:
    """Read-only media: the file and its folder cannot be written (os.access says so even
    to root there; chmod does not stop root, so the test makes os.access answer as a
    read-only mount does). SQLite then opens it immutable, without a -shm file."""
    import os

    gallery = tmp_path / "media" / "g.db"
    gallery.parent.mkdir()
    _enroll_people(tmp_path, gallery, bundles["model-a"])
    for leftover in gallery.parent.glob("g.db-*"):
        leftover.unlink()  # a cleanly closed WAL gallery leaves none; be sure
    real_access = os.access

    def read_only_media(path, mode, *args, **kwargs):  # type: ignore[no-untyped-def]
        inside = str(path).startswith(str(gallery.parent))
        return False if inside and mode & os.W_OK else real_access(path, mode, *args, **kwargs)

    monkeypatch.setattr(os, "access", read_only_media)
    before = sorted(p.name for p in gallery.parent.iterdir())
    code, out, err = run_cli("gallery", "list", "--gallery", gallery)
    assert code == 0, err
    assert "alice" in out and "bob" in out
    probe = write_samples(tmp_path / "probe", "alice", 1, start=9)[0]
    code, out, err = run_cli("identify", "--gallery", gallery, probe)
    assert code == 0 and out.startswith("1. alice"), err
    code, _, err = run_cli("enroll", "--gallery", gallery, "--id", "carol", probe)
    assert code != 0 and "the gallery is read-only here" in err and len(err.splitlines()) == 1
    assert sorted(p.name for p in gallery.parent.iterdir()) == before  # nothing written


def test_default_models_by_name_and_the_device_on_gallery_commands(tmp_path) -> None:
    examples = Path(__file__).parents[1] / "examples"
    gallery = tmp_path / "g.db"
    code, out, err = run_cli(
        "enroll", "--gallery", gallery, "--model", "face", "--device", "cpu", "--id", "a",
        examples / "face_a1.jpg",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run_cli("gallery", "list", "--gallery", gallery)
    assert code == 0 and "src/bioverify/models/face" in out, err  # the bundle, not "face"
    code, out, err = run_cli(
        "identify", "--gallery", gallery, "--device", "cpu", examples / "face_a2.jpg"
    )
    assert code == 0 and out.startswith("1. a  score"), err
