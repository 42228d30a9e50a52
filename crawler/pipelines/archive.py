"""Store visits in the archive, batched, and record the crawl run.

A visit's item leaves the pipeline as the archived record (``ArchivedVisit``), once its
batch is stored: only then are its outcome and version known. A batch is written when it
is full (``ARCHIVE_BATCH_SIZE``) or ``ARCHIVE_BATCH_WAIT`` seconds after its first item,
so no item waits long, and the spider, which closes only when no item is pending, is
never held up. Discoveries are stored too, but leave no item: feeds export visits.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import Future
from dataclasses import asdict, replace

from scrapy import Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DropItem

from ..archive.shared import archive_for
from ..archive.records import DiscoveryRecord, FetchRecord
from ..archive.store import Archive, Stored
from ..items import ArchivedVisit, DiscoveryItem, PageItem
from ..sources import sources_from_settings

logger = logging.getLogger(__name__)
# finish_reason -> crawl_runs.status
RUN_STATUS = {"finished": "finished", "shutdown": "interrupted", "closespider_timeout": "finished",
              "closespider_itemcount": "finished", "closespider_pagecount": "finished"}


class ArchivePipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.sources = sources_from_settings(crawler.settings)
        self.batch_size = crawler.settings.getint("ARCHIVE_BATCH_SIZE", 50)
        self.batch_wait = crawler.settings.getfloat("ARCHIVE_BATCH_WAIT")
        self.batch: list[FetchRecord] = []
        self.waiting: list[asyncio.Future[Stored]] = []  # one per visit in ``batch``
        self.timer: asyncio.TimerHandle | None = None
        self.timed_flushes: set[asyncio.Task] = set()
        self.discoveries: list[DiscoveryRecord] = []
        self.archive: Archive | None = None
        self.run_id: int | None = None
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ArchivePipeline:
        return cls(crawler)

    def open_spider(self) -> None:
        self.archive = archive_for(self.crawler)
        self.archive.sync_sources(self.sources.values())
        spider = self.crawler.spider
        self.run_id = self.archive.start_run(spider.name, spider.run_args() if hasattr(spider, "run_args") else {})
        logger.info("archive: %s, crawl run %d", self.archive.engine.url, self.run_id)

    async def process_item(self, item: PageItem | DiscoveryItem) -> ArchivedVisit:
        if isinstance(item, DiscoveryItem):
            self.discoveries.append(replace(item, crawl_run_id=self.run_id))
            await self._flush_when_due(len(self.discoveries))
            raise DropItem("discovery recorded in the archive (feeds export visits)", log_level="DEBUG")
        source = self.sources.get(item.source)
        urls = (*item.urls, *(source.canonical(u) for u in item.urls)) if source else item.urls
        self.batch.append((FetchRecord(
            url=item.url, source=item.source, fetched_at=item.fetched_at, http_status=item.http_status,
            article=item.article, outcome=item.outcome, error=item.error, crawl_run_id=self.run_id,
            urls=tuple(dict.fromkeys(urls)), etag=item.etag, last_modified=item.last_modified,
            raw_hash=item.raw_hash, short_body=item.short_body), item.warc))
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
            await self._flush_logging_errors()
        elif self.timer is None:
            self.timer = asyncio.get_running_loop().call_later(self.batch_wait, self._timed_flush)

    def _timed_flush(self) -> None:
        self.timer = None
        task = asyncio.ensure_future(self._flush_logging_errors())
        self.timed_flushes.add(task)  # a task nobody references may be collected mid-flight
        task.add_done_callback(self.timed_flushes.discard)

    async def _flush_logging_errors(self) -> None:
        try:
            await self.flush()
        except Exception as exc:  # noqa: BLE001 - its items are dropped with it; this says it once
            logger.error("archive: could not store a batch: %s", exc)
            logger.debug("archive: batch failure", exc_info=True)

    async def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        # Take the batches first: items arriving while the WARC writes are awaited go to new ones.
        discoveries, self.discoveries = self.discoveries, []
        batch, self.batch = self.batch, []
        waiting, self.waiting = self.waiting, []
        try:
            if discoveries:
                self.archive.record_discoveries(discoveries)
            if batch:
                records = [replace(record, warc=await _warc_record(record.url, warc)) for record, warc in batch]
                for record, stored, waiter in zip(records, self.archive.record_fetches(records), waiting):
                    self._count(record.url, stored)
                    waiter.set_result(stored)
        except BaseException as exc:
            for waiter in waiting:  # never leave an item waiting: the spider would not close
                if not waiter.done():
                    waiter.set_exception(exc)
            raise

    def _count(self, url: str, stored: Stored) -> None:
        self.crawler.stats.inc_value(f"archive/{stored.outcome}")
        if stored.rule:  # a junk rule decided: say which, one line per visit
            self.crawler.stats.inc_value(f"archive/{stored.rule}")
            note = stored.error or stored.rule
            logger.warning("archive: %s", note if note.startswith(url) else f"{url}: {note}")

    async def close_spider(self) -> None:
        await self.flush()

    def spider_closed(self, spider: Spider, reason: str) -> None:
        if self.archive is None:
            return
        stats = json.loads(json.dumps(self.crawler.stats.get_stats(), default=str))
        self.archive.finish_run(self.run_id, RUN_STATUS.get(reason, "failed"), stats)
        logger.info("%s", run_summary(self.run_id, spider.name, reason, stats))



def run_summary(run_id: int, spider: str, reason: str, stats: dict) -> str:
    """One line a person reads in the log or a cron mail."""
    outcomes = ", ".join(f"{stats.get(f'archive/{o}', 0)} {o}" for o in
                         ("new", "changed", "unchanged", "not_modified", "gone", "error", "skipped"))
    return (f"crawl run {run_id} ({spider}) {reason} in {stats.get('elapsed_time_seconds', 0):.1f} s: "
            f"{stats.get('downloader/request_count', 0)} requests, "
            f"{stats.get('downloader/response_bytes', 0) / 1e6:.1f} MB; {outcomes}")


async def _warc_record(url: str, warc: Future | dict | None) -> dict | None:
    """Where WarcMiddleware's writer put this exchange (by flush time it is nearly always written)."""
    if not isinstance(warc, Future):
        return warc
    try:
        return asdict(warc.result() if warc.done() else await asyncio.wrap_future(warc))
    except Exception as exc:  # noqa: BLE001 - the visit is still archived, without its raw record
        logger.error("warc: could not write the record of %s: %s", url, exc)
        return None
