"""A body the transport cut short is an error, never a page (issue 9, item 7).

Fewer bytes than Content-Length: Scrapy's HTTP handler already fails the download
(``ResponseDataLossError``, DOWNLOAD_FAIL_ON_DATALOSS, on by default); a response flagged
``dataloss`` because someone turned that off is refused here all the same. A compressed
body that stops before its stream ends is not caught by Scrapy: its decompression returns
"as much data as possible" (``scrapy.utils.gz.gunzip``), and a gzip body cut at 60 % was
archived as a version with a third of the article. This middleware sits just above
HttpCompressionMiddleware, so it sees the body as it came, and checks that the stream ends.

A cut-short body is retried like a lost connection (RETRY_TIMES), then fails with
``IncompleteBodyError``.
"""

from __future__ import annotations

import sys
import zlib

import brotli
from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.http import Response

from ..failures import IncompleteBodyError

if sys.version_info >= (3, 14):  # as Scrapy, which depends on backports-zstd before 3.14
    from compression import zstd
else:
    from backports import zstd

CHUNK = 64 * 1024


class CompleteBodyMiddleware:
    def __init__(self, crawler: Crawler, max_size: int):
        self.crawler = crawler
        self.max_size = max_size

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CompleteBodyMiddleware:
        return cls(crawler, crawler.settings.getint("DOWNLOAD_MAXSIZE"))

    def process_response(self, request: Request, response: Response) -> Request | Response:
        reason = self.incomplete(response)
        if reason is None:
            return response
        self.crawler.stats.inc_value("integrity/incomplete_body")
        error = IncompleteBodyError(reason)
        retry = get_retry_request(request, spider=self.crawler.spider, reason=error)
        if retry is None:
            raise error
        return retry

    def incomplete(self, response: Response) -> str | None:
        if "dataloss" in response.flags:
            return "body cut short: fewer bytes than its Content-Length"
        encodings = response.headers.getlist(b"Content-Encoding")
        coding = encodings[-1].decode("latin-1").strip().lower() if encodings else ""
        if not response.body or coding not in STREAM_ENDS:
            return None
        if STREAM_ENDS[coding](response.body, self.max_size) is False:
            return f"body cut short: the {coding} stream stops before its end ({len(response.body)} bytes received)"
        return None


# Each answers "does the compressed stream reach its end?": True, False, or None when it is
# not worth deciding (past max_size: HttpCompressionMiddleware refuses the body anyway).
# Output is thrown away chunk by chunk, so a compression bomb costs no memory here.

def _zlib_ends(body: bytes, max_size: int, wbits: int = 31) -> bool | None:
    decompressor = zlib.decompressobj(wbits=wbits)
    data, produced = body, 0
    try:
        while data and not decompressor.eof:
            produced += len(decompressor.decompress(data, CHUNK))
            data = decompressor.unconsumed_tail
            if max_size and produced > max_size:
                return None
    except zlib.error:
        return False
    return decompressor.eof


def _deflate_ends(body: bytes, max_size: int) -> bool | None:
    # "deflate" is zlib-wrapped by the RFC and raw from some servers; Scrapy accepts both
    try:
        zlib.decompressobj().decompress(body[:2])
    except zlib.error:
        return _zlib_ends(body, max_size, wbits=-15)
    return _zlib_ends(body, max_size, wbits=15)


def _brotli_ends(body: bytes, max_size: int) -> bool | None:
    decompressor, produced = brotli.Decompressor(), 0
    try:
        chunk = decompressor.process(body, output_buffer_limit=CHUNK)
        while chunk and not decompressor.is_finished():
            produced += len(chunk)
            if max_size and produced > max_size:
                return None
            chunk = decompressor.process(b"", output_buffer_limit=CHUNK)
    except brotli.error:
        return False
    return decompressor.is_finished()


def _zstd_ends(body: bytes, max_size: int) -> bool | None:
    decompressor, data, produced = zstd.ZstdDecompressor(), body, 0
    try:
        while not decompressor.eof:
            chunk = decompressor.decompress(data, CHUNK)
            produced += len(chunk)
            if max_size and produced > max_size:
                return None
            if not chunk and decompressor.needs_input:
                break
            data = b""
    except zstd.ZstdError:
        return False
    return decompressor.eof


STREAM_ENDS = {"gzip": _zlib_ends, "x-gzip": _zlib_ends, "deflate": _deflate_ends, "br": _brotli_ends,
               "zstd": _zstd_ends}
