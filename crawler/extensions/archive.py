"""The crawl's archive, opened (and migrated) once when the crawler is built and closed
when its engine stops. Every component that reads or writes the archive asks this
extension for it (``archive_of(crawler)``): one owner, configured from the settings in
one place (ARCHIVE_URL, SOURCES_FILE, WARC_DIR, REVISIT_*), no module-level singleton.
It also owns the thread the crawl's writes run on (``writer_of(crawler)``, archive/writer.py),
and makes them wait for a database that stops answering (restarted, failed over, the network
away, SQLite's write lock held past its busy timeout) as crawler/outage.py says: a batch is
tried again every RETRY_EVERY seconds, never dropped, for up to ARCHIVE_OUTAGE_LIMIT seconds;
meanwhile the items wait, and Scrapy stops fetching once its scraper is full. Before, each
batch that met the outage was dropped with an ERROR line and the crawl went on fetching pages
it could not store."""

from __future__ import annotations

import asyncio
from typing import Awaitable, Callable, TypeVar

from scrapy import signals
from scrapy.crawler import Crawler
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from ..archive.db import ArchiveUrlError, archive_url, shown_url
from ..archive.store import Archive
from ..archive.writer import ArchiveWriter
from ..outage import Outage
from ..schedule import RevisitPolicy
from ..sources import sources_from_settings

T = TypeVar("T")
FINISH_REASON = "archive_lost"
RETRY_EVERY = 1.0  # seconds between two tries of a write the database did not answer
SQLITE_BUSY, SQLITE_LOCKED = 5, 6


def is_unreachable(exc: BaseException) -> bool:
    """The database did not answer — a lost connection, a server starting up, shutting down
    or gone, SQLite's write lock held by another past the busy timeout — as opposed to a
    write it refused (a constraint, a full disk: crawler/diskfull.py), which is raised."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if not isinstance(exc, OperationalError):
        return False
    sqlstate = getattr(exc.orig, "sqlstate", "")
    if sqlstate is None or sqlstate.startswith(("08", "57P")):  # psycopg: no answer; connection, shutdown
        return True
    return getattr(exc.orig, "sqlite_errorcode", None) in (SQLITE_BUSY, SQLITE_LOCKED)


class WaitingWriter:
    """The writer thread's ``run`` (writes, in order) and ``read`` (a query on the calling
    thread), each tried again while the database does not answer."""

    def __init__(self, writer: ArchiveWriter, outage: Outage):
        self.writer, self.outage = writer, outage

    async def run(self, function: Callable[..., T], *args: object) -> T:
        return await self._patiently(lambda: self.writer.run(function, *args))

    async def read(self, function: Callable[..., T], *args: object) -> T:
        async def now() -> T:
            return function(*args)

        return await self._patiently(now)

    async def _patiently(self, call: Callable[[], Awaitable[T]]) -> T:
        while True:
            try:
                result = await call()
            except Exception as exc:
                if self.outage.given_up or not is_unreachable(exc):
                    raise
                self.outage.failed(exc)
                if self.outage.given_up:
                    raise
                await asyncio.sleep(RETRY_EVERY)
                continue
            self.outage.answered()
            return result

    def close(self) -> None:
        self.writer.close()


class ArchiveExtension:
    def __init__(self, archive: Archive, outage: Outage):
        self.archive = archive
        self.writer = WaitingWriter(ArchiveWriter(archive.engine), outage)

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
        outage = Outage(crawler, f"archive: {shown_url(url)}", settings.getfloat("ARCHIVE_OUTAGE_LIMIT"),
                        "ARCHIVE_OUTAGE_LIMIT", FINISH_REASON)
        extension = cls(archive, outage)
        crawler.signals.connect(extension.engine_stopped, signal=signals.engine_stopped)
        return extension

    def engine_stopped(self) -> None:
        self.writer.close()
        self.archive.close()


def archive_of(crawler: Crawler) -> Archive:
    """The crawl's archive (ArchiveExtension is in EXTENSIONS: crawler/settings.py)."""
    return crawler.get_extension(ArchiveExtension).archive


def writer_of(crawler: Crawler) -> WaitingWriter:
    """The thread the crawl's archive writes run on, in order (archive/writer.py), waiting
    for a database that does not answer."""
    return crawler.get_extension(ArchiveExtension).writer
