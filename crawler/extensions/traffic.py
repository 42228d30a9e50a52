"""Bytes per source and the slowest downloads, kept in the run's stats for its report.

Every response the downloader returns (redirects and retries included, as Scrapy's
``downloader/response_bytes``) adds its body's size to ``traffic/bytes/<source>``; the
``SLOWEST_KEPT`` longest ``download_latency`` values (Scrapy's own measure: request sent to
response headers, what AutoThrottle reads) are kept in ``traffic/slowest`` as
``[seconds, url, source]``. crawler/archive/reports.py puts both into ``crawl_runs.report``.
"""

from __future__ import annotations

import heapq

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.http import Response

from ..archive.reports import NO_SOURCE
from ..middlewares.failures import DISCOVERY_SOURCE_KEYS
from ..sources import source_for_url, sources_from_settings

# URLs a report names as the slowest
SLOWEST_KEPT = 5


class TrafficExtension:
    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.sources = sources_from_settings(crawler.settings)
        self.slowest: list[tuple[float, str, str]] = []  # a min-heap of the longest latencies
        crawler.signals.connect(self.response_downloaded, signal=signals.response_downloaded)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TrafficExtension:
        return cls(crawler)

    def response_downloaded(self, response: Response, request: Request) -> None:
        source = self.source_of(request)
        self.stats.inc_value(f"traffic/bytes/{source}", len(response.body))
        latency = request.meta.get("download_latency")
        if latency is None:
            return
        entry = (round(latency, 3), request.url, source)
        if len(self.slowest) < SLOWEST_KEPT:
            heapq.heappush(self.slowest, entry)
        elif entry > self.slowest[0]:
            heapq.heapreplace(self.slowest, entry)
        else:
            return
        self.stats.set_value("traffic/slowest", [list(e) for e in sorted(self.slowest, reverse=True)])

    def source_of(self, request: Request) -> str:
        """The request's source as the spider named it, else its host's."""
        name = request.meta.get("source") or next((request.meta[k] for k in DISCOVERY_SOURCE_KEYS
                                                   if k in request.meta), None)
        if name:
            return name
        source = source_for_url(self.sources, request.url)
        return source.name if source else NO_SOURCE
