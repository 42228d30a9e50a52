"""Store visits in the archive, batched, and record the crawl run."""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import Future
from dataclasses import asdict, replace

from scrapy import Spider, signals
from scrapy.crawler import Crawler

from ..archive.shared import archive_for
from ..archive.records import DiscoveryRecord, FetchRecord
from ..archive.store import Archive
from ..diskfull import is_out_of_space, stop_for_full_disk
from ..items import DiscoveryItem, PageItem
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
        self.batch: list[FetchRecord] = []
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

    async def process_item(self, item: PageItem | DiscoveryItem) -> PageItem | DiscoveryItem:
        if isinstance(item, DiscoveryItem):
            self.discoveries.append(replace(item, crawl_run_id=self.run_id))
        else:
            source = self.sources.get(item.source)
            urls = (*item.urls, *(source.canonical(u) for u in item.urls)) if source else item.urls
            self.batch.append((FetchRecord(
                url=item.url, source=item.source, fetched_at=item.fetched_at, http_status=item.http_status,
                article=item.article, outcome=item.outcome, error=item.error, crawl_run_id=self.run_id,
                urls=tuple(dict.fromkeys(urls)), etag=item.etag, last_modified=item.last_modified,
                raw_hash=item.raw_hash), item.warc))
        if len(self.batch) >= self.batch_size or len(self.discoveries) >= self.batch_size:
            await self.flush()
        return item

    async def flush(self) -> None:
        # Take the batches first: items arriving while the WARC writes are awaited go to new ones.
        discoveries, self.discoveries = self.discoveries, []
        batch, self.batch = self.batch, []
        records = [await self._with_raw_capture(record, warc) for record, warc in batch]
        try:
            if discoveries:
                self.archive.record_discoveries(discoveries)
            if records:
                for outcome in self.archive.record_fetches(records):
                    self.crawler.stats.inc_value(f"archive/{outcome}")
        except Exception as exc:
            if not is_out_of_space(exc):
                raise
            self.crawler.stats.inc_value("archive/not_stored", len(records))
            stop_for_full_disk(self.crawler, "the archive", _where(self.archive), exc)

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


async def _warc_record(warc: Future | dict | None) -> dict | None:
    """Where WarcMiddleware's writer put this exchange (by flush time it is nearly always
    written); raises what stopped the writer."""
    if not isinstance(warc, Future):
        return warc
    return asdict(warc.result() if warc.done() else await asyncio.wrap_future(warc))


def _where(archive: Archive) -> str:
    """The archive's file, or its URL without password."""
    url = archive.engine.url
    return url.database if url.get_backend_name() == "sqlite" else url.render_as_string(hide_password=True)
