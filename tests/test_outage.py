"""A total outage never looks like success: every failed request is a ``fetches`` row with a
specific reason and one log line, the runs are ``failed`` and the commands exit 1 (issue 9, item 3)."""

from __future__ import annotations

import re
import socket
import sqlite3
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from scrapy import Request
from scrapy.exceptions import DownloadConnectionRefusedError, IgnoreRequest
from scrapy.http import Response
from scrapy.utils.test import get_crawler

from crawler.middlewares.failures import FailuresMiddleware, request_failed
from crawler.pipelines.archive import run_outcome
from crawler.sources import load_sources
from tests.conftest import query, run_crawl
from tests.faultserver import FaultServer, mirror_route
from tests.test_cron import recrawl

SOURCES = load_sources()
HOSTS = {urlsplit(url).netloc for s in SOURCES.values() for url in (*s.start_urls, *s.feeds, *s.listings)}


def closed_port_url() -> str:
    """A local address nothing listens on: every connection is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def fetches(archive) -> dict[str, sqlite3.Row]:
    return {row["url"]: row for row in query(archive, "SELECT * FROM fetches")}


def assert_short(stderr: str, problems: int, spiders: int = 1) -> None:
    """No traceback, and no more WARNING/ERROR lines than ``problems`` (a line per failed
    request and run); the INFO lines are Scrapy's start-up report, some 70 lines a spider."""
    assert "Traceback" not in stderr
    # Alembic's lines on a fresh archive (one or more per revision) grow with the schema's
    # history, not with the crawl's problems: not counted
    lines = [line for line in stderr.splitlines() if "[alembic." not in line]
    assert len([line for line in lines if re.search(r"\] (WARNING|ERROR|CRITICAL): ", line)]) <= problems, stderr
    assert len(lines) <= 100 * spiders + problems, stderr


# -- whole crawls ----------------------------------------------------------------------------


def test_scrapy_crawl_with_every_site_unreachable_fails_with_a_row_and_a_line_per_request(tmp_path):
    archive = tmp_path / "archive.db"
    result = run_crawl(closed_port_url(), archive, check=False)
    assert result.returncode == 1
    (run,) = query(archive, "SELECT status, reason FROM crawl_runs")
    assert run["status"] == "failed"
    assert re.fullmatch(r"(\d+) of \1 requests failed \(connection refused\)", run["reason"]), run["reason"]
    rows = fetches(archive)
    articles = [url for s in SOURCES.values() for url in s.start_urls]
    robots = [f"https://{host}/robots.txt" for host in {urlsplit(url).netloc for url in articles}]
    for url in robots:
        assert rows[url]["outcome"] == "error" and "refused" in rows[url]["error"].lower(), url
    for url in articles:  # never asked for: an unreachable robots.txt disallows its host (RFC 9309)
        assert rows[url]["outcome"] == "skipped" and "refused" in rows[url]["error"].lower(), url
        assert sum(url in line for line in result.stderr.splitlines()) == 1, url  # one line per failure
    assert rows[robots[0]]["error"] == f"{robots[0]}: connection refused"
    assert_short(result.stderr, len(rows) + 1)


def test_recrawl_during_a_total_outage_exits_1_with_a_line_per_spider(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    run_crawl(mirror.url, archive)
    with sqlite3.connect(archive) as db:
        db.execute("UPDATE articles SET next_visit_at = '2000-01-01 00:00:00'")
    due = [r[0] for r in query(archive, "SELECT url FROM articles")]

    result = recrawl(archive, "-s", "RETRY_TIMES=0", mirror_url=closed_port_url())
    assert result.returncode == 1
    summary = [line for line in result.stderr.splitlines() if line.startswith("archive recrawl: ")]
    assert [line.split(":")[1].strip() for line in summary] == ["feeds", "sitemaps", "listings", "revisit"]
    assert all(re.fullmatch(r"archive recrawl: \w+: failed — (\d+) of \1 requests failed \(connection refused\)", line)
               for line in summary), summary
    runs = query(archive, "SELECT spider, status, reason FROM crawl_runs WHERE id > 1 ORDER BY id")
    assert [(r["spider"], r["status"]) for r in runs] == [
        ("feeds", "failed"), ("sitemaps", "failed"), ("listings", "failed"), ("revisit", "failed")]
    rows = {r["url"]: r for r in query(archive, "SELECT * FROM fetches WHERE crawl_run_id > 1")}
    discovery = [url for s in SOURCES.values() for url in (*s.feeds, *s.sitemaps, *s.listings)]
    robots = [f"https://{host}/robots.txt" for host in HOSTS]
    for url in robots:
        assert rows[url]["outcome"] == "error", url
        assert rows[url]["error"] == f"{url}: connection refused", rows[url]["error"]
    for url in (*discovery, *due):  # never asked for: an unreachable robots.txt disallows its host (RFC 9309)
        assert rows[url]["outcome"] == "skipped" and "connection refused" in rows[url]["error"], url
    failures = query(archive, "SELECT count(*) FROM fetches WHERE crawl_run_id > 1")[0][0]
    assert_short(result.stderr, failures + 4, spiders=4)  # a line per failed request and one per run


class Broken(BaseHTTPRequestHandler):
    """A server whose every page answers 500; robots.txt is missing (404: allow all)."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        status = 404 if self.path.endswith("/robots.txt") else 500
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:  # noqa: ANN002
        pass


@pytest.fixture
def broken_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Broken)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_feeds_answering_500_are_error_rows_with_the_status(broken_server, tmp_path):
    archive = tmp_path / "archive.db"
    result = run_crawl(broken_server, archive, "-s", "RETRY_TIMES=0", spider="feeds", check=False)
    assert result.returncode == 1
    (run,) = query(archive, "SELECT status, reason FROM crawl_runs")
    feeds = [url for s in SOURCES.values() for url in s.feeds]
    assert (run["status"], run["reason"]) == ("failed", f"{len(feeds)} of {len(feeds)} requests failed (HTTP 500)")
    rows = fetches(archive)
    assert set(rows) == set(feeds)  # robots.txt answered (404: allow all): not a failure
    for url in feeds:
        assert (rows[url]["outcome"], rows[url]["http_status"]) == ("error", 500)
        assert rows[url]["error"] == f"{url}: HTTP 500 Internal Server Error"
    assert_short(result.stderr, len(rows) + 1)


def test_a_feed_or_sitemap_that_cannot_be_read_is_a_failed_request(tmp_path):
    feed, sitemap = SOURCES["znews"].feeds[0], SOURCES["znews"].sitemaps[0]
    routes = {mirror_route(feed): lambda h: h.send_page("<html><body>Bảo trì hệ thống</body></html>"),
              mirror_route(sitemap): lambda h: h.send_page(b"", content_type="application/xml")}
    archive = tmp_path / "archive.db"
    with FaultServer(routes) as server:
        for spider in ("feeds", "sitemaps"):
            result = run_crawl(server.url, archive, "-a", "sources=znews", spider=spider, check=False)
            assert result.returncode == 1, result.stderr[-2000:]
            assert_short(result.stderr, 2)
    rows = fetches(archive)
    assert rows[feed]["error"] == f"{feed}: not an RSS/Atom feed (Content-Type: text/html; charset=utf-8)"
    assert rows[sitemap]["error"].startswith(f"{sitemap}: not a readable sitemap")
    assert {rows[u]["outcome"] for u in (feed, sitemap)} == {"error"}
    assert [r[0] for r in query(archive, "SELECT status FROM crawl_runs")] == ["failed", "failed"]


def test_one_failed_feed_among_working_ones_is_recorded_and_the_run_finishes(tmp_path):
    gone = SOURCES["dantri"].feeds[0]
    archive = tmp_path / "archive.db"
    with FaultServer({mirror_route(gone): lambda h: h.send_page("", status=404)}) as server:
        result = run_crawl(server.url, archive, "-a", "sources=znews,dantri", spider="feeds")
    assert result.returncode == 0
    row = fetches(archive)[gone]
    assert (row["outcome"], row["http_status"], row["error"]) == ("error", 404, f"{gone}: HTTP 404 Not Found")
    (run,) = query(archive, "SELECT status, reason, stats FROM crawl_runs")
    assert (run["status"], run["reason"]) == ("finished", None)
    assert '"fetch/failed": 1' in run["stats"]


def test_the_traceback_of_a_network_error_is_kept_for_debug_level(tmp_path):
    result = run_crawl(closed_port_url(), tmp_path / "archive.db", "-a", "sources=znews", "-s", "LOG_LEVEL=DEBUG",
                       check=False)
    assert result.returncode == 1
    assert "Traceback" in result.stderr and "ConnectionRefusedError" in result.stderr


# -- what counts as a failure ------------------------------------------------------------------


@pytest.fixture
def middleware():
    crawler = get_crawler(settings_dict={"LOG_LEVEL": "INFO"})
    records = []
    crawler.signals.connect(lambda record, warc: records.append(record), signal=request_failed, weak=False)
    return FailuresMiddleware.from_crawler(crawler), crawler.stats, records


def answer(middleware, url: str, status: int, **meta) -> None:
    request = Request(url, meta=meta, errback=(lambda f: None) if "source" in meta else None)
    middleware.process_response(request, Response(url, status=status, request=request))


@pytest.mark.parametrize(("url", "status", "meta", "failed"), [
    ("https://znews.vn/robots.txt", 404, {"dont_obey_robotstxt": True}, False),  # RFC 9309: allow all
    ("https://znews.vn/robots.txt", 200, {"dont_obey_robotstxt": True}, False),
    ("https://znews.vn/robots.txt", 503, {"dont_obey_robotstxt": True}, True),
    ("https://znews.vn/a-post1.html", 404, {"source": "znews"}, False),  # gone: news, not a failure
    ("https://znews.vn/a-post1.html", 410, {"source": "znews"}, False),
    ("https://znews.vn/a-post1.html", 403, {"source": "znews"}, True),
    ("https://znews.vn/a-post1.html", 304, {"source": "znews"}, False),
    ("https://znews.vn/rss/cong-nghe.rss", 404, {"feed_source": "znews"}, True),
    ("https://znews.vn/rss/cong-nghe.rss", 200, {"feed_source": "znews"}, False),
])
def test_which_answers_are_failures(middleware, url, status, meta, failed):
    mw, stats, records = middleware
    answer(mw, url, status, **meta)
    assert stats.get_value("fetch/failed", 0) == int(failed)
    robots_answered = url.endswith("robots.txt") and not failed
    assert stats.get_value("fetch/requests", 0) == (0 if robots_answered else 1)
    # a row from here only for what no spider callback sees (articles have their errback)
    assert len(records) == int(failed and "source" not in meta)


def test_a_network_error_is_a_row_naming_its_source_and_a_refused_request_is_not(middleware):
    mw, stats, records = middleware
    request = Request("https://dantri.com.vn/sitemap.xml", meta={"sitemap_source": "dantri"})
    mw.process_exception(request, DownloadConnectionRefusedError("Connection was refused by other side"))
    mw.process_exception(Request("https://znews.vn/private/x", meta={}), IgnoreRequest("Forbidden by robots.txt"))
    (record,) = records
    assert (record.source, record.outcome, record.http_status) == ("dantri", "error", None)
    assert record.error == "https://dantri.com.vn/sitemap.xml: connection refused"
    assert stats.get_value("fetch/failed/connection refused") == 1 and stats.get_value("fetch/requests") == 1


@pytest.mark.parametrize(("reason", "stats", "share", "outcome"), [
    ("finished", {}, 0.5, ("finished", None)),  # nothing to do is not a failure
    ("finished", {"fetch/requests": 10, "fetch/failed": 5}, 0.5, ("finished", None)),
    ("finished", {"fetch/requests": 10, "fetch/failed": 6, "fetch/failed/timed out": 4, "fetch/failed/HTTP 503": 2},
     0.5, ("failed", "6 of 10 requests failed (timed out, HTTP 503)")),
    ("finished", {"fetch/requests": 3, "fetch/failed": 3, "fetch/failed/connection refused": 3}, 1.0,
     ("failed", "3 of 3 requests failed (connection refused)")),
    ("closespider_timeout", {"fetch/requests": 4, "fetch/failed": 1}, 0.5, ("finished", None)),
    ("disk_full", {"fetch/requests": 4}, 0.5, ("failed", "the spider closed with reason 'disk_full'")),
    ("shutdown", {}, 0.5, ("interrupted", "the spider closed with reason 'shutdown'")),
])
def test_run_outcome(reason, stats, share, outcome):
    assert run_outcome(reason, stats, share) == outcome
