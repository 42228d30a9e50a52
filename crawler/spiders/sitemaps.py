"""``scrapy crawl sitemaps``: new articles listed in the sources' XML sitemaps (indexes
followed, Google News sitemaps read, child sitemaps older than ``since`` skipped)."""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator

from scrapy import Request
from scrapy.http import Response

from ..discover import parse_sitemap
from .base import ArticleSpider

# What lxml, gzip and Scrapy's Sitemap raise on a body that is no sitemap (empty, binary, cut
# short; Sitemap's first next() on a document with no element raises StopIteration).
UNREADABLE = (ValueError, SyntaxError, EOFError, OSError, StopIteration)


class SitemapsSpider(ArticleSpider):
    name = "sitemaps"

    async def start(self) -> AsyncIterator[Request]:
        for source in self.sources.values():
            for sitemap in source.sitemaps:
                yield self.sitemap_request(sitemap, source.name)

    def sitemap_request(self, url: str, source: str) -> Request:
        return Request(url, callback=self.parse_sitemap, meta={"sitemap_source": source})

    def parse_sitemap(self, response: Response) -> Iterator[Any]:
        source = self.sources[response.meta["sitemap_source"]]
        try:
            kind, entries = parse_sitemap(response.body)
        except UNREADABLE as exc:
            self.unreadable(response, f"not a readable sitemap: {' '.join(str(exc).split()) or type(exc).__name__}")
            self.crawler.stats.inc_value("discover/bad_sitemap")
            return
        if kind == "sitemapindex":
            for entry in entries:
                if self.since and entry.published_at and entry.published_at < self.since:
                    continue  # a monthly sitemap last changed before the window
                if source.owns(entry.url):
                    yield self.sitemap_request(entry.url, source.name)
            return
        yield from self.announced(entries, source, "sitemap", response.url)
