"""Gallery behaviour: enroll, verify (1:1), identify (1:N), manage, back up, re-embed.

Every test runs on both engines (``locate``: an SQLite file, then a PostgreSQL schema).
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable

import numpy as np
import pytest

from bioverify.errors import (
    CalibrationError,
    GalleryError,
    InvalidInput,
    ModelMismatch,
    NoFaceFound,
    UnknownIdentity,
)
from bioverify.gallery import Gallery, records, restore
from bioverify.gallery.backends import store_exists
from gallery_fakes import FakeVerifier, enroll_people, write_samples


@pytest.fixture
def verifier() -> FakeVerifier:
    return FakeVerifier()


@pytest.fixture
def gallery(locate, verifier: FakeVerifier):
    with Gallery(locate("g"), verifier) as g:
        yield g


def test_enroll_stores_templates_with_their_facts(gallery, tmp_path) -> None:
    files = write_samples(tmp_path / "alice", "alice", 3)
    report = gallery.enroll("alice", files)
    assert [s.source for s in report.enrolled] == [str(f) for f in files]
    assert report.skipped == [] and report.n_templates == 3
    details = gallery.show("alice")
    assert details.summary.n_templates == 3
    first = details.templates[0]
    assert first.source_name == "alice_0.txt"
    assert first.source_path == str(files[0].resolve())
    assert len(first.source_sha256 or "") == 64
    assert first.quality == {"face_box": [1, 2, 3, 4], "face_size": 96}
    assert first.model_sha256 == gallery.model_sha256
    assert [s.id for s in gallery.list()] == ["alice"]
    meta = gallery.meta
    assert meta["format"] == "bioverify-gallery" and meta["embedding_dim"] == "64"
    assert meta["modality"] == "face" and meta["created"]


def test_failed_samples_are_reported_and_skipped(gallery, tmp_path, verifier) -> None:
    good = write_samples(tmp_path / "bob", "bob", 2)
    bad = tmp_path / "bob" / "blank.txt"
    bad.write_text("noface")
    missing = tmp_path / "bob" / "missing.txt"
    report = gallery.enroll("bob", [good[0], bad, missing, good[1]])
    assert len(report.enrolled) == 2 and report.n_templates == 2
    assert {(s.source, s.reason) for s in report.skipped} == {
        (str(bad), "NoFaceFound"),
        (str(missing), "InvalidInput"),
    }


def test_nothing_is_written_when_no_sample_acquires(gallery, tmp_path) -> None:
    bad = tmp_path / "x.txt"
    bad.write_text("noface")
    report = gallery.enroll("carol", [bad])
    assert not report.ok and report.n_templates == 0
    assert gallery.list() == []
    if gallery.engine == "sqlite":  # not even an empty write transaction
        assert gallery._db.generation() == 0


@pytest.fixture
def fail_before_commit(monkeypatch) -> Callable[[], None]:
    """Call it to make enrollments fail once their rows are written, before the commit
    (``monkeypatch.undo()`` ends that)."""

    def install() -> None:
        insert = records.insert_templates

        def fail(*args):
            insert(*args)  # the identity's row and its templates written, not committed
            raise RuntimeError("disk on fire")

        monkeypatch.setattr(records, "insert_templates", fail)

    return install


def test_an_error_inside_the_transaction_leaves_no_partial_identity(
    gallery, tmp_path, monkeypatch, fail_before_commit
) -> None:
    enroll_people(gallery, tmp_path / "e", {"alice": 2})
    fail_before_commit()
    with pytest.raises(RuntimeError):
        gallery.enroll("bob", write_samples(tmp_path / "bob", "bob", 3))
    with pytest.raises(RuntimeError):
        gallery.enroll("alice", write_samples(tmp_path / "a2", "alice", 2, start=5))
    monkeypatch.undo()
    assert [(s.id, s.n_templates) for s in gallery.list()] == [("alice", 2)]
    assert len(gallery.show("alice").templates) == 2 and gallery.check() == []


def test_many_templates_are_stored_all_or_nothing_in_order(
    gallery, tmp_path, monkeypatch, fail_before_commit
) -> None:
    n = 2 * records.INSERT_BATCH + 7  # three INSERT statements
    files = write_samples(tmp_path / "zoe", "zoe", n)
    fail_before_commit()
    with pytest.raises(RuntimeError):
        gallery.enroll("zoe", files)
    monkeypatch.undo()
    assert gallery.list() == []
    report = gallery.enroll("zoe", files)
    assert report.n_templates == n and len(report.enrolled) == n
    stored = gallery.show("zoe").templates
    assert [t.id for t in stored] == [s.template_id for s in report.enrolled]
    assert [t.source_name for t in stored] == [f.name for f in files]
    assert gallery.check() == []
    again = gallery.enroll("zoe", files[:3] + write_samples(tmp_path / "zoe", "zoe", 1, start=n))
    assert again.n_templates == n + 1 and len(again.skipped) == 3


def test_mean_template_is_normalised_mean_and_updates(gallery, tmp_path, verifier) -> None:
    files = write_samples(tmp_path / "a", "alice", 4)
    gallery.enroll("alice", files[:2])
    report = gallery.enroll("alice", files[2:])
    assert report.n_templates == 4
    expected = np.mean([verifier.embed_text(f"alice:{i}") for i in range(4)], axis=0)
    expected /= np.linalg.norm(expected)
    with gallery._db.read() as conn:
        from bioverify.gallery.records import identity_mean

        mean = identity_mean(conn, "alice", 64)
    np.testing.assert_allclose(mean, expected, atol=1e-6)
    assert gallery.check() == []


def test_enrolling_a_file_twice_is_a_duplicate(gallery, tmp_path, verifier) -> None:
    files = write_samples(tmp_path / "a", "alice", 2)
    gallery.enroll("alice", files)
    assert (verifier.calls, verifier.batches) == (2, 1)  # both samples in one batch
    copy = tmp_path / "copy.txt"
    copy.write_bytes(files[1].read_bytes())  # same content, another name
    report = gallery.enroll(
        "alice", [files[0], copy, *write_samples(tmp_path / "b", "alice", 1, start=5)]
    )
    assert [s.reason for s in report.skipped] == ["duplicate", "duplicate"]
    assert report.ok and report.n_templates == 3
    assert verifier.calls == 3  # the duplicates were recognised by sha256, not embedded
    again = gallery.enroll("alice", [files[0], files[0]])
    assert [s.reason for s in again.skipped] == ["duplicate", "duplicate"]
    assert again.ok and again.already_enrolled  # the same files again: not a failure
    assert again.n_templates == 3 and verifier.calls == 3
    other = gallery.enroll("bob", [files[0], files[0]])  # another identity: stored once
    assert other.n_templates == 1 and [s.reason for s in other.skipped] == ["duplicate"]


def test_verify_accepts_genuine_and_rejects_impostor(gallery, tmp_path) -> None:
    enroll_people(gallery, tmp_path / "enroll", {"alice": 3, "bob": 3})
    probe = write_samples(tmp_path / "probe", "alice", 1, start=10)[0]
    genuine = gallery.verify("alice", probe)
    impostor = gallery.verify("bob", probe)
    assert genuine.match and genuine.score > 0.8
    assert not impostor.match and impostor.score < 0.5
    with pytest.raises(UnknownIdentity, match="gallery list"):
        gallery.verify("nobody", probe)
    blank = tmp_path / "blank.txt"
    blank.write_text("noface")
    with pytest.raises(NoFaceFound):
        gallery.verify("alice", blank)


def test_identify_open_set(gallery, tmp_path) -> None:
    enroll_people(gallery, tmp_path / "enroll", {f"p{i}": 2 for i in range(8)})
    probe = write_samples(tmp_path / "probe", "p3", 1, start=10)[0]
    result = gallery.identify(probe, top_k=5)
    assert result.decision == "p3" and not result.unknown
    assert [c.identity for c in result.candidates] == ["p3"]  # others score below 0.5
    assert result.n_identities == 8 and result.threshold == 0.5
    stranger = write_samples(tmp_path / "probe", "stranger", 1)[0]
    unknown = gallery.identify(stranger)
    assert unknown.unknown and unknown.decision == "unknown" and unknown.candidates == []
    assert unknown.to_dict()["decision"] == "unknown"


def test_identify_ranks_candidates_best_first(locate, tmp_path) -> None:
    low = FakeVerifier(threshold=-1.0)  # everyone is a candidate
    with Gallery(locate("g"), low) as gallery:
        enroll_people(gallery, tmp_path / "enroll", {f"p{i}": 1 for i in range(6)})
        probe = write_samples(tmp_path / "probe", "p2", 1, start=5)[0]
        result = gallery.identify(probe, top_k=4)
        scores = [c.score for c in result.candidates]
        assert len(scores) == 4 and scores == sorted(scores, reverse=True)
        assert result.candidates[0].identity == "p2"
        assert result.to_dict()["candidates"][0]["identity"] == "p2"


def test_identify_sees_another_connections_changes(locate, tmp_path, verifier) -> None:
    path = locate("g")
    with Gallery(path, verifier) as reader, Gallery(path, verifier) as writer:
        probe = write_samples(tmp_path / "probe", "dave", 1, start=9)[0]
        assert reader.identify(probe).unknown  # builds the (empty) cache
        writer.enroll("dave", write_samples(tmp_path / "dave", "dave", 2))
        assert reader.identify(probe).decision == "dave"
        writer.remove("dave")
        assert reader.identify(probe).unknown


def test_identify_needs_a_threshold(locate) -> None:
    with Gallery(locate("g"), FakeVerifier(threshold=None)) as gallery:
        with pytest.raises(CalibrationError, match="calibration"):
            gallery.identify(b"alice:1")
        with pytest.raises(InvalidInput):
            gallery.identify(b"alice:1", top_k=0)


def test_other_model_is_refused_with_reembed_hint(locate, tmp_path, verifier) -> None:
    path = locate("g")
    with Gallery(path, verifier) as gallery:
        enroll_people(gallery, tmp_path / "e", {"alice": 1})
    with pytest.raises(ModelMismatch, match="reembed"):
        Gallery(path, FakeVerifier(seed="model-b"))


def test_management_without_a_model(locate, tmp_path, verifier) -> None:
    path = locate("g")
    with pytest.raises(GalleryError, match="no gallery"):
        Gallery(path)
    assert not store_exists(path)
    with Gallery(path, verifier) as gallery:
        enroll_people(gallery, tmp_path / "e", {"alice": 2})
    with Gallery(path) as gallery:
        assert [s.n_templates for s in gallery.list()] == [2]
        with pytest.raises(GalleryError, match="open the gallery with its model"):
            gallery.enroll("bob", [b"bob:1"])


@pytest.mark.parametrize("name", ["", " alice", "al\nice", "x" * 201, 7])
def test_invalid_identity_names(gallery, name) -> None:
    with pytest.raises(InvalidInput):
        gallery.enroll(name, [b"alice:1"])


def test_remove_deletes_and_unknown_removal_fails(gallery, tmp_path) -> None:
    enroll_people(gallery, tmp_path / "e", {"alice": 2, "bob": 1})
    report = gallery.remove("alice")
    # PostgreSQL's WAL, replicas and backups keep copies: it never claims a scrub
    assert report.n_templates == 2 and report.scrubbed == (gallery.engine == "sqlite")
    assert [s.id for s in gallery.list()] == ["bob"]
    with pytest.raises(UnknownIdentity):
        gallery.remove("alice")
    with pytest.raises(UnknownIdentity):
        gallery.show("alice")


def test_export_import_round_trip(gallery, locate, tmp_path, verifier) -> None:
    enroll_people(gallery, tmp_path / "e", {"alice": 2, "bob": 3})
    backup = gallery.export_json(tmp_path / "backup.json")
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    document = json.loads(backup.read_text())
    assert "biometric" in document["notice"]
    restored_path = locate("restored")
    assert restore(restored_path, backup) == ["alice", "bob"]
    with Gallery(restored_path, verifier) as restored:
        assert restored.list() == gallery.list()
        facts = [
            {**t.to_dict(), "id": None}
            for t in restored.show("bob").templates + gallery.show("bob").templates
        ]
        assert facts[:3] == facts[3:]
        probe = write_samples(tmp_path / "p", "bob", 1, start=7)[0]
        assert restored.verify("bob", probe).score == pytest.approx(
            gallery.verify("bob", probe).score, abs=1e-6
        )
        assert restored.check() == []
        with pytest.raises(GalleryError, match="already in the gallery"):
            restored.import_json(backup)


def test_import_refuses_another_models_backup(locate, tmp_path, gallery) -> None:
    enroll_people(gallery, tmp_path / "e", {"alice": 1})
    backup = gallery.export_json(tmp_path / "b.json")
    with (
        Gallery(locate("other"), FakeVerifier(seed="model-b")) as other,
        pytest.raises(ModelMismatch),
    ):
        other.import_json(backup)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: d.update(format="other"),
        lambda d: d["identities"][0]["templates"][0].update(embedding="AAAA"),
        lambda d: d["identities"][0]["templates"][0].update(embedding="!!"),
        lambda d: d["identities"][0].update(templates=[]),
        lambda d: d["meta"].update(embedding_dim="x"),
    ],
)
def test_import_refuses_damaged_backups(locate, tmp_path, gallery, mutate) -> None:
    enroll_people(gallery, tmp_path / "e", {"alice": 1})
    backup = gallery.export_json(tmp_path / "b.json")
    document = json.loads(backup.read_text())
    mutate(document)
    backup.write_text(json.dumps(document))
    with pytest.raises(GalleryError):
        restore(locate("new"), backup)
    assert not store_exists(locate("new"))


def test_reembed_from_stored_paths(locate, tmp_path, verifier) -> None:
    path = locate("g")
    with Gallery(path, verifier) as gallery:
        enroll_people(gallery, tmp_path / "e", {"alice": 2, "bob": 2})
    new = FakeVerifier(seed="model-b", dim=32)
    with Gallery(path) as gallery:
        report = gallery.reembed(new)
        assert report.switched and report.reembedded == 4 and report.unreachable == []
        assert gallery.model_sha256 == new.model_sha256 and gallery.embedding_dim == 32
        assert gallery.check() == []
    with Gallery(path, new) as gallery:
        probe = write_samples(tmp_path / "p", "alice", 1, start=5)[0]
        assert gallery.identify(probe).decision == "alice"
        assert {t.model_sha256 for t in gallery.show("bob").templates} == {new.model_sha256}
    with pytest.raises(ModelMismatch):
        Gallery(path, verifier)


def test_reembed_finds_moved_files_and_reports_unreachable(locate, tmp_path, verifier) -> None:
    path = locate("g")
    with Gallery(path, verifier) as gallery:
        enroll_people(gallery, tmp_path / "e", {"alice": 2, "bob": 1})
    moved = tmp_path / "moved"
    (tmp_path / "e").rename(moved)
    (moved / "bob" / "bob_0.txt").write_text("bob:changed")  # sha256 no longer matches
    new = FakeVerifier(seed="model-b")
    with Gallery(path) as gallery:
        report = gallery.reembed(new)  # nothing at the stored paths any more
        assert not report.switched and len(report.unreachable) == 3
        assert gallery.model_sha256 == verifier.model_sha256
        report = gallery.reembed(new, from_dir=moved)
        assert not report.switched
        assert [(u.reason, "bob" in u.message) for u in report.unreachable] == [
            ("unreachable", True)
        ]
        report = gallery.reembed(new, from_dir=moved, drop_unreachable=True)
        assert report.switched and report.reembedded == 2 and report.dropped_identities == ["bob"]
        assert [s.id for s in gallery.list()] == ["alice"]
        assert gallery.check() == []


def test_bundle_path_is_remembered(locate, tmp_path) -> None:
    bundle = tmp_path / "bundle"
    with Gallery(locate("g"), FakeVerifier(bundle=bundle)) as gallery:
        assert gallery.bundle_path == bundle
    with Gallery(locate("g"), FakeVerifier(), bundle_path=tmp_path / "b2") as gallery:
        assert gallery.bundle_path == (tmp_path / "b2").resolve()
