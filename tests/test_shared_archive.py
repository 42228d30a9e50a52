"""Several processes, and hosts, on one archive (issue 13): real OS processes storing the
same articles at once, first runs migrating an empty archive at once, the seeders' lock in
the PostgreSQL server, and where each run's WARC files live. On SQLite and PostgreSQL; the
PostgreSQL cases are skipped, saying why, where no server answers."""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text

from crawler.archive.db import default_warc_dir
from crawler.archive.migrate import downgrade, head_revision, upgrade
from crawler.archive.search import search
from crawler.archive.records import FetchRecord
from crawler.archive.runs import start_run
from crawler.archive.sources import sync_sources
from crawler.archive.store import Archive
from crawler.archive.visits import record_fetch, record_fetches, store_visits
from crawler.extract import Article
from crawler.advisory_lock import ServerLock
from crawler.lock import AlreadyRunning, run_lock
from crawler.sources import load_sources
from tests.conftest import PROJECT_ROOT, drop_postgres_schema, postgres_url, query_url as rows

T0 = datetime(2025, 7, 2, tzinfo=timezone.utc)
ARTICLES = 50
BATCH = 10  # five batches each (a crawl's batch is up to ARCHIVE_BATCH_SIZE pages)
WAIT = 120  # seconds a process may take under load: generous, never a timing assertion
SPAWN = multiprocessing.get_context("spawn")  # a fresh interpreter each, as separate hosts would be


def article(i: int, text: str = "Bản đầu") -> Article:
    return Article(url=f"https://znews.vn/bai-{i}-post{2000 + i}.html", title=f"Bài {i}", authors=("Hoàng Vũ",),
                   published_at=T0, modified_at=None, language="vi", section=None, tags=(), summary=None,
                   text=f"{text} của bài số {i}: thế giới.\n{'Đoạn dài. ' * 20}")


def visits(text: str, minutes: int, reverse: bool) -> list[list[FetchRecord]]:
    """The 50 visits in batches; ``reverse`` takes each batch backwards, so two processes
    take the same rows in opposite orders (PostgreSQL then reports deadlocks, retried too)."""
    records = [FetchRecord(url=article(i).url, source="znews", http_status=200, article=article(i, text),
                           fetched_at=T0 + timedelta(minutes=minutes)) for i in range(ARTICLES)]
    batches = [records[i:i + BATCH] for i in range(0, ARTICLES, BATCH)]
    return [batch[::-1] for batch in batches] if reverse else batches


def store_at_once(url: str, barrier, text: str, minutes: int, reverse: bool) -> list[str]:  # noqa: ANN001
    """One process: open the archive, wait for the other, store every batch."""
    archive = Archive.open(url)
    try:
        sync_sources(archive.engine, load_sources().values())
        barrier.wait(WAIT)
        return [s.outcome for batch in visits(text, minutes, reverse) for s in record_fetches(archive, batch)]
    finally:
        archive.close()


def first_run(url: str, barrier) -> str:  # noqa: ANN001
    """What a crawl does first on an archive: migrate it, refresh the sources, start its run."""
    barrier.wait(WAIT)
    archive = Archive.open(url)
    try:
        sync_sources(archive.engine, load_sources().values())
        start_run(archive.engine, "sources", warc_dir=archive.warc_dir)
        return head_revision()
    finally:
        archive.close()


def in_processes(target, *calls: tuple) -> list:  # noqa: ANN001
    """``target(*args)`` in one spawned process per call, started together; their results."""
    with SPAWN.Manager() as manager:
        barrier = manager.Barrier(len(calls))
        with SPAWN.Pool(len(calls)) as pool:
            pending = [pool.apply_async(target, (args[0], barrier, *args[1:])) for args in calls]
            return [result.get(WAIT * 2) for result in pending]


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'archive.db'}"
        return
    yield postgres_url()
    drop_postgres_schema()


def assert_one_article_per_url_and_one_version_per_number(url: str) -> None:
    assert rows(url, "SELECT url FROM articles GROUP BY url HAVING count(*) > 1") == []
    assert rows(url, "SELECT article_id, version FROM article_versions GROUP BY article_id, version "
                     "HAVING count(*) > 1") == []
    assert rows(url, "SELECT url FROM article_urls GROUP BY url HAVING count(*) > 1") == []


def test_two_processes_storing_the_same_50_articles_make_one_article_and_one_version_each(url):
    outcomes = in_processes(store_at_once, (url, "Bản đầu", 0, False), (url, "Bản đầu", 1, False))
    assert_one_article_per_url_and_one_version_per_number(url)
    assert rows(url, "SELECT count(*) FROM articles")[0][0] == ARTICLES
    assert rows(url, "SELECT count(*) FROM article_versions")[0][0] == ARTICLES
    assert rows(url, "SELECT count(*) FROM fetches")[0][0] == 2 * ARTICLES  # every visit kept
    # each article was new to exactly one of them; the other found it stored
    assert sorted(outcomes[0] + outcomes[1]) == ["new"] * ARTICLES + ["unchanged"] * ARTICLES


def test_two_processes_changing_the_same_50_articles_number_their_versions_without_a_gap(url):
    archive = Archive.open(url)
    sync_sources(archive.engine, load_sources().values())
    for batch in visits("Bản đầu", 0, False):
        record_fetches(archive, batch)
    archive.close()
    outcomes = in_processes(store_at_once, (url, "Bản sửa A", 10, False), (url, "Bản sửa B", 11, True))
    assert_one_article_per_url_and_one_version_per_number(url)
    assert outcomes[0] == outcomes[1] == ["changed"] * ARTICLES
    numbers = rows(url, "SELECT article_id, min(version), max(version), count(*) FROM article_versions "
                        "GROUP BY article_id")
    assert len(numbers) == ARTICLES and {tuple(r[1:]) for r in numbers} == {(1, 3, 3)}


def test_two_processes_changing_the_same_articles_leave_the_search_index_on_each_newest_version(url):
    """The full-text index after the race above: one entry an article, its newest version's
    (SQLite's is written per batch from articles_fts_pending, migration 0013)."""
    archive = Archive.open(url)
    sync_sources(archive.engine, load_sources().values())
    for batch in visits("Bản đầu", 0, False):
        record_fetches(archive, batch)
    archive.close()
    in_processes(store_at_once, (url, "Bản sửa A", 10, False), (url, "Bản sửa B", 11, True))
    newest = set(rows(url, "SELECT id FROM article_versions v WHERE version = "
                           "(SELECT max(version) FROM article_versions WHERE article_id = v.article_id)"))
    assert len(newest) == ARTICLES
    if url.startswith("sqlite"):
        assert set(rows(url, "SELECT rowid FROM articles_fts WHERE articles_fts MATCH 'the gioi'")) == newest
        assert rows(url, "SELECT count(*) FROM articles_fts_pending") == [(0,)]
        with sqlite3.connect(url.removeprefix("sqlite:///")) as db:  # FTS5's own check: raises if corrupt
            db.execute("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')")
    else:
        assert set(rows(url, "SELECT version_id FROM articles_search")) == newest


def test_simultaneous_first_runs_on_an_empty_archive_all_succeed(url):
    assert in_processes(first_run, (url,), (url,)) == [head_revision()] * 2
    assert rows(url, "SELECT version_num FROM alembic_version") == [(head_revision(),)]
    assert rows(url, "SELECT count(*), count(DISTINCT name) FROM sources")[0] == (5, 5)
    assert rows(url, "SELECT count(*) FROM crawl_runs WHERE warc_dir IS NOT NULL")[0][0] == 2


def test_a_run_records_where_its_warc_files_go(url, tmp_path):
    archive = Archive.open(url, warc_dir=tmp_path / "shared" / "warc")
    try:
        start_run(archive.engine, "sources", warc_dir=archive.warc_dir)
    finally:
        archive.close()
    assert rows(url, "SELECT warc_dir, host FROM crawl_runs") == [(str(tmp_path / "shared" / "warc"), os.uname()[1])]


def test_a_server_archive_has_a_warc_folder_of_its_own():
    assert default_warc_dir("postgresql+psycopg://crawler@db.example.org/news") == Path("warc/db.example.org-news")
    assert default_warc_dir("postgresql+psycopg://crawler@db.example.org/other") == Path("warc/db.example.org-other")
    assert default_warc_dir("postgresql+psycopg://u@h:5433/news?options=-csearch_path%3Dlemonde") == \
        Path("warc/h-news-lemonde")
    assert default_warc_dir("sqlite:////srv/a/archive.db") == Path("/srv/a/warc")


# -- the seeders' lock on PostgreSQL ---------------------------------------------------


@pytest.fixture
def pg_url():
    yield postgres_url()
    drop_postgres_schema()


def test_a_postgresql_archive_is_locked_in_the_server_and_sqlite_by_a_file(tmp_path):
    assert isinstance(run_lock("postgresql+psycopg://u@h/db", "ignored.lock"), ServerLock)
    assert run_lock(f"sqlite:///{tmp_path / 'a.db'}", None).path == Path(f"{tmp_path / 'a.db'}.lock")


def test_a_second_seeder_on_postgresql_is_refused_with_exit_75(pg_url):
    with ServerLock(pg_url):
        with pytest.raises(AlreadyRunning, match=r"another run holds the recrawl lock .* archive recrawl "):
            ServerLock(pg_url).acquire()
        command = [sys.executable, "-m", "crawler.cli", "--archive", pg_url, "recrawl", "-s", "MIRROR_URL=bundled"]
        result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=WAIT)
    assert result.returncode == 75, result.stderr[-2000:]
    assert "another run holds the recrawl lock" in result.stdout and f"pid {os.getpid()}" in result.stdout
    with ServerLock(pg_url):  # released with the first holder's session
        pass


def test_the_lock_of_a_killed_seeder_is_released_by_the_server(pg_url):
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; from crawler.advisory_lock import ServerLock; "
                               "lock = ServerLock(sys.argv[1]).acquire(); print('held', flush=True); time.sleep(600)", pg_url],
        cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(AlreadyRunning):
            ServerLock(pg_url).acquire()
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(WAIT)
    lock = None
    for _ in range(100):  # the server notices the closed socket at once; allow it a moment under load
        try:
            lock = ServerLock(pg_url).acquire()
            break
        except AlreadyRunning:
            time.sleep(0.2)
    assert lock is not None
    lock.release()


def test_archives_in_other_schemas_do_not_share_a_lock(pg_url):
    other = postgres_url("_other")
    try:
        with ServerLock(pg_url), ServerLock(other):
            pass
    finally:
        drop_postgres_schema("_other")


# -- search on PostgreSQL: the index the migration chain maintains ------------------------------


def test_the_postgresql_search_index_follows_the_newest_version_through_downgrade_and_upgrade(pg_url):
    archive = Archive.open(pg_url)
    sync_sources(archive.engine, load_sources().values())
    first = article(1, "Bản đầu")
    record_fetch(archive, FetchRecord(url=first.url, source="znews", http_status=200, article=first, fetched_at=T0))
    downgrade(archive.engine, "0008")
    assert rows(pg_url, "SELECT to_regclass('articles_search')") == [(None,)]
    changed = replace(first, text="Bản sửa: Đà Nẵng đón khách.")
    record_fetch(archive, FetchRecord(url=first.url, source="znews", http_status=200, article=changed,
                                     fetched_at=T0 + timedelta(hours=1)))
    upgrade(archive.engine)  # the index is built from the newest versions
    try:
        assert [hit.url for hit in search(archive, "da nang")] == [first.url]
        assert search(archive, "ban dau") == []
        third = replace(first, text="Bản ba.")
        record_fetch(archive, FetchRecord(url=first.url, source="znews", http_status=200, article=third,
                                         fetched_at=T0 + timedelta(hours=2)))
        assert search(archive, "da nang") == [] and [hit.url for hit in search(archive, "ban ba")] == [first.url]
    finally:
        archive.close()


def test_a_batch_that_loses_a_race_is_resolved_and_stored_again(pg_url, caplog):
    """Deterministically: the other transaction holds the new article uncommitted, this
    batch waits on its unique key, the other commits, and this one finds the article stored."""
    archive = Archive.open(pg_url)
    sync_sources(archive.engine, load_sources().values())
    (mine,), (theirs,) = visits("Bản đầu", 1, False)[0][:1], visits("Bản đầu", 0, False)[0][:1]
    outcomes = []
    caplog.set_level(logging.DEBUG, logger="crawler.archive.visits")
    try:
        with archive.engine.begin() as other:
            store_visits(other, [theirs], archive.url_forms, archive.policy, str, T0)
            blocker = other.execute(text("SELECT pg_backend_pid()")).scalar()
            racer = threading.Thread(target=lambda: outcomes.extend(s.outcome for s in record_fetches(archive, [mine])))
            racer.start()
            for _ in range(WAIT * 10):  # until the racer waits on our uncommitted row
                if rows(pg_url, f"SELECT count(*) FROM pg_stat_activity WHERE {blocker} = ANY(pg_blocking_pids(pid))")[0][0]:
                    break
                time.sleep(0.1)
        racer.join(WAIT)
        assert outcomes == ["unchanged"]
        assert "another process stored some of this batch first (UniqueViolation)" in caplog.text
        assert rows(pg_url, "SELECT count(*), count(DISTINCT article_id) FROM article_versions")[0] == (1, 1)
    finally:
        archive.close()


def test_a_seeder_that_cannot_reach_the_server_exits_2_in_one_line(capsys):
    from crawler.recrawl import RecrawlOptions, run

    status = run(RecrawlOptions(archive="postgresql+psycopg://postgres:secret@127.0.0.1:1/test",
                                settings={"MIRROR_URL": "bundled"}))
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and line.startswith(
        "archive recrawl: cannot take the recrawl lock in postgresql+psycopg://postgres:***@127.0.0.1:1/test: ")
    assert "secret" not in line
