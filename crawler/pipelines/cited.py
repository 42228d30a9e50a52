"""Follow what an article cites as its origin: an original on a configured source is
crawled too, so the archive can link the copy to it (``translation_of`` / ``cites``).
Citations of other hosts are recorded by the archive, never fetched.

An article's cited URLs are written as discoveries in one transaction on the archive's
writer thread (archive/writer.py: a write here would wait for a batch store's write lock
and block the crawl) and looked up in one query: issue 11 measured a transaction and a
lookup per cited URL at 9 % of the crawl's reactor thread."""

from __future__ import annotations

import dataclasses
import logging

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from ..extensions.archive import archive_of, is_unreachable, writer_of
from ..middlewares.conditional import KNOWN
from ..archive.discoveries import record_discoveries
from ..archive.records import DiscoveryRecord
from ..archive.store import display_name
from ..archive.validators import validators_of
from ..diskfull import is_out_of_space, stop_for_full_disk
from ..items import PageItem
from ..sources import source_for_url, sources_from_settings

logger = logging.getLogger(__name__)


class FollowCitedPipeline:
    def __init__(self, crawler: Crawler):
        self.crawler = crawler
        self.archive = archive_of(crawler)
        self.writer = writer_of(crawler)
        self.sources = sources_from_settings(crawler.settings)
        self.followed: set[str] = set()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FollowCitedPipeline:
        if not crawler.settings.getbool("CITED_FOLLOW"):
            raise NotConfigured("CITED_FOLLOW is off")
        return cls(crawler)

    async def process_item(self, item: PageItem) -> PageItem:
        article = item.article if isinstance(item, PageItem) else None
        if article is None or not (article.cited_url or article.citations):
            return item
        item.article = article = dataclasses.replace(
            article, cited_url=self._canonical(article.cited_url),
            citations=tuple(dict.fromkeys(self._canonical(c) for c in article.citations)))
        follow = {}
        for url in dict.fromkeys(filter(None, (article.cited_url, *article.citations))):
            source = source_for_url(self.sources, url) if url.startswith("http") else None
            if source is not None and url not in self.followed:
                follow[url] = source
        if follow:
            await self._follow(follow, item)
        return item

    def _canonical(self, value: str | None) -> str | None:
        source = source_for_url(self.sources, value) if value and value.startswith("http") else None
        return source.canonical(value) if source else value

    async def _follow(self, follow: dict, item: PageItem) -> None:
        self.followed.update(follow)
        archive = self.archive
        records = [DiscoveryRecord(url=url, source=source.name, method="cited", found_on=item.url,
                                   found_at=item.fetched_at) for url, source in follow.items()]
        try:
            await self.writer.run(record_discoveries, archive.engine, records)
            spider = self.crawler.spider
            if not hasattr(spider, "article_request"):
                return
            known = await self.writer.read(validators_of, archive, follow)
        except Exception as exc:
            if is_unreachable(exc):  # waited ARCHIVE_OUTAGE_LIMIT, said so: the crawl stops, follows nothing
                return
            if not is_out_of_space(exc):
                raise
            stop_for_full_disk(self.crawler, "the archive", display_name(archive.engine), exc)
            return
        for url, source in follow.items():
            if known[url] is None:
                # resolved here, once: the request carries the answer (middlewares/conditional.py)
                self.crawler.engine.crawl(spider.article_request(url, source, **{KNOWN: (url, None)}))
                self.crawler.stats.inc_value("cited/followed")
                logger.info("cited: %s cites %s (%s); crawling it", item.url, url, source.name)
