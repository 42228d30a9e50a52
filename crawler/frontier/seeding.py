"""One process seeds a run of the shared frontier.

Every process of a run is started with the same command, so each reads the same start
requests. When each pushed all of them and the run's duplicate filter dropped the repeats,
the second process of a 2-process crawl spent ~5 % of its reactor's time reading, serialising
and pushing requests only to have them dropped (bench/scale.py, cProfile). Now the first
process to ask seeds the run, and the others read none of their start requests: they take
their work from the run's queue.

The seeder pushes its start requests as fast as Redis takes them, PUSH_BATCH a round trip,
not one whenever one of its download slots is free (Scrapy's pace for start requests): the
others would otherwise wait on it for work. If it dies before it has pushed them all (its
heartbeat stops), the next process to look seeds the run again, and the duplicate filter
drops what the dead one had queued: a process that dies loses no start request. Until the
run is seeded, a process that is not seeding keeps looking (SEED_POLL), and does not close;
at each look it has its engine take what the seeder has queued so far. An engine that awaits
a start request asks its scheduler for none, so a process whose first ask came before the
seeder's first batch sat idle for the whole seeding (1.2-2.1 s for 2,000 start requests).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

logger = logging.getLogger(__name__)
SEED_POLL = 0.05  # seconds between two looks at a run another process seeds


class SeedOnceMiddleware:
    """A spider middleware, outermost for start requests (SPIDER_MIDDLEWARES in settings.py),
    on with FRONTIER_URL."""

    def __init__(self, crawler: Crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> SeedOnceMiddleware:
        if not crawler.settings.get("FRONTIER_URL"):
            raise NotConfigured  # no message: Scrapy would log it as a WARNING in every plain crawl
        return cls(crawler)

    async def process_start(self, start: AsyncIterator[Any]) -> AsyncIterator[Any]:
        # here: every crawl loads this module, and the scheduler's loads Redis's client (run.py)
        from .scheduler import PUSH_BATCH, FrontierScheduler

        scheduler = self.crawler.engine._slot.scheduler
        if not isinstance(scheduler, FrontierScheduler):  # SCHEDULER set to another one
            async for item in start:
                yield item
            return
        if not scheduler.seeds():  # a worker drains what others seed
            return
        run = scheduler.run
        while (state := scheduler.claim_seeding()) != "mine":
            if state == "done":
                logger.info("frontier: %s reads no start request: another process queued those of %s generation %d",
                            run.process, run.base, run.gen)
                return
            if scheduler.outage.given_up:
                return
            # a live process seeds the run (or Redis is away): fetch what it has queued so far
            scheduler.offer_work()
            await asyncio.sleep(SEED_POLL)
        logger.info("frontier: %s seeds %s generation %d", run.process, run.base, run.gen)
        read = 0
        try:
            async for item in start:
                if isinstance(item, Request):
                    self.crawler.engine.crawl(item)  # into the scheduler's next batch of pushes
                else:
                    yield item
                read += 1
                if read % PUSH_BATCH == 0:
                    await asyncio.sleep(0)  # responses are served between two batches
            while not scheduler.finish_seeding():
                if scheduler.outage.given_up:
                    return
                await asyncio.sleep(SEED_POLL)
        except BaseException:
            # the start requests raised (Scrapy logs it), or the crawl stops: the others must
            # not wait for this process (they would, and it for them, while it lives)
            scheduler.drop_seeding()
            raise
        logger.info("frontier: %s seeded %s generation %d (%d start requests read)", run.process, run.base,
                    run.gen, read)
