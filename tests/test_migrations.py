"""Alembic: the crawl migrates by itself; `alembic upgrade/downgrade` work from the CLI."""

import os
import sqlite3
import subprocess
import sys

import pytest
from sqlalchemy import inspect

from crawler.archive.db import create_archive_engine
from crawler.archive.migrate import downgrade, upgrade
from tests.conftest import PROJECT_ROOT, drop_postgres_schema, postgres_url

TABLES = {"sources", "crawl_runs", "articles", "article_versions", "fetches"}


def names(path, kind):
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,))}


def test_upgrade_downgrade_upgrade(tmp_path):
    path = tmp_path / "archive.db"
    engine = create_archive_engine(f"sqlite:///{path}")
    upgrade(engine)
    assert TABLES <= names(path, "table") and "latest_versions" in names(path, "view")
    downgrade(engine, "base")
    assert names(path, "table") == {"alembic_version"} and not names(path, "view")
    upgrade(engine)
    assert TABLES <= names(path, "table")
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_revision_upgrades_and_downgrades_on_sqlite_and_postgresql(backend, tmp_path):
    """The one chain on both, each dialect's own DDL included: FTS5 on SQLite,
    articles_search and its trigger on PostgreSQL (0009)."""
    url = f"sqlite:///{tmp_path / 'archive.db'}" if backend == "sqlite" else postgres_url()
    engine = create_archive_engine(url)
    search_table = {"sqlite": "articles_fts", "postgresql": "articles_search"}[backend]
    try:
        for _ in range(2):
            upgrade(engine)
            tables = set(inspect(engine).get_table_names())
            assert TABLES | {search_table} <= tables and "latest_versions" in inspect(engine).get_view_names()
            assert "warc_dir" in {c["name"] for c in inspect(engine).get_columns("crawl_runs")}
            downgrade(engine, "base")
            assert set(inspect(engine).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
        if backend == "postgresql":
            drop_postgres_schema()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = create_archive_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    engine.dispose()


def test_alembic_command_line_uses_archive_url(tmp_path):
    path = tmp_path / "cli.db"
    env = {**os.environ, "ARCHIVE_URL": f"sqlite:///{path}"}
    for args in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"]):
        subprocess.run([sys.executable, "-m", "alembic", *args], cwd=PROJECT_ROOT, env=env, check=True,
                       capture_output=True)
    assert TABLES <= names(path, "table")


def test_upgrade_from_foundation_schema_with_data(tmp_path):
    """An archive written by 0001 upgrades to head keeping and re-deriving its data."""
    from datetime import datetime, timezone

    from sqlalchemy import text

    from crawler.archive.readers import versions_of
    from crawler.archive.records import FetchRecord
    from crawler.archive.sources import sync_sources
    from crawler.archive.store import Archive
    from crawler.archive.visits import record_fetch
    from crawler.dedup import version_hash
    from crawler.extract import Article
    from crawler.sources import load_sources

    path = tmp_path / "old.db"
    engine = create_archive_engine(f"sqlite:///{path}")
    upgrade(engine, "0001")
    with engine.begin() as db:
        db.execute(text("INSERT INTO sources (id, name, language, timezone, domains) VALUES (1, 'znews', 'vi', 'Asia/Ho_Chi_Minh', '[\"znews.vn\"]')"))
        db.execute(text("INSERT INTO articles VALUES (1, 1, 'https://znews.vn/a-post1.html', '2025-07-01 00:00:00', '2025-07-02 00:00:00', '2025-07-02 00:00:00')"))
        for version, body in ((1, "Thế giới. Bản đầu."), (2, "Thế giới. Bản sửa.")):
            db.execute(text("""INSERT INTO article_versions (article_id, version, fetched_at, title, authors, published_at,
                               modified_at, language, section, tags, summary, text, content_hash)
                               VALUES (1, :v, '2025-07-0' || :v || ' 00:00:00', 'Tiêu đề', '["Hoàng Vũ"]', '2025-06-30 22:30:00',
                               NULL, 'vi', NULL, '[]', NULL, :t, 'old-hash')"""), {"v": version, "t": body})
    upgrade(engine)
    with engine.connect() as db:
        rows = db.execute(text("SELECT version, content_hash, simhash, words_added, same_as_version FROM article_versions ORDER BY version")).all()
        assert all(r.content_hash != "old-hash" for r in rows)
        assert rows[1].words_added == 1 and rows[1].same_as_version is None
        assert db.execute(text("SELECT count(*) FROM simhash_bands")).scalar() == 8
        assert db.execute(text("SELECT url FROM article_urls")).scalar() == "https://znews.vn/a-post1.html"
        assert db.execute(text("SELECT version FROM latest_versions")).scalar() == 2
        assert db.execute(text("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'ban sua'")).scalar() == 1
        assert db.execute(text("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'ban dau'")).scalar() == 0
    engine.dispose()

    # the next crawl of the unchanged article adds no version
    archive = Archive(create_archive_engine(f"sqlite:///{path}"))
    sync_sources(archive.engine, load_sources().values())
    same = Article(url="https://znews.vn/a-post1.html", title="Tiêu đề", authors=("Hoàng Vũ",),
                   published_at=datetime(2025, 6, 30, 22, 30, tzinfo=timezone.utc), modified_at=None, language="vi",
                   section=None, tags=(), summary=None, text="Thế giới. Bản sửa.")
    assert versions_of(archive, same.url)[-1].content_hash == version_hash(same)
    assert record_fetch(archive, FetchRecord(url=same.url, source="znews", article=same,
                                            fetched_at=datetime(2025, 7, 3, tzinfo=timezone.utc))) == "unchanged"

    downgrade(archive.engine, "0001")
    assert "article_urls" not in names(path, "table") and "latest_versions" in names(path, "view")
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM article_versions").fetchone()[0] == 2
    archive.close()


def test_leaf_tables_are_without_rowid_on_sqlite_and_keep_their_rows(tmp_path):
    """0010: simhash_bands and version_authors are their primary keys' b-trees (one copy of
    each row, not a table plus an index); the rows and the secondary indexes survive both ways."""
    from sqlalchemy import text

    path = tmp_path / "archive.db"
    engine = create_archive_engine(f"sqlite:///{path}")
    upgrade(engine, "0009")
    with engine.begin() as db:
        db.execute(text("INSERT INTO sources (id, name, language, timezone, domains) VALUES (1, 'znews', 'vi', 'UTC', '[]')"))
        db.execute(text("INSERT INTO articles (id, source_id, url, first_seen_at, last_fetched_at, last_changed_at) "
                        "VALUES (1, 1, 'https://znews.vn/a', '2025-07-01', '2025-07-01', '2025-07-01')"))
        db.execute(text("""INSERT INTO article_versions (id, article_id, version, fetched_at, title, authors, tags, text, content_hash)
                           VALUES (7, 1, 1, '2025-07-01', 't', '["A", "B"]', '[]', 'x', 'h')"""))
        db.execute(text("INSERT INTO simhash_bands VALUES (0, 42, 7, 1), (1, -3, 7, 1)"))
        db.execute(text("INSERT INTO version_authors VALUES (7, 0, 1, 'A'), (7, 1, 1, 'B')"))

    def state():
        with sqlite3.connect(path) as db:
            ddl = {r[0]: r[1] for r in db.execute("SELECT name, sql FROM sqlite_master WHERE tbl_name IN "
                                                  "('simhash_bands', 'version_authors')")}
            rows = (db.execute("SELECT * FROM simhash_bands ORDER BY band").fetchall(),
                    db.execute("SELECT * FROM version_authors ORDER BY position").fetchall())
            plan = " ".join(r[3] for r in db.execute("EXPLAIN QUERY PLAN SELECT version_id FROM simhash_bands "
                                                      "WHERE band = 0 AND value = 42"))
        return ddl, rows, plan

    ddl, rows_before, _ = state()
    assert "WITHOUT ROWID" not in ddl["simhash_bands"] and "sqlite_autoindex_simhash_bands_1" in ddl
    upgrade(engine)
    ddl, rows, plan = state()
    assert all("WITHOUT ROWID" in ddl[t] for t in ("simhash_bands", "version_authors"))
    assert not any(name.startswith("sqlite_autoindex") for name in ddl)
    assert {"ix_version_authors_name", "ix_version_authors_article_id"} <= set(ddl)
    assert rows == rows_before and "USING PRIMARY KEY" in plan
    downgrade(engine, "0009")
    ddl, rows, _ = state()
    assert "WITHOUT ROWID" not in ddl["version_authors"] and rows == rows_before
    assert "ix_version_authors_name" in ddl
    engine.dispose()


def test_fts_merges_eight_segments_at_a_time_on_sqlite(tmp_path):
    """0011: articles_fts's automerge is 8 (FTS5's default 4 made its merges most of a new
    version's store cost at 100k articles); the downgrade puts the default back."""
    path = tmp_path / "archive.db"
    engine = create_archive_engine(f"sqlite:///{path}")

    def automerge() -> int | None:
        with sqlite3.connect(path) as db:
            row = db.execute("SELECT v FROM articles_fts_config WHERE k = 'automerge'").fetchone()
        return row and row[0]

    upgrade(engine, "0010")
    assert automerge() is None  # FTS5's default, 4
    upgrade(engine)
    assert automerge() == 8
    downgrade(engine, "0010")
    assert automerge() == 4
    engine.dispose()


def test_fts_indexing_per_batch_upgrades_and_downgrades_with_versions_pending(tmp_path):
    """0013: the insert trigger notes a new version in articles_fts_pending (the store indexes
    them per batch); the downgrade indexes what is still pending and puts 0002's row triggers back."""
    from sqlalchemy import text

    path = tmp_path / "archive.db"
    engine = create_archive_engine(f"sqlite:///{path}")
    upgrade(engine, "0012")
    version = ("INSERT INTO article_versions (id, article_id, version, fetched_at, title, authors, tags, text, content_hash)"
               " VALUES (:id, 1, :version, '2025-07-01', 't', '[]', '[]', :text, 'h')")

    def found(words: str) -> int:
        with sqlite3.connect(path) as db:
            return db.execute("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", (words,)).fetchone()[0]

    with engine.begin() as db:
        db.execute(text("INSERT INTO sources (id, name, language, timezone, domains) VALUES (1, 'znews', 'vi', 'UTC', '[]')"))
        db.execute(text("INSERT INTO articles (id, source_id, url, first_seen_at, last_fetched_at, last_changed_at) "
                        "VALUES (1, 1, 'https://znews.vn/a', '2025-07-01', '2025-07-01', '2025-07-01')"))
        db.execute(text(version), {"id": 1, "version": 1, "text": "first words"})
    assert found("first") == 1
    upgrade(engine)
    assert found("first") == 1 and "articles_fts_pending" in names(path, "table")
    with engine.begin() as db:  # written by hand: pending until a store indexes it, or the downgrade
        db.execute(text(version), {"id": 2, "version": 2, "text": "second words"})
    assert (found("first"), found("second")) == (1, 0)
    downgrade(engine, "0012")
    assert (found("first"), found("second")) == (0, 1) and "articles_fts_pending" not in names(path, "table")
    with engine.begin() as db:  # 0002's trigger again: indexed by its INSERT
        db.execute(text(version), {"id": 3, "version": 3, "text": "third words"})
    assert (found("second"), found("third")) == (0, 1)
    upgrade(engine)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT count(*) FROM articles_fts_pending").fetchone()[0] == 0
    engine.dispose()
