"""``scrapy crawl revisit``: re-fetch archived articles that are due (REVISIT_* policy),
most overdue first, at most REVISIT_MAX_PER_SOURCE per source and run."""

from __future__ import annotations

from typing import Any, AsyncIterator

from scrapy import Request
from scrapy.crawler import Crawler

from ..archive.schedule import due_articles
from ..extensions.archive import archive_of
from .base import ArticleSpider, utcnow


class RevisitSpider(ArticleSpider):
    name = "revisit"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> RevisitSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.max_due_per_source = crawler.settings.getint("REVISIT_MAX_PER_SOURCE")
        return spider

    async def start(self) -> AsyncIterator[Request]:
        due = due_articles(archive_of(self.crawler).engine, utcnow(), self.max_due_per_source, self.sources.keys())
        self.logger.info("revisit: %d article(s) due", len(due))
        for url, source in due:
            yield self.article_request(url, self.sources[source])
