"""``scrapy crawl`` whose exit status says how the run went, for cron and scripts:

- 0: the run finished (crawl_runs.status ``finished``);
- 1: the run failed (every request failed, more than RUN_MAX_ERROR_SHARE of them, or the
  spider closed for another reason than ``finished``/``closespider_*``) or was interrupted;
- 2: the crawl could not start (crawler/commands/startup.py): one line, before Scrapy logs anything;
- 3: the run finished but raised extraction-health alarms (crawler/archive/health.py): one line
  each on stderr, after the log.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys

from scrapy import signals
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.crawler import AsyncCrawlerProcess, Crawler
from scrapy.exceptions import UsageError

from .startup import StartupError, check_startup, report_startup_error

EXIT_OK, EXIT_FAILED, EXIT_ALARM = 0, 1, 3


class Command(ScrapyCrawlCommand):
    # Made in run() once the start-up checks pass, so that a mistake is the only output. Always
    # an AsyncCrawlerProcess: the project runs on the asyncio reactor (TWISTED_REACTOR).
    requires_crawler_process = False

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        if not args:
            raise UsageError  # Scrapy prints the command's help
        if len(args) > 1:
            raise UsageError("running 'scrapy crawl' with more than one spider is not supported")
        name = args[0]
        gc.freeze()  # Scrapy's imports so far; the rest once the spider is open (freeze_heap)
        try:
            check_startup(self.settings, [name], opts.spargs)
        except StartupError as exc:
            self.exitcode = report_startup_error(f"scrapy crawl {name}", exc, self.settings)
            return
        self.crawler_process = AsyncCrawlerProcess(self.settings)
        crawler = self._create_crawler(name)
        opened: list[bool] = []
        crawler.signals.connect(lambda: opened.append(True), signal=signals.spider_opened, weak=False)
        crawler.signals.connect(lambda: freeze_heap(crawler), signal=signals.spider_opened, weak=False)
        task = self.crawler_process.crawl(crawler, **opts.spargs)
        failure: list[BaseException] = []
        task.add_done_callback(lambda done: failure.extend(_exception(done)))  # reported here, not by asyncio
        self.crawler_process.start()
        # The crawl is over and closed (archive, WARC writer, workers, feeds): the exit's
        # collections would traverse the whole heap again (~0.3 s of one core), only to find
        # cycles the OS reclaims anyway.
        gc.freeze()
        if failure:  # raised by the crawl: at its start (the spider, the archive), or, rarely, later
            code = report_startup_error(f"scrapy crawl {name}", failure[0], self.settings)
            self.exitcode = EXIT_FAILED if opened else code
        else:
            self.exitcode = exit_status(crawler)
            for line in health_alarms(crawler):
                print(f"scrapy crawl {name}: health alarm: {line}", file=sys.stderr, flush=True)


def freeze_heap(crawler: Crawler) -> None:
    """Leave what start-up made (Scrapy, Twisted, SQLAlchemy, the spiders, the archive: ~150k
    objects) out of the garbage collector's passes: each full collection traversed all of it,
    ~90 ms, 4-6 times in a 1,000-page crawl, every Python thread of the crawl waiting meanwhile
    (issue 11). The crawl's own objects are collected as before. The count is in the stats."""
    gc.freeze()
    crawler.stats.set_value("gc/frozen_objects", gc.get_freeze_count())


def run_status(crawler: Crawler) -> str:
    """crawl_runs.status of the crawler's run: the archive pipeline's verdict, or without
    that pipeline, what the finish reason alone says."""
    status = crawler.stats.get_value("archive/run_status")
    if status is None:
        reason = crawler.stats.get_value("finish_reason") or ""
        status = "finished" if reason == "finished" or reason.startswith("closespider_") else "failed"
    return status


def health_alarms(crawler: Crawler) -> list[str]:
    """The lines of the run's extraction-health alarms (set by the archive pipeline)."""
    return crawler.stats.get_value("archive/health_alarms") or []


def exit_status(crawler: Crawler) -> int:
    if run_status(crawler) != "finished":
        return EXIT_FAILED
    return EXIT_ALARM if health_alarms(crawler) else EXIT_OK


def _exception(task: asyncio.Task) -> list[BaseException]:
    if task.cancelled():
        return []
    return [task.exception()] if task.exception() is not None else []
