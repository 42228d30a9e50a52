"""Real crawls (`scrapy crawl sources` in a subprocess) against the offline mirror."""

from __future__ import annotations

import json
import shutil
from datetime import datetime

import pytest

from tests.conftest import expected_pages, query, run_crawl

PAGES = expected_pages()


def stored(value: str | None) -> datetime | None:
    """SQLite keeps UTC as 'YYYY-MM-DD HH:MM:SS.ffffff'; expectations are ISO with +00:00."""
    return datetime.fromisoformat(value).replace(tzinfo=None) if value else None


@pytest.mark.parametrize("page", PAGES, ids=[f"{p['source']}:{p['url'][-50:]}" for p in PAGES])
def test_cited_article_is_archived_clean(crawled_archive, page):
    rows = query(crawled_archive, "SELECT * FROM latest_versions WHERE url = ?", page["canonical_url"])
    assert len(rows) == 1, f"{page['canonical_url']} not in latest_versions"
    row = rows[0]
    assert row["source"] == page["source"]
    assert row["title"] == page["title"]
    assert json.loads(row["authors"]) == page["authors"]
    assert stored(row["published_at"]) == stored(page["published_at"])
    if page.get("modified_at"):
        assert stored(row["modified_at"]) == stored(page["modified_at"])
    assert row["language"] == page["language"]
    if page.get("section"):
        assert row["section"] == page["section"]
    if page.get("tags"):
        assert json.loads(row["tags"]) == page["tags"]
    if page.get("summary_startswith"):
        assert (row["summary"] or "").startswith(page["summary_startswith"])
    assert row["cited_url"] == page.get("cited_url")
    for sentence in page["body_contains"]:
        assert sentence in row["text"], f"missing from body: {sentence!r}"
    for boilerplate in page["boilerplate_absent"]:
        assert boilerplate not in row["text"], f"boilerplate kept: {boilerplate!r}"


def test_every_start_url_was_fetched_once_and_stored(crawled_archive):
    outcomes = query(crawled_archive, "SELECT outcome, count(*) AS n FROM fetches GROUP BY outcome")
    assert {r["outcome"]: r["n"] for r in outcomes} == {"new": len(PAGES)}
    assert query(crawled_archive, "SELECT count(*) FROM article_versions")[0][0] == len(PAGES)


def test_crawl_run_is_recorded_with_stats(crawled_archive):
    (run,) = query(crawled_archive, "SELECT * FROM crawl_runs")
    assert run["spider"] == "sources" and run["status"] == "finished" and run["finished_at"]
    stats = json.loads(run["stats"])
    assert stats["archive/new"] == len(PAGES) and stats["finish_reason"] == "finished"
    # start-up's objects were left out of the garbage collector's passes once the spider opened
    # (crawler/commands/crawl.py freeze_heap): Scrapy, Twisted, SQLAlchemy and ours, well over 10k
    assert stats["gc/frozen_objects"] > 10_000


def test_recrawl_of_unchanged_pages_adds_fetches_not_versions(crawled_archive, mirror, tmp_path):
    archive = tmp_path / "archive.db"
    shutil.copy(crawled_archive, archive)
    run_crawl(mirror.url, archive)
    second = query(archive, "SELECT outcome, count(*) FROM fetches WHERE crawl_run_id = 2 GROUP BY outcome")
    assert [tuple(r) for r in second] == [("unchanged", len(PAGES))]
    assert query(archive, "SELECT max(version) FROM article_versions")[0][0] == 1


def test_sources_argument_restricts_the_crawl(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    run_crawl(mirror.url, archive, "-a", "sources=znews,dantri")
    sources = {r[0] for r in query(archive, "SELECT DISTINCT source FROM latest_versions")}
    assert sources == {"znews", "dantri"}


def test_urls_argument_crawls_exactly_those_urls(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    url = next(p["url"] for p in PAGES if p["source"] == "developpez")
    run_crawl(mirror.url, archive, "-a", f"urls={url}")
    assert [r[0] for r in query(archive, "SELECT url FROM fetches")] == [url]


def test_unknown_host_in_urls_is_an_error_naming_it(mirror, tmp_path):
    result = run_crawl(mirror.url, tmp_path / "a.db", "-a", "urls=https://example.org/news.html", check=False)
    assert result.returncode != 0
    assert "https://example.org/news.html" in result.stderr and "no configured source" in result.stderr


def test_unknown_source_name_is_an_error(mirror, tmp_path):
    result = run_crawl(mirror.url, tmp_path / "a.db", "-a", "sources=znews,lemonde", check=False)
    assert result.returncode != 0 and "unknown source(s) lemonde" in result.stderr


def test_missing_page_is_a_fetch_error_not_an_article(mirror, tmp_path):
    archive = tmp_path / "archive.db"
    run_crawl(mirror.url, archive, "-a", "urls=https://znews.vn/khong-ton-tai-post999.html")
    (fetch,) = query(archive, "SELECT * FROM fetches")
    assert (fetch["outcome"], fetch["http_status"]) == ("error", 404)
    assert "HTTP 404" in fetch["error"]
    assert query(archive, "SELECT count(*) FROM articles")[0][0] == 0


def test_page_without_article_body_is_recorded_with_the_reason(extra_web, tmp_path):
    from crawler.mirror import MirrorServer

    page = extra_web / "znews.vn" / "chuyen-muc-post1.html"
    page.write_text("<html><head><title>Chuyên mục</title></head><body><nav>Trang chủ</nav>"
                    "<div class='the-article-body'><p>Ngắn.</p></div></body></html>", encoding="utf-8")
    archive = tmp_path / "archive.db"
    with MirrorServer(extra_web) as server:
        run_crawl(server.url, archive, "-a", "urls=https://znews.vn/chuyen-muc-post1.html")
    (fetch,) = query(archive, "SELECT * FROM fetches")
    assert fetch["outcome"] == "skipped" and fetch["http_status"] == 200
    assert "https://znews.vn/chuyen-muc-post1.html" in fetch["error"] and "no article body" in fetch["error"]
    assert query(archive, "SELECT count(*) FROM article_versions")[0][0] == 0


def test_no_visit_is_lost_between_small_batches(mirror, tmp_path):
    """Items that arrive while a batch is being written must land in the next batch."""
    archive = tmp_path / "archive.db"
    run_crawl(mirror.url, archive, "-s", "ARCHIVE_BATCH_SIZE=2")
    stats = json.loads(query(archive, "SELECT stats FROM crawl_runs")[0][0])
    fetches = query(archive, "SELECT count(*) FROM fetches")[0][0]
    assert fetches == stats["item_scraped_count"] == len(PAGES)
    assert query(archive, "SELECT count(*) FROM fetches WHERE warc_record_id IS NULL")[0][0] == 0
