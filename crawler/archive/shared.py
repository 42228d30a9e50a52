"""One Archive per crawl, opened (and migrated) on first use by whichever component
needs it first; closed when the spider closes."""

from __future__ import annotations

from scrapy import signals
from scrapy.crawler import Crawler

from ..schedule import RevisitPolicy
from ..sources import sources_from_settings
from .db import archive_url
from .store import Archive

_ATTRIBUTE = "_news_archive"


def archive_for(crawler: Crawler) -> Archive:
    archive = getattr(crawler, _ATTRIBUTE, None)
    if archive is None:
        settings = crawler.settings
        sources = sources_from_settings(settings)
        policy = RevisitPolicy.from_minutes(settings.getlist("REVISIT_INTERVALS"), settings.getfloat("REVISIT_YOUNG_HOURS"),
                                            settings.getint("REVISIT_YOUNG_MAX_STEP"), settings.getfloat("REVISIT_GONE_DAYS"))
        archive = Archive.open(archive_url(settings.get("ARCHIVE_URL")), sources=sources, policy=policy)
        setattr(crawler, _ATTRIBUTE, archive)
        crawler.signals.connect(lambda: archive.close(), signal=signals.engine_stopped, weak=False)
    return archive
