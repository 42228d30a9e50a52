"""The frontier's Redis stops answering mid-crawl (restarted, failed over, the network away).

The rule of crawler/outage.py. Every Redis call of the scheduler and the host slots goes
through ``FrontierOutage.call``: a call that finds Redis away is one WARNING for the whole
outage, not a traceback per call, and the crawl waits for Redis — downloads and the archive go on with what this process holds, new
requests are kept until they can be queued, no request is taken without its host slot. Redis
back: one INFO line, and on it goes. Away FRONTIER_OUTAGE_LIMIT seconds: one ERROR line, and
the spider closes with finish reason ``frontier_lost`` (its run ``failed``, exit 1). What this
process had leased is queued again FRONTIER_LEASE_TTL seconds after Redis is back (its
heartbeat stopped), for the others or the next run. Before this, a lost Redis left a process
running for ever, a traceback a second, and an item whose cited original could not be queued
was dropped unstored.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured

from ..outage import Outage
from .run import shown_url

FINISH_REASON = "frontier_lost"
FAILED = object()  # what ``call`` returns when Redis did not answer
PROBE_EVERY = 1.0  # seconds between two probes (the heartbeat) while Redis is away


def is_outage(exc: BaseException) -> bool:
    """Redis is away (refused, reset, timed out, still loading its data, a read-only replica
    after a failover) or full (maxmemory reached with noeviction: it refuses writes until
    memory is freed), as opposed to a command that is wrong, which is a bug to raise."""
    import redis  # here: a crawl without FRONTIER_URL never loads Redis's client (frontier/run.py)

    return isinstance(exc, (redis.ConnectionError, redis.TimeoutError, redis.exceptions.ReadOnlyError,
                            redis.exceptions.OutOfMemoryError))


class FrontierOutage(Outage):
    def __init__(self, crawler: Crawler, url: str, limit: float):
        super().__init__(crawler, f"frontier: Redis at {url}", limit, "FRONTIER_OUTAGE_LIMIT", FINISH_REASON)
        self.last_probe = float("-inf")

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierOutage:
        url = crawler.settings.get("FRONTIER_URL")
        if not url:
            raise NotConfigured  # no message: Scrapy would log it as a WARNING in every plain crawl
        return cls(crawler, shown_url(url), crawler.settings.getfloat("FRONTIER_OUTAGE_LIMIT"))

    def call(self, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``operation(*args, **kwargs)``'s result, or FAILED when Redis did not answer, or
        is away: then only ``probe`` asks it, once a second, so that a Redis that hangs
        (each call waits out the socket timeout) holds up the crawl once, not once per call."""
        if self.down:
            return FAILED
        return self._try(operation, *args, **kwargs)

    def _try(self, operation: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        try:
            result = operation(*args, **kwargs)
        except Exception as exc:
            if not is_outage(exc):
                raise
            self.failed(exc)
            return FAILED
        self.answered()
        return result

    def probe(self, write: Callable[[], Any]) -> None:
        """While Redis is away, ask it again (at most every PROBE_EVERY seconds): how an outage
        is seen to end, or to last too long, when nothing else calls. ``write``: a full Redis
        answers reads."""
        if self.down and not self.given_up and time.monotonic() - self.last_probe >= PROBE_EVERY:
            self.last_probe = time.monotonic()
            self._try(write)

    def give_up(self, why: str, after: str = "") -> None:
        super().give_up(why, after or "What this process leased is queued again FRONTIER_LEASE_TTL s after "
                                      "Redis is back")


def outage_of(crawler: Crawler) -> FrontierOutage:
    """The crawl's FrontierOutage (in EXTENSIONS: crawler/settings.py; on with FRONTIER_URL)."""
    return crawler.get_extension(FrontierOutage)
