"""What only the PostgreSQL gallery has: URLs and secrets, typed connection errors, pgvector
missing, least-privilege roles and the audit log, HNSW search re-scored exactly, a server
going away and coming back, and migration between engines (a real server, see
``postgres_url`` in conftest.py; the behaviour both engines share is in test_gallery*.py)."""

from __future__ import annotations

import logging
import subprocess
import tempfile
import uuid
from contextlib import suppress
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from click.testing import CliRunner

from bioverify.cli import cli
from bioverify.errors import GalleryError, GalleryUnavailable, InvalidInput
from bioverify.gallery import Gallery
from bioverify.gallery.backends import store_exists
from bioverify.gallery.records import to_blob
from bioverify.gallery.store import redact
from gallery_fakes import FakeVerifier, enroll_people, write_samples
from pg_server import start_postgres

psycopg = pytest.importorskip("psycopg", reason="psycopg (postgres extra) is not installed")

from bioverify.gallery import postgres, postgres_io  # noqa: E402  (needs psycopg)
from bioverify.gallery.migrate import migrate  # noqa: E402
from bioverify.gallery.postgres_schema import roles_sql  # noqa: E402

SECRET = "s3cret-Pa55"


def _url(base: str, user: str = "postgres", database: str = "postgres", **query: str) -> str:
    """``base`` (the test server) as another user, database or schema."""
    host = parse_qs(urlsplit(base).query)["host"][0]
    extra = "".join(f"&{key}={value}" for key, value in query.items())
    return f"postgresql://{user}@/{database}?host={host}{extra}"


def _admin(base: str) -> psycopg.Connection:
    return psycopg.connect(base, autocommit=True)


def test_urls_are_shown_without_their_password() -> None:
    assert redact(f"postgresql://app:{SECRET}@db:5432/bio") == "postgresql://app:***@db:5432/bio"
    assert SECRET not in redact(f"postgres://app@db/bio?password={SECRET}&sslmode=require")
    assert redact("/srv/staff.db") == "/srv/staff.db"
    with pytest.raises(GalleryError, match="schema"):
        postgres_io.parse_location("postgresql://app@db/bio?schema=Robert');DROP")


def test_unreachable_server_is_a_one_line_error_without_the_password(tmp_path, caplog) -> None:
    url = f"postgresql://app:{SECRET}@127.0.0.1:1/bio"  # nothing listens on port 1
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GalleryUnavailable) as error:
        Gallery(url, FakeVerifier(), timeout=2)
    message = str(error.value)
    assert "cannot reach the PostgreSQL server" in message and "app:***@127.0.0.1" in message
    assert "\n" not in message and SECRET not in message and SECRET not in caplog.text
    result = CliRunner().invoke(cli, ["gallery", "list", "--gallery", url])
    assert result.exit_code == GalleryUnavailable.exit_code
    assert result.stderr.count("\n") == 1 and SECRET not in result.output + result.stderr


def test_missing_pgvector_says_what_to_do(postgres_url) -> None:
    tag = uuid.uuid4().hex[:8]
    with _admin(postgres_url) as admin:
        admin.execute(f"CREATE DATABASE noext_{tag}")
        admin.execute(f"CREATE ROLE weak_{tag} LOGIN")
    url = _url(postgres_url, f"weak_{tag}", f"noext_{tag}")
    with pytest.raises(GalleryError, match="no gallery there"):
        Gallery(url)
    with pytest.raises(GalleryError, match="ask an administrator to run CREATE EXTENSION vector"):
        Gallery(url, FakeVerifier())
    assert not store_exists(url)


def test_least_privilege_roles_and_the_audit_log(postgres_url, tmp_path) -> None:
    tag = uuid.uuid4().hex[:8]
    schema = f"roles_{tag}"
    owner = _url(postgres_url, schema=schema)
    verifier = FakeVerifier()
    with Gallery(owner, verifier) as gallery:
        enroll_people(gallery, tmp_path / "e", {"alice": 2})
    with _admin(postgres_url) as admin:
        admin.execute(roles_sql(schema))
        admin.execute(f"CREATE ROLE enroller_{tag} LOGIN IN ROLE bioverify_enroll")
        admin.execute(f"CREATE ROLE searcher_{tag} LOGIN IN ROLE bioverify_search")
    probe = write_samples(tmp_path / "p", "bob", 1, start=9)[0]
    with Gallery(_url(postgres_url, f"enroller_{tag}", schema=schema), verifier) as gallery:
        enroll_people(gallery, tmp_path / "e", {"bob": 3})
        assert gallery.identify(probe).decision == "bob"
        with pytest.raises(GalleryError, match="permission denied"):
            gallery.remove("alice")
    with Gallery(_url(postgres_url, f"searcher_{tag}", schema=schema), verifier) as gallery:
        assert gallery.identify(probe).decision == "bob"
        assert gallery.verify("alice", write_samples(tmp_path / "p", "alice", 1)[0]).match
        for denied in (
            lambda: gallery.enroll("carol", write_samples(tmp_path / "c", "carol", 1)),
            lambda: gallery.show("alice"),  # the individual templates stay private
            lambda: gallery.remove("alice"),
        ):
            with pytest.raises(GalleryError, match="permission denied"):
                denied()
    with Gallery(owner) as gallery:
        assert {s.id: s.n_templates for s in gallery.list()} == {"alice": 2, "bob": 3}
        assert gallery.check() == []
    with _admin(postgres_url) as admin:
        audit = admin.execute(
            f"SELECT db_role, action, identity, count(*), sum(n_templates) FROM {schema}.audit "
            "GROUP BY 1, 2, 3 ORDER BY 3"
        ).fetchall()
    assert audit == [  # one row per enrollment
        ("postgres", "enroll", "alice", 1, 2),
        (f"enroller_{tag}", "enroll", "bob", 1, 3),
    ]


def test_hnsw_search_is_rescored_exactly_and_finds_what_exact_finds(
    postgres_url, tmp_path, monkeypatch
) -> None:
    verifier = FakeVerifier(threshold=-1.0)  # every top-k identity is a candidate
    url = _url(postgres_url, schema=f"hnsw_{uuid.uuid4().hex[:8]}")
    probes = [write_samples(tmp_path / "p", f"p{i}", 1, start=9)[0] for i in range(0, 60, 7)]
    with Gallery(url, verifier) as gallery, Gallery(tmp_path / "g.db", verifier) as exact:
        for i in range(60):
            files = write_samples(tmp_path / "e" / f"p{i}", f"p{i}", 2)
            gallery.enroll(f"p{i}", files)
            exact.enroll(f"p{i}", files)
        monkeypatch.setattr(postgres, "HNSW_MIN_IDENTITIES", 0)  # always through the index
        with gallery._db.read() as tx:
            tx.execute("SET LOCAL enable_seqscan = off")  # as on a big table
            query = to_blob(verifier.embed_text("p3:9"))
            plan = tx.execute("EXPLAIN " + postgres.HNSW_QUERY.format(dim=64), (query, 3))
            assert "Index Scan using identities_mean_hnsw" in " ".join(r[0] for r in plan)
        for probe in probes:
            found, truth = gallery.identify(probe, top_k=3), exact.identify(probe, top_k=3)
            assert [c.identity for c in found.candidates] == [c.identity for c in truth.candidates]
            for candidate in found.candidates:  # the score verify gives, bit for bit
                assert candidate.score == gallery.verify(candidate.identity, probe).score
        assert gallery.identify(probes[0]).n_identities == 60


@pytest.mark.parametrize("value", ["0", "1001", "-5", "many", ""])
def test_a_bad_ef_search_is_a_one_line_error(value: str) -> None:
    with pytest.raises(GalleryError, match=r"ef_search .*whole number from 1 to 1000"):
        postgres_io.parse_location(f"postgresql://app@db/bio?ef_search={value}")


def test_the_url_sets_ef_search_and_libpq_never_sees_it(
    postgres_url, tmp_path, monkeypatch
) -> None:
    location = postgres_io.parse_location("postgresql://app@db/bio?ef_search=150&sslmode=require")
    assert location == ("postgresql://app@db/bio?sslmode=require", "bioverify", 150)
    verifier = FakeVerifier(threshold=-1.0)
    schema = f"ef_{uuid.uuid4().hex[:8]}"
    settings: list[str] = []
    search = postgres_io.PostgresTx.execute

    def recording(tx: postgres_io.PostgresTx, statement: str, params: tuple = ()) -> object:
        if "hnsw.ef_search" in statement:
            settings.append(statement)
        return search(tx, statement, params)

    monkeypatch.setattr(postgres_io.PostgresTx, "execute", recording)
    monkeypatch.setattr(postgres, "HNSW_MIN_IDENTITIES", 0)  # always through the index
    with Gallery(_url(postgres_url, schema=schema), verifier) as gallery:
        enroll_people(gallery, tmp_path / "e", {"alice": 2, "bob": 2})
        gallery.identify(write_samples(tmp_path / "p", "alice", 1, start=5)[0])
    with Gallery(_url(postgres_url, schema=schema, ef_search="150"), verifier) as gallery:
        found = gallery.identify(write_samples(tmp_path / "q", "alice", 1, start=6)[0])
    assert found.decision == "alice"
    assert settings == [
        f"SET LOCAL hnsw.ef_search = {postgres.HNSW_EF_SEARCH}",
        "SET LOCAL hnsw.ef_search = 150",
    ]


def test_the_documented_denser_index_replaces_the_gallerys_own(
    postgres_url, tmp_path, monkeypatch
) -> None:
    """docs/gallery.md's SQL for a million identities (m 32, ef_construction 200), run as
    written but for the schema and dimension: the gallery checks clean and searches it."""
    text = (Path(__file__).resolve().parents[1] / "docs" / "gallery.md").read_text()
    block = text.split("rebuild the index with the denser graph once", 1)[1]
    statements = block.split("```sql\n", 1)[1].split("```", 1)[0]
    schema = f"dense_{uuid.uuid4().hex[:8]}"
    verifier = FakeVerifier(threshold=-1.0)
    with Gallery(_url(postgres_url, schema=schema), verifier) as gallery:
        enroll_people(gallery, tmp_path / "e", {"alice": 2, "bob": 2})
        with gallery._db.write() as tx:
            for statement in statements.split(";"):
                if statement.strip():
                    sql = statement.replace("bioverify.", f"{schema}.")
                    tx.execute(sql.replace("vector(128)", "vector(64)"))
            row = tx.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = ? AND indexname = ?",
                (schema, "identities_mean_hnsw"),
            ).fetchone()
        assert "m='32'" in row[0] and "ef_construction='200'" in row[0]
        assert gallery.check() == []
        monkeypatch.setattr(postgres, "HNSW_MIN_IDENTITIES", 0)  # always through the index
        probe = write_samples(tmp_path / "p", "bob", 1, start=5)[0]
        assert gallery.identify(probe).decision == "bob"


@pytest.mark.slow  # stops and restarts a server
def test_a_server_that_goes_away_and_comes_back(tmp_path) -> None:
    server = start_postgres(Path(tempfile.mkdtemp(prefix="bioverify-pg-restart-")))
    from pgserver._commands import pg_ctl

    try:
        url = f"{server.get_uri()}&schema=g"
        with Gallery(url, FakeVerifier(), timeout=1.5) as gallery:
            enroll_people(gallery, tmp_path / "e", {"alice": 2})
            pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)
            assert [s.id for s in gallery.list()] == ["alice"]  # stale connections replaced
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
            with pytest.raises(GalleryUnavailable, match="no connection"):
                gallery.list()
            # started again as pgserver starts it (postmaster.opts keeps the options)
            pg_ctl(["-w", "restart"], pgdata=server.pgdata, user=server.system_user)
            enroll_people(gallery, tmp_path / "e", {"bob": 1})
            assert [s.n_templates for s in gallery.list()] == [2, 1]
    finally:  # pgserver's cleanup only stops the postmaster it started, not a restarted one
        with suppress(subprocess.CalledProcessError):
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)
        server.cleanup()  # deletes its folder


def test_migrate_to_postgresql_and_back(postgres_url, tmp_path) -> None:
    verifier = FakeVerifier()
    source, back = tmp_path / "g.db", tmp_path / "back.db"
    url = _url(postgres_url, schema=f"migrated_{uuid.uuid4().hex[:8]}")
    with Gallery(source, verifier) as gallery:
        enroll_people(gallery, tmp_path / "e", {"alice": 3, "bob": 2, "Zoë": 1})
    there = migrate(source, url)
    assert (there.identities, there.templates) == (3, 6)
    code = CliRunner().invoke(cli, ["gallery", "migrate", url, str(back)])
    assert code.exit_code == 0 and there.sha256 in code.output
    probe = write_samples(tmp_path / "p", "bob", 1, start=9)[0]
    for location in (url, back):
        with Gallery(location, verifier) as copy, Gallery(source, verifier) as original:
            assert copy.list() == original.list() and copy.check() == []
            assert copy.show("alice").templates[0].source_sha256 == (
                original.show("alice").templates[0].source_sha256
            )
            assert copy.identify(probe).decision == "bob"
    with pytest.raises(GalleryError, match="there already"):
        migrate(source, url)


def test_migrate_refuses_a_copy_that_differs(tmp_path, postgres_url) -> None:
    import sqlite3

    source = tmp_path / "g.db"
    with Gallery(source, FakeVerifier()) as gallery:
        enroll_people(gallery, tmp_path / "e", {"alice": 2})
    with sqlite3.connect(source) as conn:  # a stray template of another model
        conn.execute("UPDATE templates SET model_sha256 = 'f00' WHERE id = 2")
    conn.close()
    url = _url(postgres_url, schema=f"refused_{uuid.uuid4().hex[:8]}")
    with pytest.raises(GalleryError, match="differs from the source"):
        migrate(source, url)
    assert not store_exists(url)


def test_the_faiss_backend_is_for_sqlite_only(postgres_url) -> None:
    with pytest.raises((GalleryError, InvalidInput), match="SQLite"):
        Gallery(_url(postgres_url, schema="nofaiss"), FakeVerifier(), backend="faiss")
