"""A server the crawl depends on stops answering mid-crawl: the shared frontier's Redis
(frontier/outage.py), the archive's database (pipelines/archive.py).

The same rule for both: the first unanswered call is one WARNING, and the crawl waits for the
server; the first answer after it is one INFO line, and on it goes; still no answer after the
limit (a setting) is one ERROR line, and the spider closes with a finish reason of its own,
so its run is ``failed`` with that line as its reason and the process exits 1 — never a
traceback per call, never a crawl that goes on fetching what it cannot keep.
"""

from __future__ import annotations

import logging
import time
from typing import Any

logger = logging.getLogger(__name__)
FINISH_WHY = "finish/why"  # stats: why the spider closed, in one line (pipelines/archive.py run_outcome)


class Outage:
    def __init__(self, crawler: Any, what: str, limit: float, setting: str, finish_reason: str):
        self.crawler, self.what, self.limit = crawler, what, limit
        self.setting, self.finish_reason = setting, finish_reason
        self.since: float | None = None  # time.monotonic() of the first unanswered call
        self.cause = ""
        self.given_up = False

    @property
    def down(self) -> bool:
        return self.since is not None

    def failed(self, exc: BaseException) -> None:
        """One more unanswered call: the first is a WARNING; past the limit, give up."""
        self.cause = " ".join(str(getattr(exc, "orig", None) or exc).split()) or type(exc).__name__
        if self.since is None:
            self.since = time.monotonic()
            self.crawler.stats.inc_value(f"{self.finish_reason}/outages")
            logger.warning("%s does not answer (%s); waiting up to %g s for it (%s)", self.what, self.cause,
                           self.limit, self.setting)
        elif not self.given_up and time.monotonic() - self.since >= self.limit:
            self.give_up(f"{self.what} did not answer for {self.limit:g} s ({self.cause})")

    def answered(self) -> None:
        if self.since is not None and not self.given_up:
            logger.info("%s answers again after %.1f s", self.what, time.monotonic() - self.since)
            self.since = None

    def give_up(self, why: str, after: str = "") -> None:
        """Close the spider with ``finish_reason``, once; ``why`` becomes the run's reason."""
        if self.given_up:
            return
        self.given_up = True
        self.crawler.stats.set_value(FINISH_WHY, why)
        logger.error("%s; the crawl stops (%s)%s", why, self.finish_reason, f". {after}" if after else "")
        engine = self.crawler.engine
        if engine is not None and engine.spider is not None:
            from scrapy.utils.defer import deferred_from_coro

            # not awaited by whoever noticed (mid-call): closing waits for what is in progress
            deferred_from_coro(engine.close_spider_async(reason=self.finish_reason))
