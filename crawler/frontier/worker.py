"""``archive recrawl --worker``: help with the runs others started on the shared frontier.

A worker never seeds (FRONTIER_SEED off) and never starts a run, so it takes no lock: it
looks for runs with a live member under FRONTIER_PREFIX (an ``archive recrawl`` seeder's
feeds, sitemaps, listings and revisit spiders, or any ``scrapy crawl`` with FRONTIER_URL),
runs the same spider with the same arguments until that run is complete, and looks again;
it exits once it has found none for ``wait`` seconds. Started by cron with the seeder on
every host, it waits for the seeder's first run.
"""

from __future__ import annotations

import asyncio
import logging
import time

from .outage import is_outage
from .run import connect, live_runs, shown_url

logger = logging.getLogger(__name__)
POLL = 1.0  # seconds between two looks for a live run


def work(settings, wait: float) -> list:  # noqa: ANN001 - Scrapy Settings; SpiderResults
    """Run as a worker until no live run has been seen for ``wait`` seconds."""
    from scrapy.crawler import AsyncCrawlerRunner
    from scrapy.utils.defer import deferred_from_coro
    from scrapy.utils.log import configure_logging
    from scrapy.utils.reactor import install_reactor

    from ..commands.crawl import run_status
    from ..recrawl import SpiderResult

    server = connect(settings.get("FRONTIER_URL"))
    settings.set("FRONTIER_SEED", False, priority="cmdline")
    install_reactor(settings.get("TWISTED_REACTOR"))
    from twisted.internet import reactor

    configure_logging(settings)
    results: list[SpiderResult] = []

    limit, down_since = settings.getfloat("FRONTIER_OUTAGE_LIMIT"), None

    async def loop() -> None:
        nonlocal down_since
        runner, last_seen = AsyncCrawlerRunner(settings), time.monotonic()
        while time.monotonic() - last_seen < wait:
            try:
                runs = live_runs(server, settings.get("FRONTIER_PREFIX"))
            except Exception as exc:
                if not is_outage(exc):
                    raise
                # Redis away between runs: wait for it as a crawl does (frontier/outage.py), then fail
                down_since = down_since or time.monotonic()
                if time.monotonic() - down_since >= limit:
                    cause = " ".join(str(exc).split())
                    raise RuntimeError(f"Redis at {shown_url(settings.get('FRONTIER_URL'))} did not answer "
                                       f"for {limit:g} s ({cause})") from None
                await asyncio.sleep(POLL)
                continue
            down_since = None
            if not runs:
                await asyncio.sleep(POLL)
                continue
            for spider, args in runs:
                logger.info("frontier worker: joining %s %s", spider, args)
                crawler = runner.create_crawler(spider)
                await runner.crawl(crawler, **args)
                stats = crawler.stats
                results.append(SpiderResult(spider, run_status(crawler), stats.get_value("archive/run_reason"),
                                            stats.get_value("fetch/requests", 0), stats.get_value("fetch/failed", 0)))
            last_seen = time.monotonic()

    def failed(failure) -> None:  # noqa: ANN001 - Twisted's Failure
        # one line, and a failed result: the worker exits 1, never 0 after an error
        logger.error("frontier worker: %s", failure.getErrorMessage())
        results.append(SpiderResult("worker", "failed", failure.getErrorMessage()))

    done = deferred_from_coro(loop())
    done.addErrback(failed)
    done.addBoth(lambda _: reactor.stop())
    reactor.run(installSignalHandlers=True)
    return results
