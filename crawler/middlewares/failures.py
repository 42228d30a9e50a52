"""Every failed request is on record and in the log once: feeds, sitemaps, listing pages,
robots.txt and articles alike (issue 9: a total outage used to look like success).

Next to the engine, this middleware sees each request's final answer, after retries and
redirects, including robots.txt downloads, which never reach a spider. For each failure it

- logs one line (``describe_failure``: the URL and what happened; the traceback only at
  ``LOG_LEVEL=DEBUG``), in place of Scrapy's "Gave up retrying" and "Error downloading"
  lines, which ``RETRY_GIVE_UP_LOG_LEVEL`` and :class:`AlreadyReported` send to DEBUG;
- hands a ``fetches`` row (outcome ``error``) for a request no spider callback will see
  (one without errback) to the archive pipeline, through the ``request_failed`` signal;
  article requests get theirs from ``ArticleSpider.fetch_failed``;
- counts the run's requests and failures (``fetch/requests``, ``fetch/failed``,
  ``fetch/failed/<what happened>``), which decide whether the run failed
  (``RUN_MAX_ERROR_SHARE``, crawler/pipelines/archive.py ``run_outcome``).

A robots.txt answered at all counts for nothing (4xx means allow-all, RFC 9309 §2.3.1.3);
one that fails (5xx, 429, no answer) counts as a failed request, since it stands for every
request to its host. An article's 404 or 410 is news (the article is gone), not a failure.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Response
from scrapy.utils.response import response_status_message

from ..archive.records import FetchRecord
from ..failures import RobotsTxtRefused, describe_failure, failure_kind
from ..sources import Source, source_for_url, sources_from_settings

logger = logging.getLogger(__name__)
# signal: request_failed(record: FetchRecord, warc) for a failed request that has no errback
request_failed = object()
GONE = (404, 410)
# request meta key: this failure was logged and counted here (an errback need not do it again)
REPORTED = "failure_reported"
DISCOVERY_SOURCE_KEYS = ("feed_source", "sitemap_source", "listing_source")
# Scrapy's loggers that report, with a traceback, a failure this middleware already reported
ALREADY_REPORTED_BY = ("scrapy.core.scraper", "scrapy.downloadermiddlewares.robotstxt")


class FailuresMiddleware:
    def __init__(self, crawler: Crawler, debug: bool):
        self.crawler = crawler
        self.debug = debug
        # read once: a row's source is looked up per failed request
        self.sources = sources_from_settings(crawler.settings)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FailuresMiddleware:
        debug = logging.getLevelName(str(crawler.settings.get("LOG_LEVEL")).upper()) == logging.DEBUG
        if not debug:
            AlreadyReported.install()
        return cls(crawler, debug)

    def process_response(self, request: Request, response: Response) -> Response:
        if _failed_status(request, response.status):
            why = f"{request.url}: HTTP {response_status_message(response.status)}"
            report_failure(self.crawler, self.sources, request, why, f"HTTP {response.status}", response.status)
        elif not _is_robots(request):
            self.crawler.stats.inc_value("fetch/requests")
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        if isinstance(exception, RobotsTxtRefused) and request.errback is None:
            # a feed, sitemap or listing robots.txt kept us from: on record, but not a failure
            why = describe_failure(exception, request.url)
            logger.info("%s", why)
            _send_row(self.crawler, self.sources, request, why, None, outcome="skipped")
            return None
        if isinstance(exception, IgnoreRequest):
            return None  # not fetched on purpose (robots.txt, offsite): not a failure
        why = describe_failure(exception, request.url)
        report_failure(self.crawler, self.sources, request, why, failure_kind(exception, why, request.url), None,
                       exception if self.debug else None)
        return None


def report_failure(crawler: Crawler, sources: dict[str, Source], request: Request, why: str, kind: str,
                   status: int | None, exception: Exception | None = None, counted: bool = False) -> None:
    """One log line, the run's counts and, for a request without errback, its ``fetches``
    row. Also for a discovery page that answered but cannot be read (``counted``: its
    answer was counted as a request already)."""
    logger.error("%s", why, exc_info=exception)
    count_failure(crawler.stats, kind, counted)
    request.meta[REPORTED] = True
    if request.errback is None:
        _send_row(crawler, sources, request, why, status)


def count_failure(stats, kind: str, counted: bool = False) -> None:  # noqa: ANN001 - Scrapy's StatsCollector
    """A failed request in the run's counts (``counted``: the request itself was counted already)."""
    for key in ("fetch/failed", f"fetch/failed/{kind}", *(() if counted else ("fetch/requests",))):
        stats.inc_value(key)


def _send_row(crawler: Crawler, sources: dict[str, Source], request: Request, why: str, status: int | None,
              outcome: str = "error") -> None:
    """The ``fetches`` row of a request no spider callback will see, to the archive pipeline."""
    name = next((request.meta[k] for k in DISCOVERY_SOURCE_KEYS if k in request.meta), None)
    source = name or getattr(source_for_url(sources, request.url), "name", "")
    record = FetchRecord(url=request.url, source=source, fetched_at=datetime.now(timezone.utc),
                         http_status=status, outcome=outcome, error=why)
    crawler.signals.send_catch_log(request_failed, record=record, warc=request.meta.get("warc"))


def _is_robots(request: Request) -> bool:
    return bool(request.meta.get("dont_obey_robotstxt")) and urlsplit(request.url).path == "/robots.txt"


def _failed_status(request: Request, status: int) -> bool:
    if status < 400:
        return False
    if _is_robots(request):
        return status >= 500 or status == 429
    return not ("source" in request.meta and status in GONE)


class AlreadyReported(logging.Filter):
    """Sends to DEBUG Scrapy's "Error downloading" records (with their traceback) of failures
    FailuresMiddleware has reported in one line: the scraper's, for requests without
    errback, and the robots.txt middleware's, which names the page that waited for robots.txt."""

    def filter(self, record: logging.LogRecord) -> bool:
        if str(record.msg).startswith("Error downloading") and record.levelno > logging.DEBUG:
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return True

    @classmethod
    def install(cls) -> None:
        for name in ALREADY_REPORTED_BY:
            target = logging.getLogger(name)
            if not any(isinstance(f, cls) for f in target.filters):
                target.addFilter(cls())
