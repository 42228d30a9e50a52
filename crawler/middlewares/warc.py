"""Write every HTTP exchange the crawler makes to WARC 1.1 (ISO 28500) with warcio:
article pages, feeds, sitemaps, robots.txt, redirects, errors, 304s.

It sits next to the downloader, so it sees each exchange as sent and received. Records
are written by one writer process, in order, off the reactor: the response goes on at
once and ``meta['warc']`` holds a future of the record's place, which the archive
pipeline resolves. A process, not a thread: a writer thread fought the reactor for the
GIL and cost ~3 ms a response (bench/recrawl.py); a process uses the second core.
A body identical to the article's last capture, and a 304, become ``revisit``
records referring to that capture.
"""

from __future__ import annotations

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from ..archive.db import default_warc_dir
from ..warc import Exchange
from ..warc.process import WriterProcess


# Seconds a partial chunk of exchanges waits for more before it is sent to the writer.
SEND_AFTER = 0.05


class WarcMiddleware:
    def __init__(self, writer: WriterProcess):
        self.writer = writer

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcMiddleware:
        settings = crawler.settings
        if not settings.getbool("WARC_ENABLED"):
            raise NotConfigured("WARC_ENABLED is off")
        directory = settings.get("WARC_DIR") or default_warc_dir(settings.get("ARCHIVE_URL"))
        middleware = cls(WriterProcess(directory, settings.getint("WARC_MAX_SIZE"), settings.get("WARC_PREFIX")))
        crawler.signals.connect(middleware.engine_stopped, signal=signals.engine_stopped)
        return middleware

    def process_response(self, request: Request, response: Response) -> Response:
        exchange = Exchange(
            url=request.url, method=request.method, request_headers=_pairs(request.headers),
            request_body=request.body or b"", status=response.status, response_headers=_pairs(response.headers),
            body=response.body, protocol=response.protocol or "HTTP/1.1",
            prior=request.meta.get("archive_capture"))
        request.meta["warc"] = self.writer.write(exchange)
        if len(self.writer.pending) == 1:  # ship a partial chunk soon, whatever follows
            from twisted.internet import reactor

            reactor.callLater(SEND_AFTER, self.writer.send)
        return response

    def engine_stopped(self) -> None:
        self.writer.close()


def _pairs(headers) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, values in headers.items() for value in values]
