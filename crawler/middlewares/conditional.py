"""Conditional re-fetch: send the archived article's validators (RFC 9110 §13.1).

A known article is requested with If-None-Match / If-Modified-Since; the raw-body
hash of its last capture rides along in ``meta['archive_raw_hash']`` so a server
that ignores validators still costs no extraction when nothing changed.

Two components: ``PrefetchValidatorsMiddleware`` (spider middleware) looks the
validators up for the article requests a spider yields, a batch per query, and
``ConditionalRequestMiddleware`` (downloader middleware) sets the headers, looking up
itself whatever came without them (requests from pipelines, redirects to other URLs).
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from ..archive.shared import archive_for
from ..archive.store import Validators
from ..warc import PriorCapture

# meta key: (url, Validators | None), looked up ahead for that exact URL
PREFETCHED = "archive_validators"


class PrefetchValidatorsMiddleware:
    """Look up the archived validators of article requests in batches of
    ``ARCHIVE_VALIDATORS_BATCH``: a re-crawl of N known pages makes N / batch queries
    instead of N (one per request), which is most of a 304 re-crawl's archive time."""

    def __init__(self, crawler: Crawler, batch_size: int):
        self.crawler = crawler
        self.batch_size = batch_size

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrefetchValidatorsMiddleware:
        if not crawler.settings.getbool("ARCHIVE_CONDITIONAL_REQUESTS"):
            raise NotConfigured("ARCHIVE_CONDITIONAL_REQUESTS is off")
        batch_size = crawler.settings.getint("ARCHIVE_VALIDATORS_BATCH")
        if batch_size < 1:
            raise NotConfigured("ARCHIVE_VALIDATORS_BATCH < 1: validators are looked up per request")
        return cls(crawler, batch_size)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for output in self._prefetched(start):
            yield output

    async def process_spider_output(self, response: Response, result: AsyncIterator[Any]) -> AsyncIterator[Any]:
        async for output in self._prefetched(result):
            yield output

    async def _prefetched(self, outputs: AsyncIterator[Any]) -> AsyncIterator[Any]:
        batch: list[Any] = []
        async for output in outputs:
            batch.append(output)
            if len(batch) >= self.batch_size:
                for done in self._annotate(batch):
                    yield done
                batch = []
        for done in self._annotate(batch):
            yield done

    def _annotate(self, batch: list[Any]) -> list[Any]:
        wanted = [o for o in batch if _needs_lookup(o)]
        if wanted:
            found = archive_for(self.crawler).validators_of(o.url for o in wanted)
            for request in wanted:
                request.meta[PREFETCHED] = (request.url, found.get(request.url))
            self.crawler.stats.inc_value("conditional/prefetched", len(wanted))
        return batch


class ConditionalRequestMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        if not crawler.settings.getbool("ARCHIVE_CONDITIONAL_REQUESTS"):
            raise NotConfigured("ARCHIVE_CONDITIONAL_REQUESTS is off")
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if not _needs_lookup(request):
            return None  # not an article request, or already looked up (retry, redirect)
        prefetched = request.meta.pop(PREFETCHED, None)
        if prefetched is not None and prefetched[0] == request.url:
            known: Validators | None = prefetched[1]
        else:  # also tries the source's canonical form
            known = archive_for(self.crawler).validators(request.url)
        request.meta["archive_raw_hash"] = known.raw_hash if known else None
        if known is None:
            return None
        if known.capture_record_id:  # what a WARC revisit record will refer to
            request.meta["archive_capture"] = PriorCapture(known.capture_record_id, known.capture_url,
                                                           known.capture_date, known.capture_digest)
        if known.etag and b"If-None-Match" not in request.headers:
            request.headers[b"If-None-Match"] = known.etag
        if known.last_modified and b"If-Modified-Since" not in request.headers:
            request.headers[b"If-Modified-Since"] = known.last_modified
        self.crawler.stats.inc_value("conditional/request_known")
        return None


def _needs_lookup(output: Any) -> bool:
    return isinstance(output, Request) and "source" in output.meta and "archive_raw_hash" not in output.meta
