"""Download handler that fetches every http(s) URL from the offline mirror when
``MIRROR_URL`` is set, and behaves as Scrapy's own HTTP/1.1 handler otherwise.

Rewriting at the handler (not in a middleware) keeps the original URL in every
request and response the rest of Scrapy sees: offsite checks, robots.txt, redirects,
download slots per site, items and the archive.
"""

from __future__ import annotations

import logging

from scrapy import Request
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.crawler import Crawler
from scrapy.http import Response

from .server import MirrorServer, mirror_path

logger = logging.getLogger(__name__)
BUNDLED = "bundled"
_bundled: MirrorServer | None = None


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
        mirror_url = crawler.settings.get("MIRROR_URL") or ""
        self.mirror_url = (bundled_mirror_url() if mirror_url == BUNDLED else mirror_url).rstrip("/")
        if self.mirror_url:
            # Every site is one host here: keep as many connections alive as the crawl runs
            # requests, not CONCURRENT_REQUESTS_PER_DOMAIN, or each request opens a new one.
            self._pool.maxPersistentPerHost = crawler.settings.getint("CONCURRENT_REQUESTS")

    async def download_request(self, request: Request) -> Response:
        if not self.mirror_url:
            return await super().download_request(request)
        mirrored = request.replace(url=self.mirror_url + mirror_path(request.url))
        response = await super().download_request(mirrored)
        return response.replace(url=request.url)
