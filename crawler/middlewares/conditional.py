"""Conditional re-fetch: send the archived article's validators (RFC 9110 §13.1).

Which archived article a request's URL is (or that it is none) is resolved once and
travels in ``meta[KNOWN]`` as ``(url, Validators | None)``: by the spider that already
asked (discovery skips known URLs in one query per listing), else here, a batch of
requests per query. From there it rides to the item and the store (``article_id``).
A known article is requested with If-None-Match / If-Modified-Since; the raw-body hash
of its last capture rides along in ``meta[KNOWN_RAW_HASH]`` so a server that ignores
validators still costs no extraction when nothing changed.

Two components: ``PrefetchValidatorsMiddleware`` (spider middleware) resolves the
article requests a spider yields, a batch per query, and ``ConditionalRequestMiddleware``
(downloader middleware) sets the headers, resolving itself only a request that came
unresolved (from a pipeline with prefetching off).
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from ..archive.store import Archive
from ..archive.validators import Validators, validators, validators_of
from ..extensions.archive import WaitingWriter, archive_of, writer_of
from ..warc import PriorCapture

# meta keys: (url, Validators | None), the archived article ``url`` resolved to; and the
# raw-body hash of its last capture, set once the request carries its validators
KNOWN = "archive_known"
KNOWN_RAW_HASH = "known_raw_hash"


class PrefetchValidatorsMiddleware:
    """Resolve article requests in batches of ``ARCHIVE_VALIDATORS_BATCH``: a re-crawl of
    N known pages makes N / batch queries instead of N (one per request), which is most
    of a 304 re-crawl's archive time."""

    def __init__(self, archive: Archive, stats: Any, batch_size: int, reader: WaitingWriter):
        self.archive = archive
        self.stats = stats
        self.batch_size = batch_size
        self.reader = reader  # waits for a database that does not answer (extensions/archive.py)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PrefetchValidatorsMiddleware:
        if not crawler.settings.getbool("ARCHIVE_CONDITIONAL_REQUESTS"):
            raise NotConfigured("ARCHIVE_CONDITIONAL_REQUESTS is off")
        batch_size = crawler.settings.getint("ARCHIVE_VALIDATORS_BATCH")
        if batch_size < 1:
            raise NotConfigured("ARCHIVE_VALIDATORS_BATCH < 1: validators are looked up per request")
        return cls(archive_of(crawler), crawler.stats, batch_size, writer_of(crawler))

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
                for done in await self._annotate(batch):
                    yield done
                batch = []
        for done in await self._annotate(batch):
            yield done

    async def _annotate(self, batch: list[Any]) -> list[Any]:
        wanted = [o for o in batch if _unresolved(o)]
        if wanted:
            found = await self.reader.read(validators_of, self.archive, [o.url for o in wanted])
            for request in wanted:
                request.meta[KNOWN] = (request.url, found.get(request.url))
            self.stats.inc_value("conditional/prefetched", len(wanted))
        return batch


class ConditionalRequestMiddleware:
    def __init__(self, archive: Archive, stats: Any, reader: WaitingWriter):
        self.archive = archive
        self.stats = stats
        self.reader = reader

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        if not crawler.settings.getbool("ARCHIVE_CONDITIONAL_REQUESTS"):
            raise NotConfigured("ARCHIVE_CONDITIONAL_REQUESTS is off")
        return cls(archive_of(crawler), crawler.stats, writer_of(crawler))

    async def process_request(self, request: Request) -> None:
        if not isinstance(request, Request) or "source" not in request.meta or KNOWN_RAW_HASH in request.meta:
            return None  # not an article request, or it carries its validators already (retry, redirect)
        if _unresolved(request):  # also tries the source's canonical form
            request.meta[KNOWN] = (request.url, await self.reader.read(validators, self.archive, request.url))
        known: Validators | None = request.meta[KNOWN][1]
        request.meta[KNOWN_RAW_HASH] = known.raw_hash if known else None
        if known is None:
            return None
        if known.capture_record_id:  # what a WARC revisit record will refer to
            request.meta["archive_capture"] = PriorCapture(known.capture_record_id, known.capture_url,
                                                           known.capture_date, known.capture_digest)
        if known.etag and b"If-None-Match" not in request.headers:
            request.headers[b"If-None-Match"] = known.etag
        if known.last_modified and b"If-Modified-Since" not in request.headers:
            request.headers[b"If-Modified-Since"] = known.last_modified
        self.stats.inc_value("conditional/request_known")
        return None


def _unresolved(output: Any) -> bool:
    """An article request whose archived article was not resolved for its own URL."""
    if not isinstance(output, Request) or "source" not in output.meta:
        return False
    known = output.meta.get(KNOWN)
    return known is None or known[0] != output.url
