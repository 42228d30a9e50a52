"""``scrapy crawl feeds``: new articles announced by the sources' RSS and Atom feeds."""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator

from scrapy import Request
from scrapy.http import Response

from ..discover import parse_feed
from .base import ArticleSpider


class FeedsSpider(ArticleSpider):
    name = "feeds"

    async def start(self) -> AsyncIterator[Request]:
        for source in self.sources.values():
            for feed in source.feeds:
                yield Request(feed, callback=self.parse_feed, meta={"feed_source": source.name})

    def parse_feed(self, response: Response) -> Iterator[Any]:
        source = self.sources[response.meta["feed_source"]]
        content_type = response.headers.get(b"Content-Type", b"").decode("latin-1")
        try:
            entries = parse_feed(response.body, response.url, content_type)
        except ValueError as exc:
            self.unreadable(response, str(exc).removeprefix(f"{response.url}: "))
            self.crawler.stats.inc_value("discover/bad_feed")
            return
        if not entries and "html" in content_type.lower():  # a maintenance or login page where the feed was
            self.unreadable(response, f"not an RSS/Atom feed (Content-Type: {content_type})")
            self.crawler.stats.inc_value("discover/bad_feed")
            return
        yield from self.announced(entries, source, "feed", response.url)
