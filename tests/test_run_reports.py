"""Per-run reports (crawl_runs.report), health alarm rows, `archive runs`, and migration 0008's
backfill of fetches.source_id — on stored visits, without a crawl (tests/test_health_alarm.py crawls)."""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import text

from crawler import cli
from crawler.archive.db import create_archive_engine
from crawler.archive.health import HealthPolicy, check_run
from crawler.archive.migrate import downgrade, upgrade
from crawler.archive.records import FetchRecord
from crawler.archive.reports import reason
from crawler.archive.runs import finish_run, start_run
from crawler.archive.sources import sync_sources
from crawler.archive.store import Archive
from crawler.archive.visits import record_fetches
from crawler.extract import Article
from tests.conftest import drop_postgres_schema, postgres_url

POLICY = HealthPolicy(baseline_runs=10, min_baseline_runs=3, min_pages=2, body_ratio=0.5, field_drop=0.2,
                      skipped_rise=0.25, changed_share=0.9)
AT = datetime(2026, 12, 1, tzinfo=timezone.utc)


@pytest.fixture(params=["sqlite", "postgresql"])
def archive(request, tmp_path):
    url = f"sqlite:///{tmp_path / 'archive.db'}" if request.param == "sqlite" else postgres_url()
    archive = Archive.open(url)
    sync_sources(archive.engine, archive.sources.values())
    yield archive
    archive.close()
    if request.param == "postgresql":
        drop_postgres_schema()


def article(n: int, words: int = 300, published: bool = True, body_source: str = "site") -> Article:
    return Article(url=f"https://znews.vn/bai-{n}-post{n}.html", title=f"Bài {n}", authors=("Hoàng Vũ",),
                   published_at=AT if published else None, modified_at=None, language="vi", section=None, tags=(),
                   summary=None, text=" ".join(f"chữ{n}x{i}" for i in range(words)), body_source=body_source)


def visit(run_id: int, n: int, **kwargs) -> FetchRecord:
    page = article(n, **kwargs)
    return FetchRecord(url=page.url, source="znews", fetched_at=AT + timedelta(minutes=run_id), http_status=200,
                       article=page, crawl_run_id=run_id)


def run(archive: Archive, records, stats=None, status: str = "finished") -> int:
    run_id = start_run(archive.engine, "sources")
    record_fetches(archive, [r(run_id) for r in records])
    finish_run(archive.engine, run_id, status, stats or {})
    return run_id


def report(archive: Archive, run_id: int) -> dict:
    with archive.engine.connect() as db:
        value = db.execute(text("SELECT report FROM crawl_runs WHERE id = :i"), {"i": run_id}).scalar()
    return value if isinstance(value, dict) else json.loads(value)


def test_a_run_report_counts_each_source_with_reasons_bytes_and_the_slowest(archive):
    gone_url = "https://dantri.com.vn/x-20250101000000000.htm"
    records = [
        lambda r: visit(r, 1), lambda r: visit(r, 2, words=100, published=False),
        lambda r: FetchRecord(url="https://znews.vn/rss/a.rss", source="znews", fetched_at=AT, outcome="error",
                              error="https://znews.vn/rss/a.rss: connection refused", crawl_run_id=r),
        lambda r: FetchRecord(url="https://znews.vn/b.rss", source="znews", fetched_at=AT, outcome="error",
                              error="https://znews.vn/b.rss: connection refused", crawl_run_id=r),
        lambda r: FetchRecord(url=gone_url, source="dantri", fetched_at=AT, outcome="skipped",
                              error=f"{gone_url}: redirect to https://evil.example/a/b leaves the configured sources",
                              crawl_run_id=r),
        lambda r: FetchRecord(url="https://nowhere.example/robots.txt", source="", fetched_at=AT, http_status=500,
                              outcome="error", error="HTTP 500 Internal Server Error", crawl_run_id=r),
    ]
    stats = {"downloader/response_bytes": 9000, "traffic/bytes/znews": 7000, "traffic/bytes/dantri": 2000,
             "traffic/bytes/01net": 10, "traffic/slowest": [[2.5, "https://znews.vn/bai-1-post1.html", "znews"]]}
    got = report(archive, run(archive, records, stats))
    assert (got["fetched"], got["new"], got["error"], got["skipped"], got["bytes"]) == (6, 2, 3, 1, 9000)
    assert got["duration_s"] >= 0 and got["slowest"] == [
        {"seconds": 2.5, "url": "https://znews.vn/bai-1-post1.html", "source": "znews"}]
    assert list(got["sources"]) == ["(none)", "01net", "dantri", "znews"]  # 01net: only downloaded
    znews = got["sources"]["znews"]
    assert (znews["fetched"], znews["new"], znews["error"], znews["bytes"]) == (4, 2, 2, 7000)
    assert znews["error_reasons"] == {"connection refused": 2}
    assert got["sources"]["dantri"]["skipped_reasons"] == {
        "redirect to https://evil.example/… leaves the configured sources": 1}
    assert got["sources"]["(none)"]["error_reasons"] == {"HTTP 500 Internal Server Error": 1}
    health = znews["health"]
    assert health["pages"] == 2 and health["visits"] == 2 and health["revisits"] == 0
    assert health["published_at_share"] == 0.5 and health["title_share"] == 1.0 and health["authors_share"] == 1.0
    assert health["median_body_chars"] == (len(article(1).text) + len(article(2, words=100).text)) / 2
    assert health["site_body_share"] == 1.0 and health["skipped_share"] == 0.0 and health["changed_share"] is None
    with archive.engine.connect() as db:
        rows = db.execute(text("SELECT s.name, f.body_source FROM fetches f LEFT JOIN sources s "
                               "ON s.id = f.source_id ORDER BY f.id")).all()
    assert [tuple(r) for r in rows] == [("znews", "site"), ("znews", "site"), ("znews", None), ("znews", None),
                                        ("dantri", None), (None, None)]


def test_a_source_that_departs_from_its_baseline_raises_a_stored_alarm(archive):
    pages = (1, 2, 3)
    for _ in range(3):
        run(archive, [lambda r, n=n: visit(r, n) for n in pages])
    run_id = run(archive, [lambda r, n=n: visit(r, n, published=False, body_source="generic") for n in pages])
    with archive.engine.begin() as db:
        alarms = check_run(db, run_id, POLICY)
    # known articles whose text only the generic stages found are skipped, never versions
    assert [(a.source, a.measure, a.value, a.baseline, a.baseline_runs) for a in alarms] == [
        ("znews", "site_body_share", 0.0, 1.0, 3), ("znews", "skipped_share", 1.0, 0.0, 3)]
    with archive.engine.connect() as db:
        stored = db.execute(text("SELECT crawl_run_id, measure, value, baseline, baseline_runs, pages "
                                 "FROM health_alarms ORDER BY id")).all()
    assert [tuple(r) for r in stored] == [(run_id, "site_body_share", 0.0, 1.0, 3, 3),
                                          (run_id, "skipped_share", 1.0, 0.0, 3, 3)]
    ordinary = run(archive, [lambda r, n=n: visit(r, n) for n in pages])
    with archive.engine.begin() as db:
        assert check_run(db, ordinary, POLICY) == []


def test_a_return_to_an_earlier_version_is_no_new_state_in_changed_share(archive):
    edited = lambda r: visit(r, 1, words=250)  # noqa: E731
    shares = [report(archive, run(archive, [page]))["sources"]["znews"]["health"]["changed_share"]
              for page in (lambda r: visit(r, 1), edited, lambda r: visit(r, 1))]
    assert shares == [None, 1.0, 0.0]  # new; an edit; the edit undone (version 3 same as version 1)


def test_archive_runs_lists_runs_and_shows_one_per_source(tmp_path, capsys):
    path = tmp_path / "archive.db"
    archive = Archive.open(f"sqlite:///{path}")
    sync_sources(archive.engine, archive.sources.values())
    for _ in range(3):
        run(archive, [lambda r, n=n: visit(r, n) for n in (1, 2)])
    bad = run(archive, [lambda r, n=n: visit(r, n, body_source="generic") for n in (1, 2)])
    with archive.engine.begin() as db:
        check_run(db, bad, POLICY)
    unfinished = start_run(archive.engine, "feeds")  # killed: no report stored, computed when shown
    archive.close()

    assert cli.main(["--archive", str(path), "runs", "--last", "3"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["3", str(bad), str(unfinished)]
    assert "finished" in lines[0] and "2 fetched: 2 unchanged" in lines[0]
    assert lines[1].endswith("2 fetched: 2 skipped; 2 health alarms") and "running" in lines[2]

    assert cli.main(["--archive", str(path), "runs", "show", str(bad)]) == 0
    shown = capsys.readouterr().out
    assert f"run {bad} (sources) finished" in shown and "znews: 2 fetched: 2 skipped" in shown
    assert f"  health alarm: znews skipped_share 100%, baseline 0% (median of 3 runs; 2 pages)" in shown
    assert "  skipped     2  body selectors matched nothing; N chars of generic text not trusted" in shown

    assert cli.main(["--archive", str(path), "runs", "show", str(bad), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["id"] == bad and data["report"]["sources"]["znews"]["skipped"] == 2
    assert {a["measure"] for a in data["health_alarms"]} == {"site_body_share", "skipped_share"}
    assert cli.main(["--archive", str(path), "runs", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [1, 2, 3, bad, unfinished]

    assert cli.main(["--archive", str(path), "runs", "show", "99"]) == 1
    assert capsys.readouterr().err == "archive: no crawl run 99: archive runs lists them\n"
    assert cli.main(["--archive", str(path), "runs", "show"]) == 2


def test_reasons_drop_the_url_they_begin_with():
    assert reason("https://znews.vn/a-post1.html: connection refused") == "connection refused"
    assert reason("https://znews.vn/a: body selectors matched nothing; 523 chars of generic text") == \
        "body selectors matched nothing; N chars of generic text"
    assert reason("disallowed by https://znews.vn/robots.txt") == "disallowed by https://znews.vn/…"
    assert reason(None) == "no reason recorded"


def test_migration_0008_fills_in_each_fetch_source_and_goes_back(tmp_path):
    path = tmp_path / "old.db"
    engine = create_archive_engine(f"sqlite:///{path}")
    upgrade(engine, "0006")
    with engine.begin() as db:
        db.execute(text("INSERT INTO sources (id, name, language, timezone, domains) VALUES "
                        "(1, 'znews', 'vi', 'Asia/Ho_Chi_Minh', '[\"znews.vn\", \"zingnews.vn\"]'), "
                        "(2, 'dantri', 'vi', 'Asia/Ho_Chi_Minh', '[\"dantri.com.vn\"]')"))
        db.execute(text("INSERT INTO articles (id, source_id, url, first_seen_at, last_fetched_at, last_changed_at) "
                        "VALUES (1, 2, 'https://dantri.com.vn/a.htm', '2025-07-01', '2025-07-01', '2025-07-01')"))
        for url, article_id in (("https://zingnews.vn/moved.htm", 1), ("https://www.zingnews.vn/rss.rss", None),
                                ("https://dantri.com.vn/robots.txt", None), ("https://other.example/", None)):
            db.execute(text("INSERT INTO fetches (url, article_id, fetched_at, outcome) "
                            "VALUES (:u, :a, '2025-07-01', 'error')"), {"u": url, "a": article_id})
    upgrade(engine)
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT source_id FROM fetches ORDER BY id").fetchall() == [(2,), (1,), (2,), (None,)]
        assert ("sources", "source_id", "id") in [r[2:5] for r in db.execute("PRAGMA foreign_key_list(fetches)")]
    downgrade(engine, "0006")
    with sqlite3.connect(path) as db:
        columns = {r[1] for r in db.execute("PRAGMA table_info(fetches)")}
        assert "source_id" not in columns and "body_source" not in columns
        assert "health_alarms" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    upgrade(engine)
    engine.dispose()


def test_exit_status_a_failure_outranks_a_health_alarm(capsys):
    from scrapy.utils.test import get_crawler

    from crawler.commands.crawl import exit_status
    from crawler.recrawl import SpiderResult, _report

    crawler = get_crawler()
    crawler.stats.set_value("archive/run_status", "finished")
    assert exit_status(crawler) == 0
    crawler.stats.set_value("archive/health_alarms", ["run 3: znews skipped_share 100%, …"])
    assert exit_status(crawler) == 3
    crawler.stats.set_value("archive/run_status", "failed")
    assert exit_status(crawler) == 1

    alarmed = SpiderResult("revisit", "finished", alarms=("run 3: znews skipped_share 100%, …",))
    assert _report([SpiderResult("feeds", "finished"), alarmed], ["feeds", "revisit"]) == 3
    assert capsys.readouterr().err == "archive recrawl: health alarm: run 3: znews skipped_share 100%, …\n"
    assert _report([SpiderResult("feeds", "failed", "all failed"), alarmed], ["feeds", "revisit"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "archive recrawl: feeds: failed — all failed", "archive recrawl: revisit: finished — 0 requests, 0 failed",
        "archive recrawl: health alarm: run 3: znews skipped_share 100%, …"]
