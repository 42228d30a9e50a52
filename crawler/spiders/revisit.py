"""``scrapy crawl revisit``: re-fetch archived articles that are due (REVISIT_* policy),
most overdue first, at most REVISIT_MAX_PER_SOURCE per source and run."""

from __future__ import annotations

from typing import AsyncIterator

from scrapy import Request

from ..extensions.archive import archive_of
from .base import ArticleSpider, utcnow


class RevisitSpider(ArticleSpider):
    name = "revisit"

    async def start(self) -> AsyncIterator[Request]:
        cap = self.crawler.settings.getint("REVISIT_MAX_PER_SOURCE")
        due = archive_of(self.crawler).due_articles(utcnow(), cap, self.sources.keys())
        self.logger.info("revisit: %d article(s) due", len(due))
        for url, source in due:
            yield self.article_request(url, self.sources[source])
