"""Download handler that fetches every http(s) URL from the offline mirror when
``MIRROR_URL`` is set, and behaves as Scrapy's own HTTP/1.1 handler otherwise.

Rewriting at the handler (not in a middleware) keeps the original URL in every
request and response the rest of Scrapy sees: offsite checks, robots.txt, redirects,
download slots per site, items and the archive.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.exceptions import (
    CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError, DownloadFailedError,
    DownloadTimeoutError, ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from .server import MirrorServer, mirror_path

logger = logging.getLogger(__name__)
BUNDLED = "bundled"
_bundled: MirrorServer | None = None


class MirrorUrlError(ValueError):
    """MIRROR_URL is none of the values the handler understands; the message lists them."""


def check_mirror_url(value: str) -> str:
    """MIRROR_URL as given when it is empty (the live web), ``bundled``, or the http(s)
    URL of a mirror server; MirrorUrlError otherwise (a typo must not become a crawl in
    which every request fails)."""
    if value in ("", BUNDLED):
        return value
    try:
        parts = urlsplit(value)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:  # a port that is not a number
        valid = False
    if not valid:
        raise MirrorUrlError(f"MIRROR_URL {value!r}: expected 'bundled', the http:// URL of a mirror server "
                             "(python -m crawler.mirror), or nothing for the live web")
    return value


def bundled_mirror_url() -> str:
    """Start the bundled mirror once per process (http and https share it)."""
    global _bundled
    if _bundled is None:
        _bundled = MirrorServer().start()
        logger.info("mirror: serving the bundled recorded web at %s", _bundled.url)
    return _bundled.url


class MirrorDownloadHandler(HTTP11DownloadHandler):
    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        mirror_url = check_mirror_url(crawler.settings.get("MIRROR_URL") or "")
        self.mirror_url = (bundled_mirror_url() if mirror_url == BUNDLED else mirror_url).rstrip("/")
        if self.mirror_url:
            # Every site is one host here: keep as many connections alive as the crawl runs
            # requests, not CONCURRENT_REQUESTS_PER_DOMAIN, or each request opens a new one.
            self._pool.maxPersistentPerHost = crawler.settings.getint("CONCURRENT_REQUESTS")
            # Scrapy's own download warnings (data loss, sizes) name the URL it fetched
            self.in_flight: dict[str, str] = {}
            logging.getLogger(HTTP11DownloadHandler.__module__).addFilter(OriginalUrls(self.in_flight))

    async def download_request(self, request: Request) -> Response:
        if not self.mirror_url:
            return await self._download(request, request)
        mirrored = request.replace(url=self.mirror_url + mirror_path(request.url))
        self.in_flight[mirrored.url] = request.url
        try:
            response = await self._download(mirrored, request)
        finally:
            self.in_flight.pop(mirrored.url, None)
        if "download_latency" in mirrored.meta:  # measured on the copy sent: AutoThrottle and run reports read it
            request.meta["download_latency"] = mirrored.meta["download_latency"]
        return response.replace(url=request.url)

    async def close(self) -> None:
        """Scrapy's close (close the pooled connections, give up after ``_disconnect_timeout``
        s, twisted#7738), with a give-up that cannot fire twice.

        Scrapy's own timer calls ``callback`` on the closing Deferred and is cancelled only once
        the awaiting coroutine resumes. When something else holds the reactor at engine_stopped
        (the WARC writer waiting for its process) past the timeout, the connections close and
        the timer comes due in one turn: it fires on a Deferred already fired. Under `scrapy crawl`
        the reactor stops first; under `archive recrawl` it runs the next spider, and the timer
        logged an AlreadyCalledError traceback between spiders."""
        from twisted.internet import reactor

        done: Deferred[None] = Deferred()

        def finish(_: object = None) -> None:
            if not done.called:
                done.callback(None)

        self._pool.closeCachedConnections().addBoth(finish)
        timer = reactor.callLater(self._disconnect_timeout, finish)
        try:
            await maybe_deferred_to_future(done)
        finally:
            if timer.active():
                timer.cancel()

    async def _download(self, sent: Request, original: Request) -> Response:
        """Scrapy's download, its failures restated about the original URL (never the
        mirror's) and in words a person reads."""
        try:
            return await super().download_request(sent)
        except DownloadCancelledError as exc:
            # The body passed DOWNLOAD_MAXSIZE: Scrapy's message is empty when no
            # Content-Length announced it, and names the request sent otherwise.
            limit = sent.meta.get("download_maxsize", self._default_maxsize)
            raise DownloadCancelledError(f"the body is larger than DOWNLOAD_MAXSIZE ({limit} bytes)") from exc
        except (DownloadTimeoutError, DownloadFailedError, ResponseDataLossError, DownloadConnectionRefusedError,
                CannotResolveHostError) as exc:
            if sent is original or sent.url not in str(exc):
                raise
            raise type(exc)(str(exc).replace(sent.url, original.url)) from (exc.__cause__ or exc)


class OriginalUrls(logging.Filter):
    """Rewrites the mirror's URLs in log records to the original URLs being fetched: a log
    line is about the article, never the mirror (issue 9)."""

    def __init__(self, in_flight: dict[str, str]):
        super().__init__()
        self.in_flight = in_flight

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        for mirrored, original in self.in_flight.items():
            if mirrored in message:
                record.msg, record.args = message.replace(mirrored, original), ()
                break
        return True
