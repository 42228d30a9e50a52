"""Per-site politeness across processes: a per-host slot held in Redis around each download.

Each process's Scrapy downloader keeps CONCURRENT_REQUESTS_PER_DOMAIN and the site's delay
(DOWNLOAD_DELAY, robots.txt Crawl-delay, AutoThrottle, the back-off after 429/503 that
middlewares/politeness.py sets) for itself only: three processes would send three times as
many. Here a request first takes one of the host's CONCURRENT_REQUESTS_PER_DOMAIN slots in
Redis, no sooner than the largest delay any process wants for that host after the previous
one started (scripts.ACQUIRE), and gives it back when its response or failure comes back: with
its next ACQUIRE, in the same round trip, or at the latest GIVE_BACK_WITHIN seconds later.
Each process beats a heartbeat key (every FRONTIER_LEASE_TTL / 3 s): the slots of a killed
process are free once it has run out, and in any case DOWNLOAD_TIMEOUT + HOLD_MARGIN seconds
after they were taken. A 429 or 503 backs the site off for every process at once. Nearest the
downloader (settings.py), so a slot is held only while the request is out.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import Response
from twisted.internet.task import LoopingCall

from . import scripts
from .outage import FAILED, outage_of
from .run import connect, process_name

SLOT = "frontier_slot"  # meta: (host, token) of the slot a request holds
HOLD_MARGIN = 30  # seconds past DOWNLOAD_TIMEOUT before a dead process's slot frees itself
FLOOR_TTL = 60  # seconds a host's delay floor outlives the last process that wanted it
MAX_POLL = 1.0  # seconds between two tries for a busy host
# A slot given back rides on this process's next ACQUIRE (one round trip a request, not two:
# each stops the reactor, for the network's latency when Redis is on another host), or goes on
# its own this long after its response came back, whichever is first. A slot held that much longer delays no other
# request more than that: a site's delay counts from when its previous request started.
GIVE_BACK_WITHIN = 0.05


class HostSlotMiddleware:
    def __init__(self, crawler: Crawler, server, prefix: str, limit: int, hold: float, ttl: float):  # noqa: ANN001
        self.crawler, self.server, self.limit, self.hold_ms = crawler, server, limit, int(hold * 1000)
        self.acquire = server.register_script(scripts.ACQUIRE)
        self.back_off = server.register_script(scripts.BACK_OFF)
        self.alive_prefix = f"{prefix}:slot-holder:"
        self.keys = f"{prefix}:host:"
        process = process_name()
        self.alive, self.ttl_ms = self.alive_prefix + process, int(ttl * 1000)
        self.tokens = (f"{process}|{n}" for n in itertools.count())
        self.heart, self.beat_every = LoopingCall(self._beat), ttl / 3
        self.given_back: list[tuple[str, str]] = []  # (host's slot holders, token) not yet sent to Redis
        self.give_back_call = None  # the IDelayedCall that sends them on their own
        self.outage = outage_of(crawler)
        crawler.signals.connect(self.engine_started, signal=signals.engine_started)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostSlotMiddleware:
        settings = crawler.settings
        if not settings.get("FRONTIER_URL") or not settings.getbool("FRONTIER_HOST_SLOTS"):
            raise NotConfigured  # no message: Scrapy would log it as a WARNING in every plain crawl
        return cls(crawler, connect(settings.get("FRONTIER_URL")), settings.get("FRONTIER_PREFIX"),
                   settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN"), settings.getfloat("DOWNLOAD_TIMEOUT") + HOLD_MARGIN,
                   settings.getfloat("FRONTIER_LEASE_TTL"))

    async def process_request(self, request: Request) -> None:
        host = urlsplit(request.url).hostname or ""
        keys = [f"{self.keys}{host}:{name}" for name in ("slots", "next", "delay")]
        token = next(self.tokens)
        await self._local_wait(request)
        while wait := self._try_acquire(keys, token, request):
            if self.outage.given_up:  # the crawl stops: the request stays leased, queued again for another process
                raise IgnoreRequest("the shared frontier's Redis is lost; the request goes back to its queue")
            self.crawler.stats.inc_value("frontier/slot_waits")
            await asyncio.sleep(min(wait / 1000, MAX_POLL))
        request.meta[SLOT] = (keys, token)

    def _try_acquire(self, keys: list[str], token: str, request: Request) -> int:
        """0 when the slot is this request's; else milliseconds to wait (MAX_POLL while Redis
        does not answer: never a request without its slot)."""
        delay = self._delay(request)
        given_back, self.given_back = self.given_back, []
        wait = self.outage.call(self.acquire, keys=keys + [holders for holders, _ in given_back], args=[
            token, self.limit, int(delay * 1000), self.hold_ms, int((FLOOR_TTL + delay) * 1000), self.alive_prefix,
            *(token for _, token in given_back)])
        if wait is FAILED:
            self.given_back[:0] = given_back
            return int(MAX_POLL * 1000)
        return int(wait)

    def process_response(self, request: Request, response: Response) -> Response:
        if response.status in (429, 503) and SLOT in request.meta:
            # middlewares/politeness.py raises this process's delay for the site as the response
            # goes on up; once it has, every process backs off, and only then is the slot free
            from twisted.internet import reactor

            reactor.callLater(0, self._back_off, request)
        else:
            self._release(request)
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._release(request)

    def _release(self, request: Request) -> None:
        held = request.meta.pop(SLOT, None)
        if held:
            self.given_back.append((held[0][0], held[1]))
            if self.give_back_call is None or not self.give_back_call.active():
                from twisted.internet import reactor

                self.give_back_call = reactor.callLater(GIVE_BACK_WITHIN, self._send_given_back)

    def _send_given_back(self) -> None:
        """Give back on their own the slots no ACQUIRE has taken back (if Redis does not
        answer, the next ACQUIRE takes them; else each hold expires by itself,
        DOWNLOAD_TIMEOUT + HOLD_MARGIN after it was taken)."""
        given_back, self.given_back = self.given_back, []
        if given_back:
            pipeline = self.server.pipeline(transaction=False)
            for holders, token in given_back:
                pipeline.zrem(holders, token)
            if self.outage.call(pipeline.execute) is FAILED:
                self.given_back[:0] = given_back  # for the next ACQUIRE, once Redis answers

    def _back_off(self, request: Request) -> None:
        delay = self._delay(request)
        try:
            self.outage.call(self.back_off, keys=request.meta[SLOT][0][1:],
                             args=[int(delay * 1000), int((FLOOR_TTL + delay) * 1000)])
        finally:
            self._release(request)

    def engine_started(self) -> None:
        self.heart.start(self.beat_every)  # its Deferred fires only when stopped: not returned

    def engine_stopped(self) -> None:
        if self.heart.running:
            self.heart.stop()
        if self.give_back_call is not None and self.give_back_call.active():
            self.give_back_call.cancel()
        self._send_given_back()
        self.outage.call(self.server.delete, self.alive)  # unanswered: it expires anyway

    def _beat(self) -> None:
        self.outage.call(self.server.set, self.alive, 1, px=self.ttl_ms)

    async def _local_wait(self, request: Request) -> None:
        """Wait out this process's own delay for the site first: its downloader would hold the
        request that long after the shared slot was granted, and another process could send
        one in between."""
        slot = self._slot(request)
        if slot is not None and slot.delay and (wait := slot.lastseen + slot.delay - time.monotonic()) > 0:
            await asyncio.sleep(wait)

    def _slot(self, request: Request):  # noqa: ANN202 - Scrapy's downloader Slot, or None before the first request
        downloader = self.crawler.engine.downloader
        return downloader.slots.get(downloader.get_slot_key(request))

    def _delay(self, request: Request) -> float:
        """This process's delay for the request's site: its download slot's (robots.txt
        Crawl-delay and back-off raise it: middlewares/politeness.py slow_down)."""
        slot = self._slot(request)
        return slot.delay if slot is not None else self.crawler.settings.getfloat("DOWNLOAD_DELAY")
