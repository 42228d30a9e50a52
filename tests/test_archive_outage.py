"""The archive's database stops answering mid-crawl (crawler/outage.py, extensions/archive.py):
the batches wait for it, never dropped; back within ARCHIVE_OUTAGE_LIMIT, every page is
archived once; past it, the crawl stops in one line with its run failed and exit 1. A
PostgreSQL archive reached through a TCP forwarder the test cuts (tests/tcpproxy.py)."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from urllib.parse import urlsplit

import pytest
from sqlalchemy import create_engine, text

from crawler.extensions.archive import is_unreachable
from tests.conftest import POSTGRES_URL, drop_postgres_schema, postgres_url, query_url
from tests.tcpproxy import TcpProxy
from tests.mirrorcrawl import CountingMirror, crawl, make_web, read_log, stop_started


@pytest.fixture
def proxied_archive():
    """(the archive's URL through a TcpProxy, its URL direct, the proxy)."""
    direct = postgres_url()
    target = urlsplit(POSTGRES_URL)
    with TcpProxy((target.hostname, target.port or 5432)) as proxy:
        yield direct.replace(f"{target.hostname}:{target.port or 5432}", f"127.0.0.1:{proxy.port}"), direct, proxy
        stop_started()
    drop_postgres_schema()


def count(url: str, sql: str) -> int:
    try:
        return query_url(url, sql)[0][0]
    except Exception:  # noqa: BLE001 - not created yet
        return 0


def wait_for(url: str, sql: str, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while count(url, sql) < at_least and time.monotonic() < deadline:
        time.sleep(0.1)


@contextmanager
def crawling_into(tmp_path, archive: tuple[str, str, TcpProxy], limit: int):  # noqa: ANN201
    """A crawl into the proxied archive with ARCHIVE_OUTAGE_LIMIT ``limit``, once it has stored
    10 fetches: (urls, mirror, process), the mirror up."""
    url, direct, _ = archive
    urls, seeds = make_web(tmp_path, 60, delay=0.3)  # ~10 s: time for an outage in the middle
    with CountingMirror(tmp_path / "web") as mirror:
        process = crawl(mirror, seeds, tmp_path / "unused.db", "-s", f"ARCHIVE_URL={url}", "-s", "CONCURRENT_REQUESTS=2",
                        "-s", "ARCHIVE_BATCH_SIZE=5", "-s", f"ARCHIVE_OUTAGE_LIMIT={limit}")
        wait_for(direct, "SELECT count(*) FROM fetches", 10)
        yield urls, mirror, process


def test_the_crawl_waits_for_an_archive_database_that_comes_back(tmp_path, proxied_archive):
    _, direct, proxy = proxied_archive
    with crawling_into(tmp_path, proxied_archive, limit=60) as (urls, mirror, process):
        proxy.cut()
        time.sleep(3)
        proxy.restore()
        process.wait(timeout=180)
    log = read_log(process)
    assert process.returncode == 0, log[-4000:]
    assert log.count("does not answer") == 1 and "answers again after" in log, log[-4000:]
    assert "could not store a batch" not in log and "Traceback" not in log, log[-4000:]
    assert count(direct, "SELECT count(*) FROM articles") == len(urls)
    assert count(direct, "SELECT count(*) FROM article_versions") == len(urls)
    assert count(direct, "SELECT count(*) FROM crawl_runs WHERE status = 'finished'") == 1


def test_an_archive_database_gone_past_the_limit_stops_the_crawl_in_one_line(tmp_path, proxied_archive):
    _, direct, proxy = proxied_archive
    with crawling_into(tmp_path, proxied_archive, limit=2) as (urls, mirror, process):
        proxy.cut()
        process.wait(timeout=120)
        fetched = len(mirror.article_requests(urls))
    log = read_log(process)
    assert process.returncode == 1, log[-4000:]
    assert log.count("does not answer") == 1 and "Traceback" not in log, log[-4000:]
    assert "did not answer for 2 s" in log and "the crawl stops (archive_lost)" in log, log[-4000:]
    # the summary line says the run failed and why, and how many visits could not be stored
    summary = [line for line in log.splitlines() if "crawl run " in line and " failed — " in line]
    assert summary and "did not answer for 2 s" in summary[-1] and "not stored" in summary[-1], log[-4000:]
    assert fetched < len(urls)  # it stopped fetching what it could not keep


def test_only_a_database_that_does_not_answer_is_waited_for(tmp_path):
    """SQLite's write lock held past the busy timeout is waited for; a refused write is not."""
    from sqlalchemy.exc import IntegrityError, OperationalError

    path = tmp_path / "a.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    holder.execute("BEGIN IMMEDIATE")
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": 0.1})
    with pytest.raises(OperationalError) as locked:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
    assert is_unreachable(locked.value)
    holder.execute("INSERT INTO t VALUES (1)")
    holder.execute("COMMIT")
    with pytest.raises(IntegrityError) as refused:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO t VALUES (1)"))
    assert not is_unreachable(refused.value)
    engine.dispose()


def test_a_listing_read_while_the_archive_is_away_requests_its_articles_unconditionally(monkeypatch):
    """A discovery spider asks which announced articles are archived (spiders/base.py): with
    the database away it treats them all as new — each request goes out without validators,
    and an unchanged page is stored `unchanged` later — and the outage is on record, instead of
    the listing's links being lost with a traceback."""
    from types import SimpleNamespace

    from scrapy.utils.test import get_crawler
    from sqlalchemy.exc import OperationalError

    from crawler.outage import Outage
    from crawler.spiders import base
    from crawler.spiders.feeds import FeedsSpider

    crawler = get_crawler(FeedsSpider, {"MIRROR_URL": "bundled"})
    spider = FeedsSpider.from_crawler(crawler)
    outage = Outage(crawler, "archive: test", 60, "ARCHIVE_OUTAGE_LIMIT", "archive_lost")

    def away(archive, urls):  # noqa: ANN001
        raise OperationalError("SELECT …", {}, Exception("server closed the connection unexpectedly"),
                               connection_invalidated=True)

    monkeypatch.setattr(base, "validators_of", away)
    monkeypatch.setattr(base, "archive_of", lambda crawler: None)
    monkeypatch.setattr(base, "writer_of", lambda crawler: SimpleNamespace(outage=outage))
    assert spider._known(["https://znews.vn/a-post1.html"]) == {}
    assert outage.down and "server closed the connection" in outage.cause
