"""Per-site politeness across processes: a per-host slot held in Redis around each download.

Each process's Scrapy downloader keeps CONCURRENT_REQUESTS_PER_DOMAIN and the site's delay
(DOWNLOAD_DELAY, robots.txt Crawl-delay, AutoThrottle, the back-off after 429/503 that
middlewares/politeness.py sets) for itself only: three processes would send three times as
many. Here a request first takes one of the host's CONCURRENT_REQUESTS_PER_DOMAIN slots in
Redis, no sooner than the largest delay any process wants for that host after the previous
one started (scripts.ACQUIRE), and gives it back when its response or failure comes back.
A slot held by a killed process frees itself after DOWNLOAD_TIMEOUT + HOLD_MARGIN seconds.
Nearest the downloader (settings.py), so a slot is held only while the request is out.
"""

from __future__ import annotations

import asyncio
import itertools
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.http import Response

from . import scripts
from .run import connect, process_name

SLOT = "frontier_slot"  # meta: (host, token) of the slot a request holds
HOLD_MARGIN = 30  # seconds past DOWNLOAD_TIMEOUT before a dead process's slot frees itself
FLOOR_TTL = 60  # seconds a host's delay floor outlives the last process that wanted it
MAX_POLL = 1.0  # seconds between two tries for a busy host


class HostSlotMiddleware:
    def __init__(self, crawler: Crawler, server, prefix: str, limit: int, hold: float):  # noqa: ANN001
        self.crawler, self.prefix, self.limit, self.hold_ms = crawler, prefix, limit, int(hold * 1000)
        self.acquire = server.register_script(scripts.ACQUIRE)
        self.server = server
        self.tokens = (f"{process_name()}:{n}" for n in itertools.count())

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostSlotMiddleware:
        settings = crawler.settings
        if not settings.get("FRONTIER_URL") or not settings.getbool("FRONTIER_HOST_SLOTS"):
            raise NotConfigured("no FRONTIER_URL, or FRONTIER_HOST_SLOTS is off")
        return cls(crawler, connect(settings.get("FRONTIER_URL")), settings.get("FRONTIER_PREFIX"),
                   settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"), settings.getfloat("DOWNLOAD_TIMEOUT") + HOLD_MARGIN)

    async def process_request(self, request: Request) -> None:
        host = urlsplit(request.url).hostname or ""
        keys = [f"{self.prefix}:host:{host}:{name}" for name in ("slots", "next", "delay")]
        token = next(self.tokens)
        while wait := int(self.acquire(keys=keys, args=[token, self.limit, int(self._delay(request) * 1000),
                                                        self.hold_ms, (FLOOR_TTL + self._delay(request)) * 1000])):
            self.crawler.stats.inc_value("frontier/slot_waits")
            await asyncio.sleep(min(wait / 1000, MAX_POLL))
        request.meta[SLOT] = (keys[0], token)

    def process_response(self, request: Request, response: Response) -> Response:
        self._release(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._release(request)

    def _release(self, request: Request) -> None:
        held = request.meta.pop(SLOT, None)
        if held:
            self.server.zrem(*held)

    def _delay(self, request: Request) -> float:
        """This process's delay for the request's site: its download slot's (robots.txt
        Crawl-delay and back-off raise it: middlewares/politeness.py slow_down)."""
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(downloader.get_slot_key(request))
        return slot.delay if slot is not None else self.crawler.settings.getfloat("DOWNLOAD_DELAY")
