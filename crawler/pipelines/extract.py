"""Turn a fetched page into an Article with the source's extraction rules, in the
extraction worker processes (crawler/extract/pool.py): the reactor thread only waits."""

from __future__ import annotations

import logging
import re

from scrapy.crawler import Crawler

from ..extract.pool import Extraction, ExtractPool
from ..failures import describe_failure
from ..items import PageItem
from ..sources import sources_from_settings

logger = logging.getLogger(__name__)
# An error message is one log line and one `fetches.error` value; a library's exception
# text can quote the page, so its markup is dropped and it is cut short.
MAX_ERROR_CHARS = 300
MARKUP = re.compile(r"<[^>]*>?")


class ExtractPipeline:
    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.sources = sources_from_settings(crawler.settings)
        workers = crawler.settings.get("EXTRACT_WORKERS")
        # the workers start with the first page to extract (a 304 re-crawl has none)
        self.pool = ExtractPool(None if workers is None else int(workers))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        return cls(crawler)

    def close_spider(self) -> None:
        self.pool.close()

    async def process_item(self, item: PageItem) -> PageItem:
        if not isinstance(item, PageItem) or item.html is None:
            return item
        if item.raw_hash and item.raw_hash == item.known_raw_hash:
            # The server ignored our validators but sent the very bytes we archived.
            item.outcome, item.html = "unchanged", None
            self.stats.inc_value("extract/skipped_identical_body")
            return item
        rules = self.sources[item.source].rules
        try:
            extraction = await self.pool.extract(item.html, item.url, rules)
        except Exception as exc:  # noqa: BLE001 - a page that breaks the extractor is that page's error, not the crawl's
            item.outcome, item.error = "error", _one_line(describe_failure(exc, item.url))
            self.stats.inc_value("extract/failed")
            logger.error("extract: %s", item.error)
            logger.debug("extract: %s failed", item.url, exc_info=True)
        else:
            self._record(item, extraction)
        item.html = None  # the text is in the article now; do not carry the page further
        return item

    def _record(self, item: PageItem, extraction: Extraction) -> None:
        item.article, item.short_body = extraction.article, extraction.short_body
        if extraction.not_article is None:
            self.stats.inc_value("extract/article")
            return
        item.error = f"{item.url}: {extraction.not_article}"
        if not item.short_body:
            item.outcome = "skipped"
            logger.warning("extract: %s", item.error)
        self.stats.inc_value("extract/short_body" if item.short_body else "extract/empty")


def _one_line(text: str) -> str:
    text = " ".join(MARKUP.sub(" ", text).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"
