"""Store visits in the archive, batched, and record the crawl run.

A visit's item leaves the pipeline as the archived record (``ArchivedVisit``), once its
batch is stored: only then are its outcome and version known. A batch is written when it
is full (``ARCHIVE_BATCH_SIZE``), once the crawl has nothing left to fetch (its last pages:
no page is on its way to join the batch; looked at as each item arrives, and every QUIET_LOOK
s while a batch waits), or ``ARCHIVE_BATCH_WAIT`` seconds after its first
item, so no item waits long, and the spider, which closes only when no item is pending, is
never held up. Discoveries are stored too, but leave no item: feeds export visits.
Batches are written on the archive's writer thread (archive/writer.py), in the order they
were taken, while the reactor goes on crawling; their items leave once theirs is stored.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import Future
from dataclasses import asdict, replace

from scrapy import Spider, signals
from scrapy.core.engine import ExecutionEngine
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem
from sqlalchemy.exc import SQLAlchemyError

from ..archive.discoveries import record_discoveries
from ..archive.health import HealthPolicy, check_run
from ..archive.records import DiscoveryRecord, FetchRecord
from ..archive.runs import finish_run, interrupt_stale_runs, start_run
from ..archive.sources import sync_sources
from ..archive.store import Archive, display_name
from ..archive.writer import ArchiveWriter
from ..archive.visits import Stored, record_fetches
from ..extensions.archive import WaitingWriter, archive_of, is_unreachable, writer_of
from ..diskfull import is_out_of_space, stop_for_full_disk
from ..items import ArchivedVisit, DiscoveryItem, PageItem
from ..middlewares.failures import request_failed
from ..outage import FINISH_WHY
from ..sources import sources_from_settings
from ..warc.process import RecordFuture

logger = logging.getLogger(__name__)
# Seconds between two looks, while a batch waits, at whether the crawl has anything left to
# fetch. Looking only as each item arrives missed the end when the last items came while
# requests were still pending (on a shared frontier: queued, then taken by the other
# processes): the batch then waited out ARCHIVE_BATCH_WAIT, and the run's end with it
# (bench/scale.py, 2 processes: 2 of 4 runs waited ~0.4 s for the timer).
QUIET_LOOK = 0.05
# finish_reason -> crawl_runs.status; any reason not here (disk_full, …) is "failed"
RUN_STATUS = {"finished": "finished", "shutdown": "interrupted"}


class ArchivePipeline:
    def __init__(self, crawler: Crawler, archive: Archive | None = None,
                 writer: WaitingWriter | ArchiveWriter | None = None):
        self.crawler = crawler
        self.writer = writer or ArchiveWriter(None)
        self.sources = sources_from_settings(crawler.settings)
        self.batch_size = crawler.settings.getint("ARCHIVE_BATCH_SIZE")
        self.batch_wait = crawler.settings.getfloat("ARCHIVE_BATCH_WAIT")
        self.max_error_share = crawler.settings.getfloat("RUN_MAX_ERROR_SHARE")
        self.health = HealthPolicy.from_settings(crawler.settings)
        self.batch: list[FetchRecord] = []
        self.waiting: list[asyncio.Future[Stored] | None] = []  # one per visit in ``batch``
        # items whose batch is being written: still being scraped, no longer in ``waiting``
        self.storing = 0
        self.timer: asyncio.TimerHandle | None = None
        self.quiet_look: asyncio.TimerHandle | None = None  # the next look for the crawl's end (QUIET_LOOK)
        self.timed_flushes: set[asyncio.Task] = set()
        self.discoveries: list[DiscoveryRecord] = []
        self.archive = archive
        self.run_id: int | None = None
        self.engine: ExecutionEngine | None = None  # once the spider is open
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler, archive_of(crawler), writer_of(crawler))

    def open_spider(self) -> None:
        for run_id in interrupt_stale_runs(self.archive.engine):
            logger.warning("archive: crawl run %d was left running by a process that is gone; marked interrupted",
                           run_id)
        sync_sources(self.archive.engine, self.sources.values())
        spider = self.crawler.spider
        args = spider.run_args() if hasattr(spider, "run_args") else {}
        self.run_id = start_run(self.archive.engine, spider.name, args, warc_dir=self.archive.warc_dir)
        self.crawler.signals.connect(self.request_failed, signal=request_failed)
        self.engine = self.crawler.engine
        logger.info("archive: %s, crawl run %d", self.archive.engine.url, self.run_id)

    async def process_item(self, item: PageItem | DiscoveryItem) -> ArchivedVisit:
        if isinstance(item, DiscoveryItem):
            self.discoveries.append(replace(item, crawl_run_id=self.run_id))
            await self._flush_when_due(len(self.discoveries))
            raise DropItem("discovery recorded in the archive (feeds export visits)", log_level="DEBUG")
        source = self.sources.get(item.source)
        urls = (*item.urls, *(source.canonical(u) for u in item.urls)) if source else item.urls
        self.batch.append((replace(item, crawl_run_id=self.run_id, urls=tuple(dict.fromkeys(urls)), html=None,
                                   warc=None), item.warc))
        waiter = asyncio.get_running_loop().create_future()
        self.waiting.append(waiter)
        await self._flush_when_due(len(self.batch))
        try:
            stored = await waiter
        except Exception as exc:  # the batch's one ERROR line said why; the feed gets no unarchived visit
            raise DropItem(f"not archived: {exc}", log_level="DEBUG") from exc
        return ArchivedVisit.of(item, stored)

    async def _flush_when_due(self, size: int) -> None:
        if size >= self.batch_size:
            await self._flush_logging_errors("full")
        elif self._nothing_left_to_fetch():
            await self._flush_logging_errors("quiet")
        else:
            self._wait_for_more()

    def _wait_for_more(self) -> None:
        """The batch waits: for more items, ARCHIVE_BATCH_WAIT s at most, or until the crawl
        has nothing left to fetch."""
        loop = asyncio.get_event_loop()
        if self.timer is None:
            self.timer = loop.call_later(self.batch_wait, self._timed_flush)
        if self.quiet_look is None:
            self.quiet_look = loop.call_later(QUIET_LOOK, self._look_for_quiet)

    def _look_for_quiet(self) -> None:
        self.quiet_look = None
        if not (self.batch or self.discoveries):
            return
        if self._nothing_left_to_fetch():
            self._flush_in_background("quiet")
        else:
            self._wait_for_more()

    def _nothing_left_to_fetch(self, but: int = 0) -> bool:
        """The crawl's last pages: no download under way (``but`` the caller's own) or to
        come, and every page still being scraped waits in this batch or in one being written
        (the last pages often arrive while the batch before them is stored: counting only this
        one, a 1,000-page crawl's last batch waited out its timer). Nothing can join the
        batch any more, so waiting ARCHIVE_BATCH_WAIT would only hold up the crawl's close
        (and, on a shared frontier, the other processes waiting for this one). It is the
        engine's own idle test read from its parts (Scrapy has no public one; a test in
        tests/test_feed_export.py pins it). Mid-crawl the engine often has no download under
        way while items wait to be stored, so no download alone is not the end."""
        engine = self.engine
        if engine is None or engine._slot is None or len(engine.downloader.active) > but:
            return False
        scraping = engine.scraper.slot
        here = _items(self.waiting) + self.storing + len(self.discoveries)
        if scraping.queue or len(scraping.active) > here or engine._start is not None:  # start requests still to come
            return False
        try:
            return not engine._slot.scheduler.has_pending_requests()
        except Exception:  # noqa: BLE001 - a scheduler's error is the engine's to report; the batch's timer stays
            logger.debug("archive: the scheduler could not say whether requests are pending", exc_info=True)
            return False

    def _timed_flush(self) -> None:
        self.timer = None
        self._flush_in_background("timer")

    def _flush_in_background(self, why: str) -> None:
        task = asyncio.ensure_future(self._flush_logging_errors(why))
        self.timed_flushes.add(task)  # a task nobody references may be collected mid-flight
        task.add_done_callback(self.timed_flushes.discard)

    async def _flush_logging_errors(self, why: str) -> None:
        try:
            await self.flush(why)
        except Exception as exc:  # noqa: BLE001 - its items are dropped with it; this says it once
            logger.error("archive: could not store a batch: %s", exc)
            logger.debug("archive: batch failure", exc_info=True)

    async def flush(self, why: str = "close") -> None:
        """Store what is waiting; ``why`` (full, quiet, timer, close) is counted in the stats
        (``archive/batches/<why>``), which say how the crawl's batches were filled."""
        for handle in (self.timer, self.quiet_look):
            if handle is not None:
                handle.cancel()
        self.timer = self.quiet_look = None
        # Take the batches first: items arriving while the WARC writes are awaited go to new ones.
        discoveries, self.discoveries = self.discoveries, []
        batch, self.batch = self.batch, []
        waiting, self.waiting = self.waiting, []
        items = _items(waiting)
        self.storing += items
        try:
            await self._store(why, discoveries, batch, waiting)
        finally:
            self.storing -= items

    async def _store(self, why: str, discoveries: list[DiscoveryRecord], batch: list[tuple[FetchRecord, object]],
                     waiting: list[asyncio.Future[Stored] | None]) -> None:
        records = [await self._with_raw_capture(record, warc) for record, warc in batch]
        if not (discoveries or records):
            return
        self.crawler.stats.inc_value(f"archive/batches/{why}")
        try:
            results = await self.writer.run(_write, self.archive, discoveries, records)
            for record, stored, waiter in zip(records, results, waiting):
                self._count(record.url, stored)
                if waiter is not None:
                    waiter.set_result(stored)
        except BaseException as exc:
            for waiter in waiting:  # never leave an item waiting: the spider would not close
                if waiter is not None and not waiter.done():
                    waiter.set_exception(exc)
            if is_out_of_space(exc):
                self.crawler.stats.inc_value("archive/not_stored", len(records))
                stop_for_full_disk(self.crawler, "the archive", display_name(self.archive.engine), exc)
            elif is_unreachable(exc):  # waited ARCHIVE_OUTAGE_LIMIT for it, said so, the crawl stops
                self.crawler.stats.inc_value("archive/not_stored", len(records))
            else:
                raise

    def _count(self, url: str, stored: Stored) -> None:
        self.crawler.stats.inc_value(f"archive/{stored.outcome}")
        if stored.rule:  # a junk rule decided: say which, one line per visit
            self.crawler.stats.inc_value(f"archive/{stored.rule}")
            note = stored.error or stored.rule
            logger.warning("archive: %s", note if note.startswith(url) else f"{url}: {note}")

    async def _with_raw_capture(self, record: FetchRecord, warc: Future | dict | None) -> FetchRecord:
        """The visit with its WARC record's place; an ``error`` visit (no version, no article
        change) when the raw capture was not written: no success without the raw page."""
        try:
            return replace(record, warc=await _warc_record(warc))
        except Exception as exc:  # noqa: BLE001 - whatever stopped the writer, the visit says it
            self.crawler.stats.inc_value("warc/not_written")
            reason = f"raw capture not written: {' '.join(str(exc).split()) or type(exc).__name__}"
            return replace(record, article=None, outcome="error", warc=None, etag=None, last_modified=None,
                           raw_hash=None, error=f"{record.error}; {reason}" if record.error else f"{record.url}: {reason}")

    async def close_spider(self) -> None:
        await self.flush()
        # a timed flush taken before this one may not have counted its visits yet
        await asyncio.gather(*self.timed_flushes, return_exceptions=True)

    def request_failed(self, record: FetchRecord, warc: Future | dict | None) -> None:
        """A failed request no spider callback saw (FailuresMiddleware): stored with this run's visits."""
        self.batch.append((replace(record, crawl_run_id=self.run_id), warc))
        self.waiting.append(None)  # no item waits for it; the timer or the close writes it
        if self._nothing_left_to_fetch(but=1):  # the failed request leaves the downloader after this signal
            self._flush_in_background("quiet")
        else:
            self._wait_for_more()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.run_id is None:  # the spider never opened
            return
        stats = json.loads(json.dumps(self.crawler.stats.get_stats(), default=str))
        status, why = run_outcome(reason, stats, self.max_error_share)
        try:
            finish_run(self.archive.engine, self.run_id, status, stats, why)
        except SQLAlchemyError as exc:  # a full disk, a lost server: the run stays 'running' until the next one
            cause = f"its end could not be recorded: {' '.join(str(getattr(exc, 'orig', exc)).split())}"
            status, why = "failed", f"{why}; {cause}" if why else cause
        # what `scrapy crawl` and `archive recrawl` exit with
        self.crawler.stats.set_value("archive/run_status", status)
        self.crawler.stats.set_value("archive/run_reason", why)
        log = logger.info if status == "finished" else logger.error
        log("%s", run_summary(self.run_id, spider.name, status, why, stats))
        if status == "finished":
            self.crawler.stats.set_value("archive/health_alarms", self._health_alarms())

    def _health_alarms(self) -> list[str]:
        """The run's extraction-health alarms (crawler/archive/health.py), stored and logged one
        line each; their lines, for the exit status of `scrapy crawl` and `archive recrawl`."""
        try:
            with self.archive.engine.begin() as connection:
                alarms = check_run(connection, self.run_id, self.health)
        except SQLAlchemyError as exc:
            cause = " ".join(str(getattr(exc, "orig", exc)).split())
            logger.error("archive: extraction health not checked: %s", cause)
            return []
        for alarm in alarms:
            logger.warning("health alarm: %s", alarm.line())
        return [alarm.line() for alarm in alarms]


def run_outcome(reason: str, stats: dict, max_error_share: float) -> tuple[str, str | None]:
    """The run's status from the spider's finish reason and FailuresMiddleware's counts, and
    unless it finished, why in one line. A run whose requests all failed, or more than
    ``max_error_share`` of them, failed."""
    if reason != "finished" and not reason.startswith("closespider_"):
        why = stats.get(FINISH_WHY)  # in words, from whoever closed it (frontier/outage.py)
        return RUN_STATUS.get(reason, "failed"), f"{why} ({reason})" if why else f"the spider closed with reason {reason!r}"
    requests, failed = stats.get("fetch/requests", 0), stats.get("fetch/failed", 0)
    if failed and (failed >= requests or failed / requests > max_error_share):
        kinds = sorted(((n, k.removeprefix("fetch/failed/")) for k, n in stats.items()
                        if k.startswith("fetch/failed/")), reverse=True)
        return "failed", f"{failed} of {requests} requests failed ({', '.join(k for _, k in kinds[:2])})"
    return "finished", None


def run_summary(run_id: int, spider: str, status: str, why: str | None, stats: dict) -> str:
    """One line a person reads in the log or a cron mail."""
    outcomes = ", ".join(f"{stats.get(f'archive/{o}', 0)} {o}" for o in
                         ("new", "changed", "unchanged", "not_modified", "gone", "error", "skipped"))
    if stats.get("archive/not_stored"):  # visits lost with a batch the archive could not take (full disk, gone)
        outcomes += f", {stats['archive/not_stored']} not stored"
    requests = why or f"{stats.get('fetch/requests', 0)} requests, {stats.get('fetch/failed', 0)} failed"
    return (f"crawl run {run_id} ({spider}) {status} — {requests}; {stats.get('elapsed_time_seconds', 0):.1f} s, "
            f"{stats.get('downloader/response_bytes', 0) / 1e6:.1f} MB; {outcomes}")


def _items(waiting: list[asyncio.Future[Stored] | None]) -> int:
    """The pages among a batch's visits: a failed request's visit (None) has no item waiting."""
    return sum(waiter is not None for waiter in waiting)

def _write(archive: Archive, discoveries: list[DiscoveryRecord], records: list[FetchRecord]) -> list[Stored]:
    """A batch's discoveries and visits, on the writer thread."""
    if discoveries:
        record_discoveries(archive.engine, discoveries)
    return record_fetches(archive, records) if records else []


async def _warc_record(warc: Future | dict | None) -> dict | None:
    """Where WarcMiddleware's writer put this exchange, shipping the chunk it waits in if it
    is still filling; raises what stopped the writer."""
    if not isinstance(warc, Future):
        return warc
    if isinstance(warc, RecordFuture):
        warc.send()
    return asdict(warc.result() if warc.done() else await asyncio.wrap_future(warc))
