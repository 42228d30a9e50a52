"""Which archived article a request is, is asked once and travels with the request to the
item (issue 11: it was asked up to six times per page, with three tie-breaks)."""

import asyncio

import pytest
from scrapy import Request
from scrapy.statscollectors import MemoryStatsCollector
from scrapy.utils.test import get_crawler

from crawler.archive.store import pick_article
from crawler.archive.writer import ArchiveWriter
from crawler.extensions.archive import WaitingWriter
from crawler.outage import Outage
from crawler.archive.validators import Validators
from crawler.middlewares.conditional import KNOWN, KNOWN_RAW_HASH, ConditionalRequestMiddleware, \
    PrefetchValidatorsMiddleware
from crawler.spiders.base import _article_id

URL = "https://znews.vn/a-post1.html"
KNOWN_A = Validators(article_id=7, url=URL, etag='"e"', last_modified=None, raw_hash="h")


class CountingArchive:
    """Stands in for the archive: the middlewares' lookups (archive/validators.py) count here."""

    def __init__(self):
        self.asked: list[str] = []

    def validators(self, url):
        self.asked.append(url)
        return KNOWN_A if url == URL else None

    def validators_of(self, urls):
        return {url: self.validators(url) for url in urls}


@pytest.fixture(autouse=True)
def counted_lookups(monkeypatch):
    monkeypatch.setattr("crawler.middlewares.conditional.validators", lambda archive, url: archive.validators(url))
    monkeypatch.setattr("crawler.middlewares.conditional.validators_of",
                        lambda archive, urls: archive.validators_of(urls))


def stats() -> MemoryStatsCollector:
    return MemoryStatsCollector(get_crawler())


def reader() -> WaitingWriter:
    """The crawl's archive calls, inline (no writer thread without an engine)."""
    return WaitingWriter(ArchiveWriter(None), Outage(get_crawler(), "archive", 60, "ARCHIVE_OUTAGE_LIMIT", "archive_lost"))


def article_request(url: str, **meta) -> Request:
    return Request(url, meta={"source": "znews", **meta})


def test_a_request_resolved_upstream_is_not_looked_up_again():
    archive = CountingArchive()
    middleware = ConditionalRequestMiddleware(archive, stats(), reader())
    unknown = article_request("https://znews.vn/b-post2.html", **{KNOWN: ("https://znews.vn/b-post2.html", None)})
    asyncio.run(middleware.process_request(unknown))
    assert archive.asked == [] and b"If-None-Match" not in unknown.headers


def test_prefetched_requests_carry_the_article_to_the_item():
    archive = CountingArchive()
    prefetch = PrefetchValidatorsMiddleware(archive, stats(), batch_size=10, reader=reader())
    conditional = ConditionalRequestMiddleware(archive, stats(), reader())
    request = article_request(URL)
    asyncio.run(prefetch._annotate([request]))
    asyncio.run(conditional.process_request(request))
    redirected = request.replace(url="https://znews.vn/a-post1-moved.html")  # meta travels with a redirect
    asyncio.run(conditional.process_request(redirected))
    assert archive.asked == [URL]  # once, for all of it
    assert request.headers[b"If-None-Match"] == b'"e"' and request.meta[KNOWN_RAW_HASH] == "h"
    assert _article_id(request.meta) == 7 == _article_id(redirected.meta)


def test_one_tie_break_the_canonical_match_then_the_oldest():
    forms = [URL, "https://znews.vn/a-post1.html?x=1"]
    older, canonical = {"id": 1, "url": "https://news.zing.vn/a-post1.html"}, {"id": 2, "url": URL}
    assert pick_article(forms, [older, canonical]) is canonical
    assert pick_article(forms, [{"id": 5, "url": "a"}, {"id": 3, "url": "b"}])["id"] == 3
    assert pick_article(forms, []) is None
