"""Re-crawls of pages that change between runs, served at the same URL by the mirror.

One archive, one URL, a sequence of page states: every real change is a version,
nothing else is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.mirror import MirrorServer
from tests.conftest import query, run_crawl

ZNEWS = "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html"
ZNEWS_FILE = "znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html"
VIETNAMVN = "https://www.vietnam.vn/fr/cuoc-choi-lon-cua-mark-zuckerberg"
EDITED_SENTENCE = "Ban lãnh đạo AI của Meta cũng gây bất ngờ"


class Site:
    """The znews page in a mirror the test can edit between crawls."""

    def __init__(self, web: Path, server: MirrorServer, archive: Path):
        self.web, self.server, self.archive = web, server, archive
        self.page = web / ZNEWS_FILE
        self.original = self.page.read_bytes()
        self.runs = 0

    def serve(self, html: str | None = None, headers: str | None = None) -> None:
        sidecar = self.page.with_name(self.page.name + ".headers")
        sidecar.unlink(missing_ok=True)
        if headers:
            sidecar.write_text(headers, encoding="utf-8")
        if html is None:
            self.page.unlink(missing_ok=True)
        else:
            self.page.write_text(html, encoding="utf-8")

    def v1(self) -> str:
        return self.original.decode("utf-8")

    def crawl(self, url: str = ZNEWS, *args: str, fails: bool = False) -> dict:
        """The one fetch of ``url`` in a new crawl; ``fails``: it is the run's only request and
        fails, so the run fails (exit status 1)."""
        result = run_crawl(self.server.url, self.archive, "-a", f"urls={url}", *args, check=not fails)
        assert result.returncode == (1 if fails else 0)
        self.runs += 1
        (fetch,) = query(self.archive, "SELECT * FROM fetches WHERE crawl_run_id = ? AND url = ?", self.runs, url)
        return dict(fetch)

    def versions(self) -> list[dict]:
        return [dict(r) for r in query(self.archive, """SELECT v.* FROM article_versions v JOIN articles a
                                                         ON a.id = v.article_id WHERE a.url = ? ORDER BY version""", ZNEWS)]


@pytest.fixture
def site(extra_web, tmp_path):
    with MirrorServer(extra_web) as server:
        yield Site(extra_web, server, tmp_path / "archive.db")


def with_noise(html: str) -> str:
    """The same article with a view counter, a relative time, curly quotes and re-flowed spaces."""
    html = html.replace('<div class="the-article-body">',
                        '<div class="the-article-body"><p>12 phút trước</p><p>1.234 lượt xem</p>'
                        '<div class="view-count">5.678</div>', 1)
    return html.replace('"siêu trí', '“siêu trí').replace(EDITED_SENTENCE, EDITED_SENTENCE.replace(" ", "  \n "))


def edited(html: str) -> str:
    return html.replace(EDITED_SENTENCE, "Ban lãnh đạo AI của Meta một lần nữa gây bất ngờ", 1)


def test_versions_follow_real_changes_only(site):
    site.serve(site.v1())
    assert site.crawl()["outcome"] == "new"
    site.serve(with_noise(site.v1()))
    assert site.crawl()["outcome"] == "unchanged"
    site.serve(edited(site.v1()))
    assert site.crawl()["outcome"] == "changed"
    site.serve(site.v1())
    assert site.crawl()["outcome"] == "changed"
    versions = site.versions()
    assert [(v["version"], v["same_as_version"]) for v in versions] == [(1, None), (2, None), (3, 1)]
    assert versions[1]["words_added"] > 0 and versions[1]["words_removed"] > 0
    assert "phút trước" not in versions[0]["text"] and "lượt xem" not in versions[0]["text"]


@pytest.mark.parametrize("batch", [100, 0], ids=["prefetched-in-batches", "looked-up-per-request"])
def test_validators_give_not_modified_without_extraction(site, batch):
    site.serve(site.v1(), headers='ETag: "v1"\nLast-Modified: Wed, 02 Jul 2025 00:00:00 GMT\n')
    assert site.crawl()["outcome"] == "new"
    fetch = site.crawl(ZNEWS, "-s", f"ARCHIVE_VALIDATORS_BATCH={batch}")
    assert (fetch["outcome"], fetch["http_status"]) == ("not_modified", 304)
    stats = json.loads(query(site.archive, "SELECT stats FROM crawl_runs WHERE id = 2")[0][0])
    assert "extract/article" not in stats and stats["conditional/request_known"] == 1
    assert stats.get("conditional/prefetched", 0) == (1 if batch else 0)
    assert len(site.versions()) == 1


def test_identical_body_skips_extraction_when_server_ignores_validators(site):
    site.serve(site.v1())
    site.crawl()
    fetch = site.crawl()
    assert (fetch["outcome"], fetch["http_status"]) == ("unchanged", 200)
    stats = json.loads(query(site.archive, "SELECT stats FROM crawl_runs WHERE id = 2")[0][0])
    assert stats["extract/skipped_identical_body"] == 1 and "extract/article" not in stats


def test_gone_then_back(site):
    site.serve(site.v1())
    site.crawl()
    site.serve(None)
    fetch = site.crawl()
    assert (fetch["outcome"], fetch["http_status"]) == ("gone", 404)
    assert query(site.archive, "SELECT gone_at FROM articles")[0][0] is not None
    site.serve(site.v1())
    assert site.crawl()["outcome"] == "unchanged"
    assert query(site.archive, "SELECT gone_at FROM articles")[0][0] is None
    assert len(site.versions()) == 1


def test_server_errors_are_retried_and_change_nothing(site):
    site.serve(site.v1())
    site.crawl()
    site.serve(site.v1(), headers="Status: 503\n")
    fetch = site.crawl(ZNEWS, "-s", "RETRY_TIMES=1", fails=True)
    assert (fetch["outcome"], fetch["http_status"]) == ("error", 503)
    stats = json.loads(query(site.archive, "SELECT stats FROM crawl_runs WHERE id = 2")[0][0])
    assert stats["retry/count"] == 1
    assert query(site.archive, "SELECT gone_at FROM articles")[0][0] is None and len(site.versions()) == 1


def test_timeouts_are_retried_and_change_nothing(site):
    site.serve(site.v1())
    site.crawl()
    site.serve(edited(site.v1()), headers="Delay: 1.5\n")  # an edit the crawler never gets to see
    fetch = site.crawl(ZNEWS, "-s", "DOWNLOAD_TIMEOUT=0.5", "-s", "RETRY_TIMES=1", fails=True)
    assert (fetch["outcome"], fetch["http_status"]) == ("error", None)
    assert "timeout" in fetch["error"].lower() or "took longer" in fetch["error"].lower()
    stats = json.loads(query(site.archive, "SELECT stats FROM crawl_runs WHERE id = 2")[0][0])
    assert stats["retry/count"] == 1
    assert query(site.archive, "SELECT gone_at FROM articles")[0][0] is None and len(site.versions()) == 1


def test_republished_copy_crawls_and_links_its_original(site):
    site.serve(site.v1())
    site.crawl(VIETNAMVN)
    links = query(site.archive, """SELECT f.url AS from_url, t.url AS to_url, l.kind FROM article_links l
                                   JOIN articles f ON f.id = l.from_article_id JOIN articles t ON t.id = l.to_article_id""")
    assert [tuple(r) for r in links] == [(VIETNAMVN, ZNEWS, "translation_of")]
    fetched = {r[0] for r in query(site.archive, "SELECT url FROM fetches")}
    assert fetched == {VIETNAMVN, ZNEWS}


def test_alias_urls_reach_the_same_article(site):
    site.serve(site.v1())
    site.crawl()
    alias = "http://zingnews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html?utm_source=facebook#comments"
    (alias_dir := site.web / "zingnews.vn").mkdir()
    (alias_dir / "cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html").write_bytes(site.original)
    fetch = site.crawl(alias)
    assert fetch["outcome"] == "unchanged"
    assert query(site.archive, "SELECT count(*) FROM articles")[0][0] == 1
    urls = {r[0] for r in query(site.archive, "SELECT url FROM article_urls")}
    assert ZNEWS in urls and any(u.startswith("http://zingnews.vn/") for u in urls)
