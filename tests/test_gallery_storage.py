"""Gallery file safety: permissions, corrupt and foreign files, real deletion, crashes and
concurrent writers (each with real processes), and the search backends."""

from __future__ import annotations

import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from bioverify.errors import GalleryError
from bioverify.gallery import Gallery, TemplateIndex, faiss_available
from bioverify.gallery.records import normalised_mean, to_blob
from gallery_fakes import FakeVerifier, write_samples

TESTS = Path(__file__).parent


def _files(path: Path) -> list[Path]:
    return [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]


def _file_bytes(path: Path) -> bytes:
    return b"".join(p.read_bytes() for p in _files(path) if p.exists())


def test_gallery_files_are_private_even_with_open_umask(tmp_path) -> None:
    old = os.umask(0)
    try:
        path = tmp_path / "sub" / "g.db"
        with Gallery(path, FakeVerifier()) as gallery:
            gallery.enroll("alice", write_samples(tmp_path / "e", "alice", 2))
            existing = [p for p in _files(path) if p.exists()]
            assert len(existing) == 3  # database, -wal, -shm while open
            assert {stat.S_IMODE(p.stat().st_mode) for p in existing} == {0o600}
    finally:
        os.umask(old)


def test_a_gallery_others_can_read_is_warned_about(tmp_path) -> None:
    path = tmp_path / "g.db"
    Gallery(path, FakeVerifier()).close()
    path.chmod(0o644)
    with pytest.warns(UserWarning, match="chmod 600"):
        Gallery(path).close()


def test_text_file_is_not_a_gallery(tmp_path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database at all\n" * 50)
    with pytest.raises(GalleryError, match="not an SQLite database"):
        Gallery(path, FakeVerifier())
    assert path.read_text().startswith("not a database")


def test_foreign_sqlite_database_is_refused_untouched(tmp_path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        conn.execute("INSERT INTO meta VALUES ('format', 'bioverify-gallery')")
    conn.close()
    before = path.read_bytes()
    for verifier in (None, FakeVerifier()):
        with pytest.raises(GalleryError, match="not a bioverify gallery"):
            Gallery(path, verifier)
    assert path.read_bytes() == before


def test_directory_and_empty_file(tmp_path) -> None:
    with pytest.raises(GalleryError, match="not a file"):
        Gallery(tmp_path, FakeVerifier())
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(GalleryError, match="empty file"):
        Gallery(empty)
    with Gallery(empty, FakeVerifier()) as gallery:  # an empty file can become a gallery
        assert gallery.list() == []
    assert stat.S_IMODE(empty.stat().st_mode) == 0o600


def _enrolled_gallery(tmp_path: Path) -> tuple[Path, FakeVerifier]:
    path = tmp_path / "g.db"
    verifier = FakeVerifier()
    with Gallery(path, verifier) as gallery:
        for person in ("alice", "bob", "carol"):
            gallery.enroll(person, write_samples(tmp_path / "e" / person, person, 3))
    assert not Path(f"{path}-wal").exists()  # closing checkpointed everything into the file
    return path, verifier


def _use(path: Path, verifier: FakeVerifier) -> None:
    with Gallery(path, verifier) as gallery:
        gallery.list()
        gallery.identify(b"alice:9")
        gallery.verify("alice", b"alice:9")
        gallery.export_json(path.with_suffix(".json"))


@pytest.mark.parametrize(
    "damage",
    [
        "garbage_after_header",
        "truncated",
        "zeroed_header",
        "nan_mean_template",
        "damaged_template",
    ],
)
def test_corrupted_gallery_gives_gallery_error(tmp_path, damage) -> None:
    path, verifier = _enrolled_gallery(tmp_path)
    data = bytearray(path.read_bytes())
    if damage == "garbage_after_header":
        data[100:] = np.random.default_rng(0).integers(0, 256, len(data) - 100, np.uint8).tobytes()
    elif damage == "truncated":
        data = data[: len(data) // 3 + 7]
    elif damage == "zeroed_header":
        data[:100] = bytes(100)
    elif damage == "nan_mean_template":
        templates = np.stack([verifier.embed_text(f"alice:{i}") for i in range(3)])
        blob = to_blob(normalised_mean(templates, "alice"))
        at = data.find(blob)
        assert at > 0, "the mean template should be in the file"
        data[at : at + 16] = np.full(4, np.nan, np.float32).tobytes()
    elif damage == "damaged_template":  # read by export, reembed and check, not by search
        blob = to_blob(verifier.embed_text("bob:1"))
        at = data.find(blob)
        assert at > 0
        data[at : at + 8] = np.full(2, 1e3, np.float32).tobytes()
    path.write_bytes(bytes(data))
    with pytest.raises(GalleryError):
        _use(path, verifier)


def test_check_reports_stale_counts_and_damaged_templates(tmp_path) -> None:
    path, verifier = _enrolled_gallery(tmp_path)
    with Gallery(path, verifier) as gallery:
        assert gallery.check() == []
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE identities SET n_templates = 7 WHERE id = 'bob'")
        conn.execute("UPDATE templates SET embedding = zeroblob(256) WHERE id = 1")
    conn.close()
    with Gallery(path, verifier) as gallery:
        problems = gallery.check()
    assert problems[0].startswith("'alice': corrupt gallery: a template of 'alice' is not a")
    assert problems[1:] == ["'bob': n_templates is out of date"]


def test_remove_erases_the_vectors_from_the_files(tmp_path) -> None:
    path = tmp_path / "g.db"
    verifier = FakeVerifier()
    with Gallery(path, verifier) as gallery:
        gallery.enroll("person-to-forget", write_samples(tmp_path / "e", "p", 3))
        gallery.enroll("kept", write_samples(tmp_path / "e", "k", 2))
        removed = [to_blob(verifier.embed_text(f"p:{i}")) for i in range(3)]
        kept = to_blob(verifier.embed_text("k:0"))
        before = _file_bytes(path)
        assert all(blob in before for blob in removed) and b"person-to-forget" in before
        report = gallery.remove("person-to-forget")
        assert report.scrubbed and report.n_templates == 3
        after = _file_bytes(path)  # the gallery is still open: -wal and -shm are there
        assert not any(blob in after for blob in removed)
        assert b"person-to-forget" not in after
        assert kept in after
        assert len(after) < len(before)


def test_remove_while_another_connection_reads_says_not_scrubbed(tmp_path) -> None:
    path = tmp_path / "g.db"
    with Gallery(path, FakeVerifier(), timeout=0.3) as gallery:
        gallery.enroll("x", write_samples(tmp_path / "e", "x", 1))
        gallery.enroll("y", write_samples(tmp_path / "e", "y", 1))
        with Gallery(path, timeout=0.3) as reader, reader._db.read() as conn:
            conn.execute("SELECT count(*) FROM templates").fetchone()
            assert not gallery.remove("x").scrubbed
        assert gallery.remove("y").scrubbed
        assert to_blob(FakeVerifier().embed_text("x:0")) not in _file_bytes(path)


_ENROLLER = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from gallery_fakes import FakeVerifier, write_samples
from bioverify.gallery import Gallery
path, root, tag, n = sys.argv[1], Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
(root / f"ready-{{tag}}").touch()
while not (root / "go").exists():
    time.sleep(0.002)
with Gallery(path, FakeVerifier(), timeout=60) as gallery:
    for i in range(n):
        assert gallery.enroll(f"{{tag}}{{i}}", write_samples(root / tag, f"{{tag}}{{i}}", 2)).ok
        shared = root / tag / f"shared{{i}}.txt"
        shared.write_text(f"shared:{{tag}}{{i}}")
        assert gallery.enroll("shared", [shared]).ok
print("done")
"""


_CREATOR = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from gallery_fakes import FakeVerifier
from bioverify.gallery import Gallery
path, go = sys.argv[1], Path(sys.argv[2])
while not go.exists():
    time.sleep(0.001)
with Gallery(path, FakeVerifier(), timeout=30) as gallery:
    print(len(gallery.list()))
"""


@pytest.mark.slow  # many processes
def test_many_processes_creating_one_gallery_at_once_all_open_it(locate, tmp_path) -> None:
    """Switching a new file to WAL makes racing openers get BUSY at once; they must retry.
    PostgreSQL creators queue on a lock and all but one find the gallery made."""
    script = _CREATOR.format(tests=str(TESTS))
    rounds = 3 if isinstance(locate("g"), Path) else 1  # the SQLite race is the flaky one
    for round_ in range(rounds):
        path, go = locate(f"g{round_}"), tmp_path / f"go{round_}"
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", script, str(path), str(go)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(6)
        ]
        time.sleep(1.5)  # let every child import and reach the start line
        go.touch()
        for proc in procs:
            out, err = proc.communicate(timeout=120)
            assert proc.returncode == 0 and out.strip() == "0", err
        with Gallery(path, FakeVerifier()) as gallery:
            assert gallery.check() == []


@pytest.mark.slow  # two enrolling processes
def test_two_processes_enrolling_at_once_lose_nothing(locate, tmp_path) -> None:
    path, n = locate("g"), 15  # both processes also race to create the gallery
    script = _ENROLLER.format(tests=str(TESTS))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(path), str(tmp_path), tag, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for tag in ("a", "b")
    ]
    deadline = time.monotonic() + 60
    while not all((tmp_path / f"ready-{tag}").exists() for tag in "ab"):
        assert time.monotonic() < deadline, "children did not start"
        time.sleep(0.01)
    (tmp_path / "go").touch()
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0 and out.strip() == "done", err
    with Gallery(path, FakeVerifier()) as gallery:
        summaries = {s.id: s.n_templates for s in gallery.list()}
        assert len(summaries) == 2 * n + 1
        assert all(summaries[f"{tag}{i}"] == 2 for tag in "ab" for i in range(n))
        assert summaries["shared"] == 2 * n
        assert gallery.check() == []


_KILLED = """
import sys, time
from pathlib import Path
sys.path.insert(0, {tests!r})
from gallery_fakes import FakeVerifier, write_samples
from bioverify.gallery import Gallery, records
path, root = sys.argv[1], Path(sys.argv[2])
original = records.insert_templates

def stall(*args):
    ids = original(*args)   # templates and mean written, not committed
    (root / "inside").touch()
    time.sleep(120)
    return ids

records.insert_templates = stall
with Gallery(path, FakeVerifier()) as gallery:
    gallery.enroll("victim", write_samples(root / "victim", "victim", 3))
"""


@pytest.mark.slow  # kills an enrolling process
def test_sigkill_during_enrollment_keeps_earlier_enrollments(locate, tmp_path) -> None:
    path, verifier = locate("g"), FakeVerifier()
    with Gallery(path, verifier) as gallery:  # keep a connection: the WAL stays in use
        for person in ("alice", "bob", "carol"):
            gallery.enroll(person, write_samples(tmp_path / "e" / person, person, 3))
        gallery.enroll("alice", write_samples(tmp_path / "e" / "alice", "alice", 2, start=3))
        proc = subprocess.Popen(
            [sys.executable, "-c", _KILLED.format(tests=str(TESTS)), str(path), str(tmp_path)],
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while not (tmp_path / "inside").exists():
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "the child never reached the transaction"
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        assert proc.returncode == -signal.SIGKILL
        expected = {"alice": 5, "bob": 3, "carol": 3}
        assert {s.id: s.n_templates for s in gallery.list()} == expected
        # the killed writer's lock is gone: this process can write again
        assert gallery.enroll("dave", write_samples(tmp_path / "e" / "dave", "dave", 1)).ok
    with Gallery(path, verifier) as gallery:
        assert {s.id: s.n_templates for s in gallery.list()} == {**expected, "dave": 1}
        assert gallery.check() == []
        assert gallery.identify(b"bob:9").decision == "bob"


def _random_index_data(n: int, dim: int, seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    matrix = rng.standard_normal((n, dim)).astype(np.float32)
    matrix /= np.linalg.norm(matrix, axis=1, keepdims=True)
    return [f"id{i}" for i in range(n)], matrix


def test_numpy_search_matches_a_full_sort() -> None:
    ids, matrix = _random_index_data(2000, 48)
    index = TemplateIndex(ids, matrix, backend="numpy")
    query = matrix[17] * 0.6 + matrix[5] * 0.4
    rows, scores = index.search(query, 7)
    expected = np.argsort(-(matrix @ query), kind="stable")[:7]
    assert rows.tolist() == expected.tolist() and rows[0] == 17
    np.testing.assert_allclose(scores, (matrix @ query)[expected], rtol=1e-6)
    assert index.search(query, 5000)[0].size == 2000
    assert TemplateIndex([], np.empty((0, 48), np.float32)).search(query, 3)[0].size == 0


@pytest.mark.skipif(not faiss_available(), reason="faiss is not installed")
def test_faiss_backend_gives_the_same_results() -> None:
    ids, matrix = _random_index_data(5000, 64, seed=1)
    plain = TemplateIndex(ids, matrix, backend="numpy")
    fast = TemplateIndex(ids, matrix, backend="faiss")
    assert fast.backend == "faiss"
    for query in np.random.default_rng(2).standard_normal((20, 64)).astype(np.float32):
        query /= np.linalg.norm(query)
        rows_a, scores_a = plain.search(query, 5)
        rows_b, scores_b = fast.search(query, 5)
        assert rows_a.tolist() == rows_b.tolist()
        np.testing.assert_allclose(scores_a, scores_b, atol=1e-5)
