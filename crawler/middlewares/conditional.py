"""Conditional re-fetch: send the archived article's validators (RFC 9110 §13.1).

A known article is requested with If-None-Match / If-Modified-Since; the raw-body
hash of its last capture rides along in ``meta['archive_raw_hash']`` so a server
that ignores validators still costs no extraction when nothing changed.
"""

from __future__ import annotations

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from ..archive.shared import archive_for
from ..warc import PriorCapture


class ConditionalRequestMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ConditionalRequestMiddleware:
        if not crawler.settings.getbool("ARCHIVE_CONDITIONAL_REQUESTS"):
            raise NotConfigured("ARCHIVE_CONDITIONAL_REQUESTS is off")
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        if "source" not in request.meta or "archive_raw_hash" in request.meta:
            return None  # not an article request, or already looked up (retry, redirect)
        known = archive_for(self.crawler).validators(request.url)  # also tries the source's canonical form
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
