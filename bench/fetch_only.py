"""A bare Scrapy spider over the given mirror URLs: the baselines and floors of bench/throughput.py.

    python bench/fetch_only.py URLS.txt CONCURRENCY [--etags-out F] [--if-none-match F]
                               [--extract-workers N | --extract-inline]

Plain, it fetches the URLs and does nothing with them: Scrapy's own cost per page, process
start included, without robots.txt, extraction, archive or WARC. Run outside the project
(no scrapy.cfg), so none of the crawler's settings or components load. The options make
it the floor of a target, what any crawler built on Scrapy and trafilatura pays at least:

  --etags-out F        write each URL's ETag (a JSON object) for a later --if-none-match
  --if-none-match F    send each URL with its ETag from F: bare Scrapy's own 304 re-crawl
  --extract-workers N  hand each page to N processes running plain trafilatura, storing
                       nothing: a crawl with the least a crawl does besides fetching
  --extract-inline     run plain trafilatura on each page in the spider's own process, as a
                       crawl with EXTRACT_WORKERS=0 does (bench/scale.py's floor)

Prints one JSON line: the responses' statuses and how many pages trafilatura found text in.
"""

import argparse
import asyncio
import json
import multiprocessing
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import scrapy
from scrapy.crawler import CrawlerProcess


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    parser.add_argument("urls")
    parser.add_argument("concurrency", type=int)
    parser.add_argument("--etags-out")
    parser.add_argument("--if-none-match")
    parser.add_argument("--extract-workers", type=int, default=0)
    parser.add_argument("--extract-inline", action="store_true")
    return parser.parse_args()


def extract(html: str, url: str) -> bool:
    """What bench/extract_worker.py times as "plain trafilatura", in a pool worker."""
    import trafilatura

    return bool(trafilatura.extract(html, url=url, include_comments=False))


class FetchOnly(scrapy.Spider):
    name = "fetch_only"

    def __init__(self, args: argparse.Namespace, **kwargs):  # noqa: ANN003
        super().__init__(**kwargs)
        self.args = args
        self.statuses: Counter[int] = Counter()
        self.etags: dict[str, str] = {}
        self.extracted = 0
        self.pool = None
        if args.extract_workers:
            self.pool = ProcessPoolExecutor(args.extract_workers, mp_context=multiprocessing.get_context("spawn"))
            # as many pages in the workers as the crawler's pool holds (crawler/extract/pool.py DEPTH 2)
            self.room = asyncio.Semaphore(2 * args.extract_workers)

    async def start(self):  # noqa: ANN201
        known = json.load(open(self.args.if_none_match)) if self.args.if_none_match else {}
        callback = self.parse_and_extract if self.pool is not None else \
            self.parse_and_extract_inline if self.args.extract_inline else self.parse
        for url in open(self.args.urls).read().split():
            headers = {"If-None-Match": known[url]} if url in known else {}
            yield scrapy.Request(url, callback, headers=headers, dont_filter=True)

    def parse(self, response):  # noqa: ANN001, ANN201
        self.statuses[response.status] += 1
        if self.args.etags_out and response.headers.get("ETag"):
            self.etags[response.url] = response.headers["ETag"].decode()

    async def parse_and_extract(self, response):  # noqa: ANN001, ANN201
        self.parse(response)
        if response.status == 200:
            async with self.room:
                found = await asyncio.wrap_future(self.pool.submit(extract, response.text, response.url))
            self.extracted += found  # not `+= await`: that reads the count before the wait

    def parse_and_extract_inline(self, response):  # noqa: ANN001, ANN201
        self.parse(response)
        if response.status == 200:
            self.extracted += extract(response.text, response.url)

    def closed(self, reason: str) -> None:
        if self.pool is not None:
            self.pool.shutdown()
        if self.args.etags_out:
            with open(self.args.etags_out, "w") as out:
                json.dump(self.etags, out)
        print(json.dumps({"statuses": {str(k): v for k, v in sorted(self.statuses.items())},
                          "extracted": self.extracted}), flush=True)


if __name__ == "__main__":
    args = parse_args()
    process = CrawlerProcess({"LOG_LEVEL": "WARNING", "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False,
                              "CONCURRENT_REQUESTS": args.concurrency,
                              "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
                              "AUTOTHROTTLE_ENABLED": False, "COOKIES_ENABLED": False,
                              # a 304 is an answer here, not an error to drop before parse
                              "HTTPERROR_ALLOWED_CODES": [304]})
    process.crawl(FetchOnly, args=args)
    process.start()
