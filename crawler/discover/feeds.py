"""RSS 0.9x/2.0 and Atom feeds, read with feedparser.

Feeds inherit the charset trap of their sites (developpez declares ISO-8859-1 and
sends cp1252), so the body is decoded here the way browsers do (WHATWG: latin-1
means windows-1252) and feedparser gets text.
"""

from __future__ import annotations

import calendar
import re
from datetime import datetime, timezone
from urllib.parse import urljoin

import feedparser
from w3lib.encoding import resolve_encoding

from .types import Announced

XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""")
CHARSET = re.compile(r"charset=([A-Za-z0-9._-]+)", re.IGNORECASE)


def decode_feed(body: bytes, content_type: str | None = None) -> str:
    """The feed as text: HTTP charset, else the XML declaration, else UTF-8; latin-1 read as cp1252."""
    declared = None
    if content_type and (match := CHARSET.search(content_type)):
        declared = match.group(1)
    elif match := XML_ENCODING.match(body):
        declared = match.group(1).decode("ascii")
    encoding = resolve_encoding(declared or "utf-8") or "utf-8"
    return body.decode(encoding, errors="replace")


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> list[Announced]:
    """Every entry's link, with its published/updated date, guid and title."""
    parsed = feedparser.parse(decode_feed(body, content_type))
    if parsed.bozo and not parsed.entries:
        raise ValueError(f"{url}: not a readable RSS/Atom feed ({parsed.get('bozo_exception')})")
    announced = []
    for entry in parsed.entries:
        link = entry.get("link") or _first_alternate(entry)
        if not link:
            continue
        announced.append(Announced(
            url=urljoin(url, link.strip()),
            published_at=_entry_date(entry),
            guid=entry.get("id") or None,
            title=(entry.get("title") or "").strip() or None,
        ))
    return announced


def _first_alternate(entry) -> str | None:  # noqa: ANN001
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    return None


def _entry_date(entry) -> datetime | None:  # noqa: ANN001
    for key in ("published_parsed", "updated_parsed", "created_parsed"):
        value = entry.get(key)
        if value:
            return datetime.fromtimestamp(calendar.timegm(value), tz=timezone.utc)
    return None
