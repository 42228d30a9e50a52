"""``scrapy crawl sources``: fetch the configured sources' start URLs (or given URLs).

    scrapy crawl sources                                # every source's start_urls
    scrapy crawl sources -a sources=znews,dantri        # only these sources
    scrapy crawl sources -a urls=https://znews.vn/…     # exactly these URLs
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, AsyncIterator

from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, UsageError
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from ..items import PageItem
from ..sources import DEFAULT_SEEDS_PATH, Source, load_sources, source_for_url


class SourcesSpider(Spider):
    name = "sources"

    def __init__(self, *args: Any, sources: str | None = None, urls: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.source_filter = _split(sources)
        self.url_list = _split(urls)

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> SourcesSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.configure(load_sources(crawler.settings.get("SOURCES_FILE") or DEFAULT_SEEDS_PATH))
        return spider

    def configure(self, all_sources: dict[str, Source]) -> None:
        """Choose sources and start URLs from the arguments; bad arguments stop the crawl here."""
        unknown = [name for name in self.source_filter if name not in all_sources]
        if unknown:
            raise UsageError(f"-a sources: unknown source(s) {', '.join(unknown)}; "
                             f"configured: {', '.join(all_sources)}")
        self.all_sources = all_sources
        self.sources = {n: s for n, s in all_sources.items() if not self.source_filter or n in self.source_filter}
        self.targets: list[tuple[str, Source]] = []
        for url in self.url_list:
            source = source_for_url(self.sources, url)
            if source is None:
                raise UsageError(f"-a urls: no configured source covers host of {url} "
                                 f"(domains: {', '.join(d for s in self.sources.values() for d in s.domains)})")
            self.targets.append((url, source))
        if not self.url_list:
            self.targets = [(url, s) for s in self.sources.values() for url in s.start_urls]
        # cited originals may be on any configured source, so all of them are on-site
        self.allowed_domains = sorted({d for s in all_sources.values() for d in s.domains})

    async def start(self) -> AsyncIterator[Request]:
        for url, source in self.targets:
            yield self.article_request(url, source)

    def article_request(self, url: str, source: Source) -> Request:
        # Every status reaches parse_article, so a 304 or 404 is archived as a fetch too.
        return Request(url, callback=self.parse_article, errback=self.fetch_failed,
                       meta={"source": source.name, "handle_httpstatus_all": True})

    def parse_article(self, response: Response) -> PageItem:
        item = PageItem(url=response.url, source=response.meta["source"], fetched_at=_now(),
                        http_status=response.status, urls=_urls(response.request, response.url),
                        known_raw_hash=response.meta.get("archive_raw_hash"))
        if response.status == 304:
            item.outcome = "not_modified"
        elif response.status >= 400:
            item.outcome, item.error = "error", f"HTTP {response.status} for {response.url}"
        elif not isinstance(response, TextResponse):
            content_type = response.headers.get("Content-Type", b"").decode("latin-1") or "none"
            item.outcome, item.error = "skipped", f"not a text page (Content-Type: {content_type})"
        else:
            item.html = response.text
            item.raw_hash = hashlib.sha256(response.body).hexdigest()
            item.etag = _header(response, b"ETag")
            item.last_modified = _header(response, b"Last-Modified")
        return item

    def fetch_failed(self, failure: Failure) -> PageItem:
        request = failure.request
        outcome = "skipped" if failure.check(IgnoreRequest) else "error"
        return PageItem(url=request.url, source=request.meta["source"], fetched_at=_now(), urls=_urls(request, request.url),
                        outcome=outcome, error=f"{failure.type.__name__}: {failure.getErrorMessage()}")


def _urls(request: Request | None, final_url: str) -> tuple[str, ...]:
    hops = request.meta.get("redirect_urls", []) if request is not None else []
    return tuple(dict.fromkeys([*hops, final_url]))


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def _now() -> datetime:
    return datetime.now(timezone.utc)
