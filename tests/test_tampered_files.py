"""Tampered or foreign files are refused with a typed error, and no user file is read with
pickle. (Also covered elsewhere: a changed model.onnx and a calibration of another model in
test_verifier.py, invalid calibration fields in test_calibration_file.py, foreign SQLite files
and galleries of another model in test_gallery_storage.py / test_gallery.py.)"""

from __future__ import annotations

import json
import re
import shutil
import sqlite3
import zipfile
from pathlib import Path
from typing import Any

import pytest

import bioverify.bundle as bundle_module
from bioverify.bundle import BUNDLE_FILE, BundleInfo, extract_zip_bundle, load_bundle, open_bundle
from bioverify.errors import GalleryError, ModelError, ModelMismatch
from bioverify.gallery import Gallery
from bioverify.verify import Verifier

SRC = Path(__file__).parents[1] / "src" / "bioverify"


def _copy(info: BundleInfo, root: Path) -> Path:
    return Path(shutil.copytree(info.folder, root / "bundle"))


def test_appended_byte_to_the_model_is_refused(face_bundle: BundleInfo, tmp_path: Path) -> None:
    folder = _copy(face_bundle, tmp_path)
    with (folder / "model.onnx").open("ab") as handle:
        handle.write(b"\0")
    with pytest.raises(ModelMismatch, match="sha256"):
        load_bundle(folder)
    with pytest.raises(ModelMismatch):
        Verifier.load(folder, threshold=0.5)


@pytest.mark.parametrize(
    ("key", "value", "match"),
    [
        ("format", None, "not a bioverify bundle"),
        ("format_version", "1", "wrong type"),
        ("format_version", 2, "not supported"),
        ("modality", None, "missing field 'modality'"),
        ("modality", "iris", "modality must be one of"),
        ("embedding_dim", "32", "wrong type"),
        ("embedding_dim", True, "wrong type"),
        ("embedding_dim", 0, "positive"),
        ("precision", "fp64", "precision"),
        ("model_sha256", "ABC", "64 lowercase hex"),
        ("model_sha256", 7, "wrong type"),
        ("model_file", "../model.onnx", "plain file name"),
        ("model_file", "/etc/passwd", "plain file name"),
        ("model_file", "other.onnx", "missing"),
        ("preprocessing", [], "wrong type"),
        ("preprocessing", {}, "face_geometry"),
        ("input", "image", "wrong type"),
        ("name", None, "missing field 'name'"),
    ],
)
def test_bundle_json_missing_or_wrong_fields(
    face_bundle: BundleInfo, tmp_path: Path, key: str, value: Any, match: str
) -> None:
    folder = _copy(face_bundle, tmp_path)
    document = json.loads((folder / BUNDLE_FILE).read_text())
    if value is None:
        document.pop(key)
    else:
        document[key] = value
    (folder / BUNDLE_FILE).write_text(json.dumps(document))
    with pytest.raises(ModelError, match=match):
        load_bundle(folder)


@pytest.mark.parametrize(
    "content", [b"", b"{", b"[]", b"\xff\xfe{}", b"[" * 100_000, b"1" * 100_000]
)
def test_unreadable_bundle_json(face_bundle: BundleInfo, tmp_path: Path, content: bytes) -> None:
    folder = _copy(face_bundle, tmp_path)
    (folder / BUNDLE_FILE).write_bytes(content)
    with pytest.raises(ModelError):
        load_bundle(folder)


def test_face_bundle_flip_fusion_must_be_a_boolean(face_bundle: BundleInfo, tmp_path: Path) -> None:
    folder = _copy(face_bundle, tmp_path)
    document = json.loads((folder / BUNDLE_FILE).read_text())
    document["preprocessing"]["flip_fusion"] = "yes"
    (folder / BUNDLE_FILE).write_text(json.dumps(document))
    with pytest.raises(ModelError, match="flip_fusion must be true or false"):
        load_bundle(folder)


def test_voice_bundle_trim_must_be_known(voice_bundle: BundleInfo, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(voice_bundle.folder, tmp_path / "v"))
    document = json.loads((folder / BUNDLE_FILE).read_text())
    document["preprocessing"]["trim"] = "middle"
    (folder / BUNDLE_FILE).write_text(json.dumps(document))
    with pytest.raises(ModelError, match=r"preprocessing\.trim must be one of"):
        load_bundle(folder)


def test_voice_bundle_needs_a_sample_rate(voice_bundle: BundleInfo, tmp_path: Path) -> None:
    folder = Path(shutil.copytree(voice_bundle.folder, tmp_path / "v"))
    document = json.loads((folder / BUNDLE_FILE).read_text())
    document["preprocessing"]["sample_rate"] = 0
    (folder / BUNDLE_FILE).write_text(json.dumps(document))
    with pytest.raises(ModelError, match="sample_rate"):
        load_bundle(folder)


def _zip(path: Path, members: dict[str, bytes], link: str | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zipped:
        for name, data in members.items():
            zipped.writestr(name, data)
        if link:
            info = zipfile.ZipInfo(link)
            info.external_attr = 0o120777 << 16
            zipped.writestr(info, "/etc/passwd")
    return path


def _bundle_members(info: BundleInfo, prefix: str = "b/") -> dict[str, bytes]:
    return {prefix + p.name: p.read_bytes() for p in info.folder.iterdir() if p.is_file()}


@pytest.mark.parametrize(
    "evil", ["../evil.txt", "b/../../evil.txt", "/tmp/evil-absolute.txt", "b/../../../x"]
)
def test_zip_path_traversal_is_refused(face_bundle: BundleInfo, tmp_path: Path, evil: str) -> None:
    archive = _zip(tmp_path / "b.zip", {**_bundle_members(face_bundle), evil: b"pwned"})
    destination = tmp_path / "out" / "deep"
    destination.mkdir(parents=True)
    with pytest.raises(ModelError, match="unsafe member"):
        extract_zip_bundle(archive, destination)
    assert not list((tmp_path / "out").rglob("*.txt")) and not (tmp_path / "evil.txt").exists()
    assert list(destination.iterdir()) == []  # checked before anything is written


def test_zip_symlink_member_is_refused(face_bundle: BundleInfo, tmp_path: Path) -> None:
    archive = _zip(tmp_path / "b.zip", _bundle_members(face_bundle), link="b/link")
    with pytest.raises(ModelError, match="unsafe member"):
        open_bundle(archive, tmp_path / "out")


def test_oversized_zip_is_refused_before_extracting(
    face_bundle: BundleInfo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    members = _bundle_members(face_bundle)
    members["b/padding.bin"] = b"\0" * 200_000  # compresses to a few hundred bytes
    archive = _zip(tmp_path / "b.zip", members)
    monkeypatch.setattr(bundle_module, "MAX_ZIP_BYTES", 100_000)
    with pytest.raises(ModelError, match="exceeds 100000"):
        open_bundle(archive, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 broken", b"not a zip"])
def test_broken_zip_is_a_model_error(tmp_path: Path, content: bytes) -> None:
    archive = tmp_path / "b.zip"
    archive.write_bytes(content)
    with pytest.raises(ModelError):
        open_bundle(archive)


def test_zip_without_or_with_two_bundles(face_bundle: BundleInfo, tmp_path: Path) -> None:
    two = {**_bundle_members(face_bundle, "a/"), **_bundle_members(face_bundle, "b/")}
    with pytest.raises(ModelError, match="found 2"):
        open_bundle(_zip(tmp_path / "two.zip", two))
    with pytest.raises(ModelError, match="found 0"):
        open_bundle(_zip(tmp_path / "none.zip", {"readme.txt": b"hi"}))


def test_another_programs_sqlite_file_is_not_a_gallery(
    face_bundle: BundleInfo, tmp_path: Path
) -> None:
    path = tmp_path / "browser-history.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")  # a name clash, too
        conn.execute("INSERT INTO meta VALUES ('format', 'firefox')")
    before = path.read_bytes()
    verifier = Verifier.load(face_bundle, threshold=0.5)
    with pytest.raises(GalleryError):
        Gallery(path, verifier)
    assert path.read_bytes() == before


# --------------------------------------------------------------- unsafe loading
_FORBIDDEN = [
    (re.compile(r"\bpickle\.loads?\("), "pickle.load"),
    (re.compile(r"\b(cPickle|dill|shelve|marshal)\b"), "pickle-like module"),
    (re.compile(r"\byaml\.load\((?![^)]*SafeLoader)"), "yaml.load without SafeLoader"),
    (re.compile(r"allow_pickle\s*=\s*True"), "np.load(allow_pickle=True)"),
    (re.compile(r"\b(eval|exec)\((?!\))"), "eval/exec"),
    (re.compile(r"\bextractall\("), "extractall (only after the member check in bundle.py)"),
]


def test_no_unsafe_loading_in_the_source_tree() -> None:
    problems = []
    for path in sorted(SRC.rglob("*.py")):
        name = path.relative_to(SRC)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#", 1)[0]
            for pattern, what in _FORBIDDEN:
                if pattern.search(code) and not (
                    what.startswith("extractall") and path.name == "bundle.py"
                ):
                    problems.append(f"{name}:{number}: {what}")
            if "torch.load(" in code and "weights_only=True" not in code:
                problems.append(
                    f"{path.relative_to(SRC)}:{number}: torch.load without weights_only"
                )
            if re.search(r"\bnp\.load\(", code) and "allow_pickle=False" not in code:
                problems.append(f"{name}:{number}: np.load without allow_pickle")
    assert not problems, "\n".join(problems)


def test_the_scan_sees_the_one_checkpoint_load() -> None:
    # guards the scan above: it reads the real tree, where torch.load exists exactly here
    text = (SRC / "training" / "checkpoint.py").read_text(encoding="utf-8")
    assert 'torch.load(path, map_location="cpu", weights_only=True)' in text
