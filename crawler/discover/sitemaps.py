"""XML sitemaps and sitemap indexes (sitemaps.org 0.9), including Google News
sitemaps, read with Scrapy's own Sitemap parser (no entity expansion, gzip aware)."""

from __future__ import annotations

from io import BytesIO

import lxml.etree
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import Sitemap

from ..extract.dates import parse_datetime
from .types import Announced

NEWS_NS = "http://www.google.com/schemas/sitemap-news/0.9"
MAX_UNZIPPED = 50 * 1024 * 1024  # the sitemaps.org limit for one file


def parse_sitemap(body: bytes) -> tuple[str, list[Announced]]:
    """("sitemapindex", child sitemaps) or ("urlset", article URLs with lastmod / news data)."""
    if body[:3] == b"\x1f\x8b\x08":  # sitemap.xml.gz served as application/octet-stream
        body = gunzip(body, max_size=MAX_UNZIPPED)
    sitemap = Sitemap(body)
    if sitemap.type not in ("sitemapindex", "urlset"):
        raise ValueError(f"not a sitemap (root element <{sitemap.type}>)")
    news = _news_entries(body) if b"sitemap-news" in body else {}
    entries = []
    for entry in sitemap:
        loc = entry["loc"]
        published, title = news.get(loc, (None, None))
        entries.append(Announced(url=loc, published_at=published or parse_datetime(entry.get("lastmod")), title=title))
    return sitemap.type, entries


def _news_entries(body: bytes) -> dict[str, tuple]:
    """loc -> (news:publication_date, news:title): Scrapy's parser keeps only direct children."""
    found = {}
    for _, url in lxml.etree.iterparse(BytesIO(body), tag="{*}url", resolve_entities=False, recover=True):
        loc = url.findtext("{*}loc")
        if loc:
            found[loc.strip()] = (parse_datetime(url.findtext(f".//{{{NEWS_NS}}}publication_date")),
                                  (url.findtext(f".//{{{NEWS_NS}}}title") or "").strip() or None)
        url.clear()
    return found
