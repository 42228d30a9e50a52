"""Discovery against the mirror's feeds, sitemaps and listings (tests/expected/discovery.json)."""

from __future__ import annotations

import re

import pytest

from crawler.discover import parse_feed, parse_listing, parse_sitemap
from crawler.mirror import BUNDLED_WEB, MirrorServer, mirror_path
from crawler.sources import load_sources
from tests.conftest import expected_discovery, query, run_crawl

SOURCES = load_sources()
EXPECTED = expected_discovery()


def mirror_file(url: str):
    path = mirror_path(url).lstrip("/").split("?")[0]
    file = BUNDLED_WEB / (path + "index.html" if path.endswith("/") else path)
    headers = file.with_name(file.name + ".headers")
    content_type = next((line.split(":", 1)[1].strip() for line in headers.read_text().splitlines()
                         if line.lower().startswith("content-type")), None) if headers.exists() else None
    return file.read_bytes(), content_type


def articles_of(source, entries):
    pattern = re.compile(source.article_pattern)
    return [source.canonical(e.url) for e in entries if pattern.search(source.canonical(e.url))]


FEEDS = [(name, feed) for name, d in EXPECTED.items() for feed in d["feeds"]]


@pytest.mark.parametrize(("name", "feed"), FEEDS)
def test_feeds_announce_their_articles_with_dates(name, feed):
    body, content_type = mirror_file(feed)
    entries = parse_feed(body, feed, content_type)
    assert articles_of(SOURCES[name], entries) == EXPECTED[name]["feeds"][feed]
    assert all(e.published_at and e.published_at.tzinfo for e in entries)


def test_developpez_feed_titles_survive_the_charset_trap():
    feed = next(iter(EXPECTED["developpez"]["feeds"]))
    titles = " ".join(e.title for e in parse_feed(*mirror_file(feed)[:1], feed, mirror_file(feed)[1]))
    assert "\x92" not in titles and "\x9c" not in titles
    assert "’" in titles or "œ" in titles


def test_sitemap_index_lists_its_children_and_news_sitemaps_their_dates():
    kind, children = parse_sitemap(mirror_file("https://dantri.com.vn/sitemap.xml")[0])
    assert kind == "sitemapindex" and len(children) == 3
    kind, news = parse_sitemap(mirror_file("https://dantri.com.vn/google-news-sitemap.xml")[0])
    assert kind == "urlset" and all(e.published_at and e.title for e in news)


def test_listing_items_and_next_page():
    url = "https://znews.vn/cong-nghe.html"
    html = mirror_file(url)[0].decode("utf-8")
    entries, next_url = parse_listing(html, url, SOURCES["znews"].article_pattern, SOURCES["znews"].listing_links)
    assert next_url == "https://znews.vn/cong-nghe/trang2.html"
    urls = [e.url for e in entries]
    assert "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html" in urls
    assert set(urls) <= set(EXPECTED["znews"]["listings"][url]["articles"])


# -- the spiders -------------------------------------------------------------------------

@pytest.fixture
def mirror_log():
    with MirrorServer(BUNDLED_WEB) as server:
        yield server


def new_articles(name: str) -> dict:
    return EXPECTED[name]["new_articles"]


def test_feeds_spider_archives_new_articles_and_keeps_feed_metadata(mirror_log, tmp_path):
    archive = tmp_path / "archive.db"
    run_crawl(mirror_log.url, archive, "-a", "sources=znews,developpez,01net", spider="feeds")
    archived = {r[0] for r in query(archive, "SELECT url FROM articles")}
    for name in ("znews", "developpez", "01net"):
        for feed, urls in EXPECTED[name]["feeds"].items():
            assert set(urls) <= archived
    rows = query(archive, "SELECT * FROM discoveries WHERE method = 'feed'")
    assert rows and all(r["guid"] and r["published_at"] and r["found_on"] for r in rows)
    article = next(iter(new_articles("developpez")))
    (row,) = query(archive, "SELECT title, published_at FROM latest_versions WHERE url = ?", article)
    assert row["title"] == new_articles("developpez")[article]["title"]


def test_since_and_max_articles_limit_a_first_crawl(mirror_log, tmp_path):
    archive = tmp_path / "archive.db"
    run_crawl(mirror_log.url, archive, "-a", "sources=znews", "-a", "since=2025-06-01", spider="feeds")
    archived = {r[0] for r in query(archive, "SELECT url FROM articles")}
    old = [u for u, a in new_articles("znews").items() if a["published_at"] < "2025"]
    assert old and not set(old) & archived and len(archived) == 2
    limited = tmp_path / "limited.db"
    run_crawl(mirror_log.url, limited, "-a", "sources=znews", "-a", "max_articles=1", spider="feeds")
    assert query(limited, "SELECT count(*) FROM articles")[0][0] == 1


def test_sitemaps_spider_follows_the_index(mirror_log, tmp_path):
    archive = tmp_path / "archive.db"
    run_crawl(mirror_log.url, archive, "-a", "sources=dantri", spider="sitemaps")
    expected = EXPECTED["dantri"]["sitemaps"]["https://dantri.com.vn/sitemap.xml"]
    assert {r[0] for r in query(archive, "SELECT url FROM articles")} == set(expected)
    news = query(archive, "SELECT published_at, title FROM discoveries WHERE found_on LIKE '%google-news%'")
    assert news and all(r["published_at"] and r["title"] for r in news)


def test_listings_spider_stops_at_the_znews_page_loop(mirror_log, tmp_path):
    archive = tmp_path / "archive.db"
    result = run_crawl(mirror_log.url, archive, "-a", "sources=znews", spider="listings")
    pages = [p for p in mirror_log.requested if "/cong-nghe" in p]
    expected_pages = [mirror_path(u) for u in EXPECTED["znews"]["listings"]["https://znews.vn/cong-nghe.html"]["pages"]]
    assert pages == expected_pages  # trang4 repeats trang3: read once, trang5 never asked for
    assert "repeats an earlier page" in result.stderr
    archived = {r[0] for r in query(archive, "SELECT url FROM articles")}
    assert set(new_articles("znews")) <= archived


def test_listing_page_cap_is_respected(mirror_log, tmp_path):
    run_crawl(mirror_log.url, tmp_path / "a.db", "-a", "sources=znews", "-s", "DISCOVER_MAX_PAGES=2", spider="listings")
    assert [p for p in mirror_log.requested if "/cong-nghe" in p] == ["/znews.vn/cong-nghe.html", "/znews.vn/cong-nghe/trang2.html"]


def test_republished_articles_cite_and_link_their_originals(mirror_log, tmp_path):
    archive = tmp_path / "archive.db"
    run_crawl(mirror_log.url, archive, "-a", "sources=vietnamvn", spider="listings")
    links = query(archive, """SELECT f.url AS copy, t.url AS original, l.kind FROM article_links l
                              JOIN articles f ON f.id = l.from_article_id JOIN articles t ON t.id = l.to_article_id""")
    assert len(links) >= 3 and {r["kind"] for r in links} == {"translation_of"}
    cited = query(archive, "SELECT url FROM discoveries WHERE method = 'cited'")
    assert {r["original"] for r in links} <= {r[0] for r in cited}


def test_names_of_unconfigured_origins_are_recorded_not_fetched(mirror_log, tmp_path):
    archive = tmp_path / "archive.db"
    run_crawl(mirror_log.url, archive, "-a", "sources=developpez", spider="feeds")
    names = {r[0] for r in query(archive, "SELECT name FROM citations WHERE name IS NOT NULL")}
    assert {"Bloomberg", "The Information"} <= names
    assert not any("bloomberg" in p.lower() for p in mirror_log.requested)
