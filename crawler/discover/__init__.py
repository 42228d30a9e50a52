"""Discovery: pure functions that read feeds, sitemaps and listing pages into the
article URLs they announce, with what they say about each (date, guid, title)."""

from .feeds import parse_feed
from .listings import parse_listing
from .sitemaps import parse_sitemap
from .types import Announced

__all__ = ["Announced", "parse_feed", "parse_listing", "parse_sitemap"]
