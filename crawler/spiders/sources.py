"""``scrapy crawl sources``: fetch the configured sources' start URLs (or given URLs).

    scrapy crawl sources                                # every source's start_urls
    scrapy crawl sources -a sources=znews,dantri        # only these sources
    scrapy crawl sources -a urls=https://znews.vn/…     # exactly these URLs
"""

from __future__ import annotations

from typing import Any, AsyncIterator

from scrapy import Request
from scrapy.exceptions import UsageError

from ..sources import Source, source_for_url
from .base import ArticleSpider, split_list


class SourcesSpider(ArticleSpider):
    name = "sources"
    arguments = (*ArticleSpider.arguments, "urls")

    def __init__(self, *args: Any, urls: str | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.url_list = split_list(urls)

    def configure(self, all_sources: dict[str, Source]) -> None:
        """Choose start URLs from the arguments; bad arguments stop the crawl here."""
        super().configure(all_sources)
        self.targets: list[tuple[str, Source]] = []
        for url in self.url_list:
            source = source_for_url(self.sources, url)
            if source is None:
                raise UsageError(f"-a urls: no configured source covers host of {url} "
                                 f"(domains: {', '.join(d for s in self.sources.values() for d in s.domains)})")
            self.targets.append((url, source))
        if not self.url_list:
            self.targets = [(url, s) for s in self.sources.values() for url in s.start_urls]

    def run_args(self) -> dict[str, Any]:
        return {**super().run_args(), **({"urls": self.url_list} if self.url_list else {})}

    async def start(self) -> AsyncIterator[Request]:
        for url, source in self.targets:
            yield self.article_request(url, source)
