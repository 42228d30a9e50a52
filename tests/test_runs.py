"""Runs that say what happened: which process ran each, and a killed run marked
``interrupted`` by the next one, never a live one (issue 9, item 11)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest
from sqlalchemy import inspect, text

from crawler.archive.db import create_archive_engine
from crawler.archive.migrate import downgrade, upgrade
from crawler.archive.runs import finish_run, interrupt_stale_runs, start_run
from crawler.archive.store import Archive
from crawler.lock import Process, process_start
from crawler.mirror import MirrorServer
from tests.conftest import PROJECT_ROOT, drop_postgres_schema, postgres_url, query, run_crawl

ZNEWS = "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html"
DANTRI = "https://dantri.com.vn/cong-nghe/meta-bao-chi-san-nao-ai-mark-zuckerberg-khoi-mao-cuoc-chien-20250702002436713.htm"
RUN_COLUMNS = {"reason", "host", "pid", "pid_start"}


# -- the process a run records -------------------------------------------------------------


def test_this_process_is_alive_and_a_finished_one_is_not():
    assert Process.current().is_alive()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    gone = Process(Process.current().host, child.pid, process_start(child.pid))
    child.wait()
    assert not gone.is_alive()


def test_a_pid_given_to_another_process_is_not_the_run_process():
    me = Process.current()
    assert me.start is not None, "no /proc here"
    assert not Process(me.host, me.pid, me.start + 1).is_alive()


def test_a_killed_process_its_parent_has_not_reaped_is_gone():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    process = Process(Process.current().host, child.pid, process_start(child.pid))
    assert process.is_alive()
    child.send_signal(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and process.is_alive():  # a zombie until wait()
        time.sleep(0.05)
    assert not process.is_alive()
    child.wait()


# -- the archive's verb --------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def archive(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'archive.db'}" if request.param == "sqlite" else postgres_url()
    archive = Archive.open(url)
    yield archive
    archive.close()
    if request.param == "postgresql":
        drop_postgres_schema()


def runs(archive):
    with archive.engine.connect() as db:
        return {row.id: row for row in db.execute(text("SELECT * FROM crawl_runs"))}


def test_only_runs_of_dead_processes_on_this_host_are_marked_interrupted(archive):
    here = Process.current()
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    dead = Process(here.host, child.pid, process_start(child.pid))
    child.wait()
    live = start_run(archive.engine, "sources")
    killed = start_run(archive.engine, "feeds", process=dead)
    elsewhere = start_run(archive.engine, "sitemaps", process=Process("other-host", dead.pid, dead.start))
    before_0005 = start_run(archive.engine, "listings", process=Process(here.host, None, None))
    finished = start_run(archive.engine, "revisit", process=dead)
    finish_run(archive.engine, finished, "finished", {})

    assert interrupt_stale_runs(archive.engine) == [killed]
    rows = runs(archive)
    assert rows[killed].status == "interrupted" and rows[killed].finished_at is not None
    assert f"process {dead.pid} on {here.host}" in rows[killed].reason
    assert {rows[i].status for i in (live, elsewhere, before_0005)} == {"running"}
    assert rows[finished].status == "finished"
    assert (rows[live].host, rows[live].pid, rows[live].pid_start) == (here.host, here.pid, here.start)
    assert interrupt_stale_runs(archive.engine) == []


def test_a_failed_run_keeps_its_reason(archive):
    run_id = start_run(archive.engine, "feeds")
    finish_run(archive.engine, run_id, "failed", {"fetch/failed": 3}, "3 of 3 requests failed (connection refused)")
    row = runs(archive)[run_id]
    assert (row.status, row.reason) == ("failed", "3 of 3 requests failed (connection refused)")


# -- migration 0005 ------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migration_0005_adds_and_removes_the_run_columns_keeping_the_runs(backend, tmp_path):
    url = f"sqlite:///{tmp_path / 'archive.db'}" if backend == "sqlite" else postgres_url()
    engine = create_archive_engine(url)
    try:
        upgrade(engine, "0004")
        with engine.begin() as db:
            db.execute(text("INSERT INTO crawl_runs (spider, started_at, status) "
                            "VALUES ('feeds', '2025-07-01 00:00:00+00', 'running')"))
        assert not RUN_COLUMNS & _columns(engine)
        upgrade(engine)
        assert RUN_COLUMNS <= _columns(engine)
        with engine.connect() as db:
            assert db.execute(text("SELECT spider, pid FROM crawl_runs")).one() == ("feeds", None)
        downgrade(engine, "0004")
        assert not RUN_COLUMNS & _columns(engine)
        with engine.connect() as db:
            assert db.execute(text("SELECT spider, status FROM crawl_runs")).one() == ("feeds", "running")
        upgrade(engine)
    finally:
        engine.dispose()
        if backend == "postgresql":
            drop_postgres_schema()


def _columns(engine) -> set[str]:
    return {column["name"] for column in inspect(engine).get_columns("crawl_runs")}


# -- real crawls ---------------------------------------------------------------------------


def slow(web, url: str, seconds: float) -> None:
    """Make the mirror answer ``url`` ``seconds`` late."""
    page = web / url.split("://", 1)[1]
    sidecar = page.with_name(page.name + ".headers")
    sidecar.write_text((sidecar.read_text() if sidecar.exists() else "") + f"Delay: {seconds}\n")


def start_crawl(mirror_url: str, archive, url: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "scrapy", "crawl", "sources", "-a", f"urls={url}",
               "-s", f"MIRROR_URL={mirror_url}", "-s", f"ARCHIVE_URL=sqlite:///{archive}",
               "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "WARC_ENABLED=False"]
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHIVE_URL", "MIRROR_URL")}
    return subprocess.Popen(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)


def wait_for_running_run(archive, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if query(archive, "SELECT count(*) FROM crawl_runs WHERE status = 'running'")[0][0]:
                return
        except sqlite3.OperationalError:
            pass  # not created yet
        time.sleep(0.1)
    raise AssertionError(f"the crawl never recorded a running run:\n{process.stderr.read()[-2000:]}")


def test_a_crawl_killed_with_sigkill_is_marked_interrupted_by_the_next_crawl(extra_web, tmp_path):
    archive = tmp_path / "archive.db"
    slow(extra_web, ZNEWS, 30)
    with MirrorServer(extra_web) as server:
        process = start_crawl(server.url, archive, ZNEWS)
        wait_for_running_run(archive, process)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        (killed,) = query(archive, "SELECT * FROM crawl_runs")
        assert (killed["status"], killed["pid"]) == ("running", process.pid)  # what kill -9 leaves
        result = run_crawl(server.url, archive, "-a", f"urls={DANTRI}")
    rows = query(archive, "SELECT id, status, reason FROM crawl_runs ORDER BY id")
    assert [r["status"] for r in rows] == ["interrupted", "finished"]
    assert f"process {process.pid}" in rows[0]["reason"]
    assert "crawl run 1 was left running by a process that is gone; marked interrupted" in result.stderr


def test_a_crawl_that_is_still_running_is_never_marked_interrupted(extra_web, tmp_path):
    archive = tmp_path / "archive.db"
    slow(extra_web, ZNEWS, 8)
    with MirrorServer(extra_web) as server:
        first = start_crawl(server.url, archive, ZNEWS)
        wait_for_running_run(archive, first)
        run_crawl(server.url, archive, "-a", f"urls={DANTRI}", "-s", "WARC_ENABLED=False")
        assert first.poll() is None, "the first crawl ended before the second: nothing was proven"
        statuses = [r[0] for r in query(archive, "SELECT status FROM crawl_runs ORDER BY id")]
        assert statuses == ["running", "finished"]
        assert first.wait(timeout=120) == 0, first.stderr.read()[-2000:]
    statuses = [r[0] for r in query(archive, "SELECT status FROM crawl_runs ORDER BY id")]
    assert statuses == ["finished", "finished"]


def test_a_run_whose_end_cannot_be_recorded_is_failed(monkeypatch):
    from scrapy.spiders import Spider
    from scrapy.utils.test import get_crawler
    from sqlalchemy.exc import OperationalError

    from crawler.pipelines.archive import ArchivePipeline

    class FullDisk:
        engine = None

    def finish_run(*args):
        raise OperationalError("UPDATE crawl_runs", {}, sqlite3.OperationalError("database or disk is full"))

    monkeypatch.setattr("crawler.pipelines.archive.finish_run", finish_run)
    crawler = get_crawler(settings_dict={"LOG_LEVEL": "INFO"})
    pipeline = ArchivePipeline(crawler)
    pipeline.archive, pipeline.run_id, pipeline.max_error_share = FullDisk(), 7, 0.5
    pipeline.spider_closed(Spider(name="feeds"), "finished")
    assert crawler.stats.get_value("archive/run_status") == "failed"
    assert crawler.stats.get_value("archive/run_reason") == "its end could not be recorded: database or disk is full"
