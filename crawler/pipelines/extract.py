"""Turn a fetched page into an Article with the source's extraction rules."""

from __future__ import annotations

import logging
import re

from scrapy.crawler import Crawler

from ..extract import NotAnArticle, extract_article, extract_short_article
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
        rules = self.sources[item.source].rules
        try:
            item.article = extract_article(item.html, item.url, rules)
            self.stats.inc_value("extract/article")
        except NotAnArticle as exc:
            item.error = f"{item.url}: {exc}"
            item.article = extract_short_article(item.html, item.url, rules) if exc.body_source == "site" else None
            item.short_body = item.article is not None
            if not item.short_body:
                item.outcome = "skipped"
                logger.warning("extract: %s", item.error)
            self.stats.inc_value("extract/short_body" if item.short_body else "extract/empty")
        except Exception as exc:  # noqa: BLE001 - a page that breaks the extractor is that page's error, not the crawl's
            item.outcome, item.error = "error", _one_line(describe_failure(exc, item.url))
            self.stats.inc_value("extract/failed")
            logger.error("extract: %s", item.error)
            logger.debug("extract: %s failed", item.url, exc_info=True)
        item.html = None  # the text is in the article now; do not carry the page further
        return item


def _one_line(text: str) -> str:
    text = " ".join(MARKUP.sub(" ", text).split())
    return text if len(text) <= MAX_ERROR_CHARS else text[:MAX_ERROR_CHARS - 1] + "…"
