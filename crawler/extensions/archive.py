"""The crawl's archive, opened (and migrated) once when the crawler is built and closed
when its engine stops. Every component that reads or writes the archive asks this
extension for it (``archive_of(crawler)``): one owner, configured from the settings in
one place (ARCHIVE_URL, SOURCES_FILE, WARC_DIR, REVISIT_*), no module-level singleton.
It also owns the thread the crawl's writes run on (``writer_of(crawler)``, archive/writer.py)."""

from __future__ import annotations

from scrapy import signals
from scrapy.crawler import Crawler
from sqlalchemy.exc import SQLAlchemyError

from ..archive.db import ArchiveUrlError, archive_url, shown_url
from ..archive.store import Archive
from ..archive.writer import ArchiveWriter
from ..schedule import RevisitPolicy
from ..sources import sources_from_settings


class ArchiveExtension:
    def __init__(self, archive: Archive):
        self.archive = archive
        self.writer = ArchiveWriter(archive.engine)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchiveExtension:
        settings = crawler.settings
        policy = RevisitPolicy.from_minutes(settings.getlist("REVISIT_INTERVALS"), settings.getfloat("REVISIT_YOUNG_HOURS"),
                                            settings.getint("REVISIT_YOUNG_MAX_STEP"), settings.getfloat("REVISIT_GONE_DAYS"))
        url = archive_url(settings.get("ARCHIVE_URL"))
        try:
            archive = Archive.open(url, sources=sources_from_settings(settings), policy=policy,
                                   warc_dir=settings.get("WARC_DIR"))
        except SQLAlchemyError as exc:  # one line that names the archive, before the engine starts
            cause = " ".join(str(getattr(exc, "orig", None) or exc).split())
            raise ArchiveUrlError(f"ARCHIVE_URL {shown_url(url)}: cannot open the archive: {cause}") from exc
        extension = cls(archive)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_stopped(self) -> None:
        self.writer.close()
        self.archive.close()


def archive_of(crawler: Crawler) -> Archive:
    """The crawl's archive (ArchiveExtension is in EXTENSIONS: crawler/settings.py)."""
    return crawler.get_extension(ArchiveExtension).archive


def writer_of(crawler: Crawler) -> ArchiveWriter:
    """The thread the crawl's archive writes run on, in order (archive/writer.py)."""
    return crawler.get_extension(ArchiveExtension).writer
