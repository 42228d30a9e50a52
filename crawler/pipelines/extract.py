"""Turn a fetched page into an Article with the source's extraction rules."""

from __future__ import annotations

import logging

from scrapy.crawler import Crawler

from ..extract import NotAnArticle, extract_article
from ..items import PageItem
from ..sources import sources_from_settings

logger = logging.getLogger(__name__)


class ExtractPipeline:
    def __init__(self, crawler: Crawler):
        self.stats = crawler.stats
        self.sources = sources_from_settings(crawler.settings)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ExtractPipeline:
        return cls(crawler)

    def process_item(self, item: PageItem) -> PageItem:
        if not isinstance(item, PageItem) or item.html is None:
            return item
        if item.raw_hash and item.raw_hash == item.known_raw_hash:
            # The server ignored our validators but sent the very bytes we archived.
            item.outcome, item.html = "unchanged", None
            self.stats.inc_value("extract/skipped_identical_body")
            return item
        try:
            item.article = extract_article(item.html, item.url, self.sources[item.source].rules)
            self.stats.inc_value("extract/article")
        except NotAnArticle as exc:
            item.outcome, item.error = "skipped", f"{item.url}: {exc}"
            self.stats.inc_value("extract/empty")
            logger.warning("extract: %s", item.error)
        item.html = None  # the text is in the article now; do not carry the page further
        return item
