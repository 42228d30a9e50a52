"""Write every HTTP exchange the crawler makes to WARC 1.1 (ISO 28500) with warcio:
article pages, feeds, sitemaps, robots.txt, redirects, errors, 304s.

It sits next to the downloader, so it sees each exchange as sent and received. Records
are written in a thread (off the reactor); the record's place rides in
``meta['warc']`` to the archive. A body identical to the article's last capture, and a
304, become ``revisit`` records referring to that capture.
"""

from __future__ import annotations

from dataclasses import asdict
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.threads import deferToThread

from ..archive.db import default_warc_dir
from ..warc import Exchange, WarcWriter


class WarcMiddleware:
    def __init__(self, writer: WarcWriter):
        self.writer = writer

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcMiddleware:
        settings = crawler.settings
        if not settings.getbool("WARC_ENABLED"):
            raise NotConfigured("WARC_ENABLED is off")
        directory = settings.get("WARC_DIR") or default_warc_dir(settings.get("ARCHIVE_URL"))
        writer = WarcWriter(directory, max_size=settings.getint("WARC_MAX_SIZE"), prefix=settings.get("WARC_PREFIX"))
        middleware = cls(writer)
        crawler.signals.connect(middleware.spider_closed, signal=signals.spider_closed)
        return middleware

    async def process_response(self, request: Request, response: Response) -> Response:
        exchange = Exchange(
            url=request.url, method=request.method, request_headers=_pairs(request.headers),
            request_body=request.body or b"", status=response.status, response_headers=_pairs(response.headers),
            body=response.body, protocol=response.protocol or "HTTP/1.1",
            prior=request.meta.get("archive_capture"))
        ref = await maybe_deferred_to_future(deferToThread(self.writer.write_exchange, exchange))
        request.meta["warc"] = asdict(ref)
        return response

    def spider_closed(self) -> None:
        self.writer.close()


def _pairs(headers) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, values in headers.items() for value in values]
