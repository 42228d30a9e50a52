"""A bare Scrapy spider that fetches the given mirror URLs and does nothing with them.

    python bench/fetch_only.py URLS.txt CONCURRENCY

The baseline of bench/throughput.py: Scrapy's own cost per page (process start
included), without robots.txt, extraction, archive or WARC. Run outside the project
(no scrapy.cfg), so none of the crawler's settings or components load.
"""

import sys

import scrapy
from scrapy.crawler import CrawlerProcess


class FetchOnly(scrapy.Spider):
    name = "fetch_only"

    async def start(self):  # noqa: ANN201
        for url in open(sys.argv[1]).read().split():
            yield scrapy.Request(url, dont_filter=True)

    def parse(self, response):  # noqa: ANN001, ANN201
        self.crawler.stats.inc_value("fetch_only/bytes", len(response.body))


if __name__ == "__main__":
    concurrency = int(sys.argv[2])
    process = CrawlerProcess({"LOG_LEVEL": "WARNING", "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False,
                              "CONCURRENT_REQUESTS": concurrency, "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
                              "AUTOTHROTTLE_ENABLED": False, "COOKIES_ENABLED": False})
    process.crawl(FetchOnly)
    process.start()
