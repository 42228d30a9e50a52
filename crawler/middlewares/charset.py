"""Read an HTML page in the encoding it is really in, when the Content-Type header's
charset cannot be right (issue 9, item 7).

Scrapy decodes by the header first (as the HTML standard says), so a page sent as
``charset=ISO-8859-1`` whose bytes are UTF-8, and whose own ``<meta charset=utf-8>`` says
so, became mojibake stored as a new version. Bytes that are valid UTF-8 with non-ASCII in
them are very nearly never Latin-1 text (that would take sequences such as "Ã©"), and
bytes that are not valid UTF-8 prove a ``charset=utf-8`` header wrong. developpez's real
case (ISO-8859-1 declared in header and page, cp1252 bytes sent) is not valid UTF-8, so
it stays with the header, which w3lib reads as cp1252, as browsers do.
"""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler
from scrapy.http import HtmlResponse, Request, Response
from w3lib.encoding import html_body_declared_encoding, http_content_type_encoding, read_bom

logger = logging.getLogger(__name__)


class CharsetMiddleware:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> CharsetMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response) -> Response:
        if not isinstance(response, HtmlResponse):
            return response
        header = http_content_type_encoding(response.headers.get(b"Content-Type", b"").decode("latin-1"))
        body = response.body
        encoding = page_encoding(header, html_body_declared_encoding(body), body)
        if encoding is None:
            return response
        logger.debug("charset: %s says %s in its header, read as %s", response.url, header, encoding)
        self.crawler.stats.inc_value("charset/header_overridden")
        return response.replace(encoding=encoding)


def page_encoding(header: str | None, declared: str | None, body: bytes) -> str | None:
    """The encoding to read ``body`` with when the header's (``header``, as w3lib resolves
    it: ISO-8859-1 is cp1252) cannot be right, else None: the header stands, or, without
    one, Scrapy's own order (BOM, ``<meta>``, detection). ``declared`` is the page's own."""
    if header is None or read_bom(body)[0]:
        return None
    if header == "utf-8":
        if _valid_utf8(body):
            return None
        if declared and declared != "utf-8":
            return declared
        # no other declaration: a UTF-8 page with a stray bad byte keeps its UTF-8 (and one
        # replacement character); text with no UTF-8 sequence at all is the web's default
        return None if _has_utf8_sequences(body) else "cp1252"
    if declared in (None, "utf-8") and not body.isascii() and _valid_utf8(body):
        return "utf-8"
    return None


def _valid_utf8(body: bytes) -> bool:
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _has_utf8_sequences(body: bytes) -> bool:
    return any(ord(char) > 0x7F and char != "\ufffd" for char in body.decode("utf-8", "replace"))
