"""``scrapy crawl listings``: new articles linked from the sources' category pages,
following pagination up to DISCOVER_MAX_PAGES and stopping on a loop (znews serves
page 50 again for every page past it, with status 200)."""

from __future__ import annotations

from typing import Any, AsyncIterator, Iterator

from scrapy import Request
from scrapy.http import Response, TextResponse

from ..discover import parse_listing
from .base import ArticleSpider


class ListingsSpider(ArticleSpider):
    name = "listings"

    async def start(self) -> AsyncIterator[Request]:
        for source in self.sources.values():
            for listing in source.listings:
                yield self.listing_request(listing, source.name, page=1, seen=frozenset())

    def listing_request(self, url: str, source: str, page: int, seen: frozenset) -> Request:
        return Request(url, callback=self.parse_listing,
                       meta={"listing_source": source, "listing_page": page, "listing_seen": seen})

    def parse_listing(self, response: Response) -> Iterator[Any]:
        if not isinstance(response, TextResponse):
            content_type = response.headers.get(b"Content-Type", b"").decode("latin-1") or "none"
            self.unreadable(response, f"not an HTML page (Content-Type: {content_type})")
            return
        source = self.sources[response.meta["listing_source"]]
        page, seen = response.meta["listing_page"], response.meta["listing_seen"]
        entries, next_url = parse_listing(response.text, response.url, source.article_pattern, source.listing_links)
        signature = frozenset(e.url for e in entries)
        if signature and signature in seen:
            self.logger.info("listings: %s repeats an earlier page of this listing; stopping", response.url)
            self.crawler.stats.inc_value("discover/listing_loop")
            return
        yield from self.announced(entries, source, "listing", response.url)
        max_pages = self.max_pages
        if next_url and page < max_pages and not self.limit_reached():
            yield self.listing_request(next_url, source.name, page + 1, seen | {signature})
        elif next_url and page >= max_pages:
            self.crawler.stats.inc_value("discover/listing_page_cap")
