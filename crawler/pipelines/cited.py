"""Follow what a republisher cites: an original on a configured source is crawled too,
so the archive can link the copy to it (``translation_of`` / ``cites``)."""

from __future__ import annotations

import dataclasses
import logging

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from ..archive.shared import archive_for
from ..items import PageItem
from ..sources import DEFAULT_SEEDS_PATH, load_sources, source_for_url

logger = logging.getLogger(__name__)


class FollowCitedPipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.sources = load_sources(crawler.settings.get("SOURCES_FILE") or DEFAULT_SEEDS_PATH)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FollowCitedPipeline:
        if not crawler.settings.getbool("CITED_FOLLOW"):
            raise NotConfigured("CITED_FOLLOW is off")
        return cls(crawler)

    def process_item(self, item: PageItem) -> PageItem:
        cited = item.article.cited_url if item.article else None
        source = source_for_url(self.sources, cited) if cited else None
        if source is None:
            return item
        cited = source.canonical(cited)
        item.article = dataclasses.replace(item.article, cited_url=cited)
        spider = self.crawler.spider
        if archive_for(self.crawler).validators(cited) is None and hasattr(spider, "article_request"):
            self.crawler.engine.crawl(spider.article_request(cited, source))
            self.crawler.stats.inc_value("cited/followed")
            logger.info("cited: %s cites %s (%s); crawling it", item.url, cited, source.name)
        return item
