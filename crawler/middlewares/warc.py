"""Write every HTTP exchange the crawler makes to WARC 1.1 (ISO 28500) with warcio:
article pages, feeds, sitemaps, robots.txt, redirects, errors, 304s.

It sits next to the downloader, so it sees each exchange as sent and received. Records
are written by one writer process, in order, off the reactor: the response goes on at
once and ``meta['warc']`` holds a future of the record's place, which the archive
pipeline resolves. A process, not a thread: a writer thread fought the reactor for the
GIL and cost ~3 ms a response (bench/recrawl.py); a process uses the second core.
A body identical to the article's last capture, and a 304, become ``revisit``
records referring to that capture.

A chunk the writer could not write is one ERROR line per distinct cause (the visits
concerned become ``error`` fetches in the archive pipeline); out of space stops the crawl.
"""

from __future__ import annotations

import logging
from pathlib import Path

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from ..archive.db import default_warc_dir
from ..diskfull import is_out_of_space, stop_for_full_disk
from ..warc import Exchange
from ..warc.process import WriterProcess

logger = logging.getLogger(__name__)

# Seconds a partial chunk of exchanges waits for more before it goes to the writer, when nothing
# fills it or needs its records first (the archive pipeline ships the chunk as it stores a batch):
# a backstop for the exchanges no visit waits for (robots.txt, feeds, sitemaps), at
# ARCHIVE_BATCH_WAIT's default.
SEND_AFTER = 0.5


class WarcMiddleware:
    def __init__(self, crawler: Crawler, directory: Path, max_size: int, prefix: str):
        self.crawler, self.directory = crawler, directory
        self.writer = WriterProcess(directory, max_size, prefix, on_error=self._on_writer_thread_error)
        self.causes_logged: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcMiddleware:
        settings = crawler.settings
        if not settings.getbool("WARC_ENABLED"):
            raise NotConfigured("WARC_ENABLED is off")
        directory = Path(settings.get("WARC_DIR") or default_warc_dir(settings.get("ARCHIVE_URL")))
        middleware = cls(crawler, directory, settings.getint("WARC_MAX_SIZE"), settings.get("WARC_PREFIX"))
        crawler.signals.connect(middleware.engine_stopped, signal=signals.engine_stopped)
        return middleware

    def process_response(self, request: Request, response: Response) -> Response:
        exchange = Exchange(
            url=request.url, method=request.method, request_headers=_pairs(request.headers),
            request_body=request.body or b"", status=response.status, response_headers=_pairs(response.headers),
            body=response.body, protocol=response.protocol or "HTTP/1.1",
            prior=request.meta.get("archive_capture"))
        request.meta["warc"] = self.writer.write(exchange)
        if len(self.writer.pending) == 1:  # ship this chunk in time, whatever follows
            from twisted.internet import reactor

            reactor.callLater(SEND_AFTER, self.writer.send, self.writer.chunk_number)
        return response

    def _on_writer_thread_error(self, error: BaseException, count: int) -> None:
        from twisted.internet import reactor

        reactor.callFromThread(self.write_failed, error, count)

    def write_failed(self, error: BaseException, count: int) -> None:
        """``count`` exchanges were not written (on the reactor's thread)."""
        self.crawler.stats.inc_value("warc/write_failed", count)
        if is_out_of_space(error):
            stop_for_full_disk(self.crawler, "WARC records", self.directory, error)
            return
        cause = " ".join(str(error).split()) or type(error).__name__
        if cause not in self.causes_logged:  # one line per cause, not one per page
            self.causes_logged.add(cause)
            logger.error("warc: could not write records in %s: %s", self.directory, cause)

    def engine_stopped(self) -> None:
        self.writer.close()


def _pairs(headers) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, values in headers.items() for value in values]
