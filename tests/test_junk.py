"""Junk never becomes a version of a known article (issue 9, item 7, content part).

Real crawls against the fault server: an archived article, then its page as a JS shell
(generic text only), as a retraction inside the real body element, and a different
article whose canonical link points at it. Prior versions must stay untouched, each
visit must have the right outcome and reason."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest
from lxml import html as lxml_html
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from crawler.extract import pool as extract_pool
from crawler.items import PageItem
from crawler.mirror import BUNDLED_WEB
from crawler.pipelines import extract as extract_pipeline
from crawler.pipelines.extract import ExtractPipeline
from tests.conftest import query, run_crawl
from tests.faultserver import FaultServer, mirror_route

A = "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html"
B = "https://znews.vn/dien-thoai-gap-dua-nhau-mong-hon-post1557906.html"
PAGE_A = (BUNDLED_WEB / "znews.vn" / "cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html").read_text(encoding="utf-8")
PAGE_B = (BUNDLED_WEB / "znews.vn" / "dien-thoai-gap-dua-nhau-mong-hon-post1557906.html").read_text(encoding="utf-8")
RETRACTION = "Bài viết đã được gỡ bỏ theo yêu cầu."
MOST_READ = ["Giá vàng hôm nay tăng mạnh sau phiên điều chỉnh", "Hà Nội mưa lớn, nhiều tuyến phố ngập sâu",
             "Đội tuyển Việt Nam công bố danh sách tập trung", "Ngân hàng Nhà nước điều chỉnh lãi suất điều hành",
             "Thủ tướng chỉ đạo đẩy nhanh tiến độ cao tốc Bắc - Nam", "Cảnh báo lừa đảo qua tin nhắn giả mạo ngân hàng",
             "Giá xăng dầu đồng loạt giảm từ chiều nay", "Học sinh cả nước bước vào kỳ thi tốt nghiệp THPT"]


def page(html: str):
    return lambda handler: handler.send_page(html)


def js_shell(original: str) -> str:
    """The page's head (title, metadata, canonical) and a body a script would fill: only
    a loading line and the "most read" headlines are text (the issue's measured case)."""
    head = original[:original.index("</head>")]
    items = "".join(f"<li><a href='/tin-{i}-post{i}.html'>{h}</a></li>" for i, h in enumerate(MOST_READ))
    return (f"{head}</head><body><div id='app'><h1>Cuộc chơi lớn của Mark Zuckerberg</h1>"
            "<p>Đang tải nội dung, vui lòng bật JavaScript để đọc bài viết này trên Znews.</p>"
            f"<section class='most-read'><h2>Đọc nhiều nhất</h2><ul>{items}</ul></section></div>"
            "<script src='/static/app.js'></script></body></html>")


def with_body(original: str, body_html: str, canonical: str | None = None) -> str:
    """The page with the content of its real body element replaced (and its canonical link)."""
    doc = lxml_html.fromstring(original)
    (body,) = doc.cssselect("div.the-article-body")
    for child in list(body):
        body.remove(child)
    body.text = None
    for fragment in lxml_html.fragments_fromstring(body_html):
        body.append(fragment)
    if canonical:
        doc.cssselect("link[rel=canonical]")[0].set("href", canonical)
    return lxml_html.tostring(doc, encoding="unicode", doctype="<!DOCTYPE html>")


def edited(original: str) -> str:
    return original.replace("Giải pháp của Meta là tăng cường nhân sự.", "Giải pháp của Meta là tuyển thêm nhiều người.")


def crawl(server: FaultServer, archive, *urls: str):
    return run_crawl(server.url, archive, "-a", f"urls={','.join(urls)}")


def versions(archive, url: str) -> list:
    return query(archive, "SELECT v.* FROM article_versions v JOIN articles a ON a.id = v.article_id "
                          "WHERE a.url = ? ORDER BY v.version", url)


def last_fetch(archive, url: str):
    return query(archive, "SELECT * FROM fetches WHERE url = ? ORDER BY id DESC LIMIT 1", url)[0]


def last_run_stats(archive) -> dict:
    return json.loads(query(archive, "SELECT stats FROM crawl_runs ORDER BY id DESC LIMIT 1")[0][0])


@pytest.fixture
def known(tmp_path):
    """An archive holding article A (version 1), and a fault server serving the bundled web."""
    archive = tmp_path / "archive.db"
    with FaultServer() as server:
        crawl(server, archive, A)
        assert [v["version"] for v in versions(archive, A)] == [1]
        yield server, archive


def test_a_js_shell_of_a_known_article_is_skipped_and_the_next_real_page_continues_its_history(known):
    server, archive = known
    (v1,) = versions(archive, A)
    server.routes[mirror_route(A)] = page(js_shell(PAGE_A))
    result = crawl(server, archive, A)
    fetch = last_fetch(archive, A)
    assert fetch["outcome"] == "skipped" and fetch["version_id"] is None
    assert fetch["article_id"] == v1["article_id"] and fetch["warc_record_type"] == "response"  # kept in WARC
    chars = int(fetch["error"].split("; ")[1].split()[0])
    assert fetch["error"] == (f"body selectors matched nothing; {chars} chars of generic text not trusted "
                              "for a known article") and chars > 200
    assert [dict(v) for v in versions(archive, A)] == [dict(v1)]
    assert last_run_stats(archive)["archive/untrusted_generic_text"] == 1
    assert f"WARNING: archive: {A}: body selectors matched nothing" in result.stderr

    server.routes[mirror_route(A)] = page(edited(PAGE_A))
    crawl(server, archive, A)
    assert last_fetch(archive, A)["outcome"] == "changed"
    first, second = versions(archive, A)
    assert dict(first) == dict(v1) and "tuyển thêm nhiều người" in second["text"] and second["words_added"] > 0


def test_a_js_shell_at_a_new_url_is_still_archived_from_its_generic_text(known):
    server, archive = known
    url = "https://znews.vn/bai-moi-post42.html"
    shell = js_shell(PAGE_A).replace(f'href="{A}"', f'href="{url}"')
    server.routes[mirror_route(url)] = page(shell)
    crawl(server, archive, url)
    assert last_fetch(archive, url)["outcome"] == "new"
    assert "Đọc nhiều nhất" in versions(archive, url)[0]["text"]


def test_a_retraction_in_the_real_body_element_is_a_version_even_short_or_empty(known):
    server, archive = known
    (v1,) = versions(archive, A)
    server.routes[mirror_route(A)] = page(with_body(PAGE_A, f"<p>{RETRACTION}</p>"))
    result = crawl(server, archive, A)
    fetch = last_fetch(archive, A)
    assert fetch["outcome"] == "changed"
    assert fetch["error"].startswith(f"short body: {len(RETRACTION)} characters in the source's body element")
    assert "WARNING: archive:" in result.stderr and last_run_stats(archive)["archive/short_body_version"] == 1
    first, second = versions(archive, A)
    assert dict(first) == dict(v1)
    assert second["text"] == RETRACTION and second["title"] == v1["title"] and fetch["version_id"] == second["id"]

    server.routes[mirror_route(A)] = page(with_body(PAGE_A, ""))  # emptied by its publisher
    crawl(server, archive, A)
    assert last_fetch(archive, A)["outcome"] == "changed"
    assert [v["text"] for v in versions(archive, A)][1:] == [RETRACTION, ""]
    assert dict(versions(archive, A)[0]) == dict(v1)


def test_a_short_body_at_a_new_url_is_not_an_article(known):
    server, archive = known
    url = "https://znews.vn/ngan-post43.html"
    server.routes[mirror_route(url)] = page(with_body(PAGE_A, f"<p>{RETRACTION}</p>", canonical=url))
    crawl(server, archive, url)
    fetch = last_fetch(archive, url)
    assert fetch["outcome"] == "skipped" and fetch["article_id"] is None
    assert fetch["error"] == (f"{url}: no article body: {len(RETRACTION)} characters of text in body element "
                              "div.the-article-body (div.the-article-body), fewer than min_text_chars=200")
    assert query(archive, "SELECT count(*) FROM articles")[0][0] == 1


def test_a_canonical_link_to_a_different_article_keeps_both(known):
    server, archive = known
    (v1,) = versions(archive, A)
    assert f'<link rel="canonical" href="{B}"/>' in PAGE_B
    server.routes[mirror_route(B)] = page(PAGE_B.replace(f'<link rel="canonical" href="{B}"/>',
                                                         f'<link rel="canonical" href="{A}"/>'))
    result = crawl(server, archive, B)
    fetch = last_fetch(archive, B)
    assert fetch["outcome"] == "new"
    assert fetch["error"] == f"canonical {A} points at a different article; kept separately as {B}"
    (b_article,) = query(archive, "SELECT * FROM articles WHERE id = ?", fetch["article_id"])
    assert b_article["url"] == B
    assert versions(archive, B)[0]["title"] == "Điện thoại gập đua nhau mỏng hơn"
    assert [dict(v) for v in versions(archive, A)] == [dict(v1)]  # A has no version 2
    assert query(archive, "SELECT article_id FROM article_urls WHERE url = ?", B)[0][0] == b_article["id"]
    assert last_run_stats(archive)["archive/canonical_conflict"] == 1
    assert f"WARNING: archive: {B}: canonical {A} points at a different article" in result.stderr

    crawl(server, archive, B)  # B's next visit is B's own history, with no conflict to note
    fetch = last_fetch(archive, B)
    assert (fetch["outcome"], fetch["error"], fetch["article_id"]) == ("unchanged", None, b_article["id"])


def test_a_canonical_link_from_a_copy_of_the_same_text_still_merges(known):
    server, archive = known
    copy = "https://znews.vn/ban-luu-post44.html"
    server.routes[mirror_route(copy)] = page(PAGE_A)  # its canonical link names A
    crawl(server, archive, copy)
    fetch = last_fetch(archive, copy)
    assert (fetch["outcome"], fetch["error"]) == ("unchanged", None)
    (article_id,) = {v["article_id"] for v in versions(archive, A)}
    assert fetch["article_id"] == article_id and len(versions(archive, A)) == 1
    assert query(archive, "SELECT article_id FROM article_urls WHERE url = ?", copy)[0][0] == article_id


# -- an extractor that breaks ---------------------------------------------------------


def test_an_unexpected_extraction_error_is_an_error_visit_in_one_line(monkeypatch, caplog):
    def broken(html, url, rules):  # noqa: ANN001, ANN202 - as a library bug would, quoting the page
        raise AttributeError(f"'HtmlElement' object has no attribute 'text_content'\nwhile reading {html}")

    monkeypatch.setattr(extract_pool, "extract_article", broken)  # in this process: EXTRACT_WORKERS=0
    crawler = SimpleNamespace(settings=Settings({"SOURCES_FILE": None, "STATS_DUMP": False, "EXTRACT_WORKERS": 0}))
    crawler.stats = MemoryStatsCollector(crawler)
    html = "<html><body><div class='the-article-body'>" + "secret paragraph " * 200 + "</div></body></html>"
    item = PageItem(url=A, source="znews", fetched_at=None, http_status=200, html=html)
    asyncio.run(ExtractPipeline(crawler).process_item(item))
    assert item.outcome == "error" and item.article is None and item.html is None
    assert item.error.startswith(f"{A}: AttributeError: 'HtmlElement' object has no attribute 'text_content' while")
    assert "\n" not in item.error and len(item.error) <= extract_pipeline.MAX_ERROR_CHARS
    assert crawler.stats.get_value("extract/failed") == 1
    (line,) = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert line == f"extract: {item.error}" and "<" not in line  # no markup of the page
