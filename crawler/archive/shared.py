"""One Archive per crawl, opened (and migrated) on first use by whichever component
needs it first; closed when the spider closes."""

from __future__ import annotations

from scrapy import signals
from scrapy.crawler import Crawler

from ..sources import DEFAULT_SEEDS_PATH, load_sources
from .db import archive_url
from .store import Archive

_ATTRIBUTE = "_news_archive"


def archive_for(crawler: Crawler) -> Archive:
    archive = getattr(crawler, _ATTRIBUTE, None)
    if archive is None:
        sources = load_sources(crawler.settings.get("SOURCES_FILE") or DEFAULT_SEEDS_PATH)
        archive = Archive.open(archive_url(crawler.settings.get("ARCHIVE_URL")), sources=sources)
        setattr(crawler, _ATTRIBUTE, archive)
        crawler.signals.connect(lambda: archive.close(), signal=signals.engine_stopped, weak=False)
    return archive
