"""scrapy-redis's scheduler and duplicate filter on a run shared by processes (run.py).

What scrapy-redis leaves to us: its queue pops a request for good, so a killed process loses
what it held; its keys are per spider, so today's duplicate filter blocks tomorrow's run
unless cleared, and the first process to finish clears it under the others. Here a popped
request is leased to the process (``B:G:leases:<process>``) until the engine is done with it —
its response scraped and its items stored, or the redirect or retry it became queued —
and a process whose heartbeat stops for FRONTIER_LEASE_TTL seconds has its leases queued
again for the others (or for the next run). One process seeds the start requests
(seeding.py). A process stays open while the run has work anywhere, so none closes under the
others, and the last one clears the run.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

from scrapy import Request, Spider, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.dupefilter import RFPDupeFilter
from scrapy_redis.queue import PriorityQueue
from scrapy_redis.scheduler import Scheduler
from twisted.internet.task import LoopingCall

from ..middlewares.failures import count_failure, report_failure
from .limits import RunLimits
from .outage import FAILED, outage_of
from .run import FINGERPRINT_LENGTH, Run, command_args, connect, process_name, run_key
from .scripts import HOLDER_DEATHS

logger = logging.getLogger(__name__)
# Seconds between two looks at a run whose other members are still busy: 0.05 s for the
# first FAST_LOOKS s of a wait, and until the run's join window ends (run.py), as the others
# are then most often finishing their last pages or the window is about to close; then
# doubled at each look up to 1 s for a member idle for longer (a Redis call a second).
# Doubling from the first look made a 2-process run's end wait 0.07-0.13 s for the last look
# (bench/scale.py, 2,000 pages), and a run shorter than its join window up to 1 s.
FIRST_WAIT_POLL, WAIT_POLL, FAST_LOOKS = 0.05, 1.0, 1.0
RELEASE_EVERY = 0.25  # seconds: how long a stored page's lease may outlive it (a kill then re-fetches it)
# Every Redis call stops the reactor for a round trip (issue 13: ~6 a page made a process on
# the frontier ~25 % slower than without). Requests leased per pop, so most pops cost none;
# few enough that another process is never kept waiting for them.
PREFETCH = 4
# Requests pushed per round trip at most. A process sends what it finds with its next pop, in
# the same round trip and before its releases (a lease never ends before what its page found
# is queued), or alone at the latest every RELEASE_EVERY s, or once this many are waiting.
# (A round trip to another host's Redis stops the reactor for the network's latency.)
PUSH_BATCH = 64
# How long the queue's length a pop returned is taken at its word before Redis is asked again:
# the engine asks for a request, or whether any are pending, after every response, and a queue
# fed one start request at a time was empty every other ask. This process's own pushes count at
# once; other processes' pushes and pops are seen this much later.
QUEUE_LENGTH_TRUST = 0.05
# kinds of failure (fetch/failed/…): a queued request no process can read; one its holders died on
UNREADABLE, HOLDERS_DIED = "unreadable_request", "holders_died"


class FrontierScheduler(Scheduler):
    def __init__(self, crawler: Crawler, server: Any, prefix: str, ttl: float, seed: bool):
        super().__init__(server, persist=True, dupefilter=RFPDupeFilter(server, key=""))
        self.crawler, self.stats = crawler, crawler.stats
        self.prefix, self.ttl, self.seed = prefix, ttl, seed
        self.held: dict[Request, bytes] = {}  # leased requests -> their queue entries
        self.prefetched: deque[bytes] = deque()  # entries leased and not yet handed to the engine
        self.done: list[bytes] = []  # entries the engine is done with, their leases not yet released
        # (request, push) not yet sent to Redis: a batch being gathered, or held while Redis does not answer
        self.unsent: list[tuple[Request, tuple]] = []
        self.outage = outage_of(crawler)
        # the queue's length as last heard from Redis, and when (time.monotonic())
        self.queued, self.queued_at = 0, float("-inf")
        self.wait_poll = FIRST_WAIT_POLL
        # time.monotonic() when this process's current wait for the others began, and when it joined
        self.waiting_since: float | None = None
        self.joined_at = float("-inf")
        self.run: Run | None = None
        # releases leases (the engine asks for requests only when a download slot is free) and beats
        self.clock, self.last_beat = LoopingCall(self._tick), 0.0

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> FrontierScheduler:
        settings = crawler.settings
        scheduler = cls(crawler, connect(settings.get("FRONTIER_URL")), settings.get("FRONTIER_PREFIX"),
                        settings.getfloat("FRONTIER_LEASE_TTL"), settings.getbool("FRONTIER_SEED"))
        crawler.signals.connect(scheduler.spider_idle, signal=signals.spider_idle)
        return scheduler

    def open(self, spider: Spider) -> None:
        self.spider = spider
        args = command_args(spider)
        self.run = Run(self.server, run_key(self.prefix, spider.name, args), process_name(), int(self.ttl * 1000))
        self.joined_at = time.monotonic()
        if self.run.join(self.seed, spider.name, args):
            self.df.key = self.run.key("seen")
            self.queue = PriorityQueue(self.server, spider, self.run.key("queue"))
            self.clock.start(RELEASE_EVERY, now=False)
            logger.info("frontier: %s joined %s generation %d (%d requests queued)", self.run.process,
                        self.run.base, self.run.gen, self.run.queued())
        else:
            logger.info("frontier: no live run of %s to work on", self.run.base)

    def close(self, reason: str) -> None:
        if self.clock.running:
            self.clock.stop()
        if self.run and self.run.gen:
            self._send_unsent()
            outcome = self.outage.call(self.run.leave)
            if outcome is FAILED:
                logger.warning("frontier: %s could not leave %s generation %d (Redis does not answer): its %d leased "
                               "requests are queued again FRONTIER_LEASE_TTL s after Redis is back",
                               self.run.process, self.run.base, self.run.gen, len(self.held) + len(self.prefetched))
                if self.unsent:
                    urls = [request.url for request, _ in self.unsent]
                    self.stats.set_value("frontier/never_queued", len(urls))
                    logger.error("frontier: %d requests found in this run were never queued, Redis not answering: %s",
                                 len(urls), " ".join(urls))
                return
            logger.info("frontier: %s left %s generation %d (%s, %d held requests handed back)",
                        self.run.process, self.run.base, self.run.gen, outcome, len(self.held) + len(self.prefetched))

    def run_limits(self, most: int | None, per_source: int) -> RunLimits | None:
        """The limits on new articles counted for the whole run (frontier/limits.py); None when
        this process joined none."""
        return RunLimits(self.run, self.outage, most, per_source) if self.run and self.run.gen else None

    def seeds(self) -> bool:
        """Whether this process may seed its run: joined to one, and not a worker."""
        return bool(self.run and self.run.gen and self.seed)

    def claim_seeding(self) -> Any:
        """'mine', 'other' or 'done' (Run.seeding), FAILED while Redis does not answer."""
        return self.outage.call(self.run.seeding)

    def finish_seeding(self) -> bool:
        """Every start request read: push what is unsent, then record the run seeded; False
        while Redis does not answer (the run is not seeded before all of them are queued)."""
        self._send_unsent()
        return not self.unsent and self.outage.call(self.run.seeding, "done") is not FAILED

    def drop_seeding(self) -> None:
        """This process stops seeding before the end (its start requests raised, or the crawl
        stops): the next process to look seeds the run, rather than wait for this one."""
        self.outage.call(self.run.seeding, "drop")

    def enqueue_request(self, request: Request) -> bool:
        if not self.run or not self.run.gen or (not self.seed and request.meta.get("is_start_request")):
            return False  # a worker drains what others seed
        fingerprint = self.df.request_fingerprint(request)
        entry = fingerprint.encode() + self.queue._encode_request(request)
        # kept, in order, until sent: True whether or not the run's duplicate filter then drops it
        self.unsent.append((request, (fingerprint, request.priority, entry, not request.dont_filter)))
        if len(self.unsent) >= PUSH_BATCH:
            self._send_unsent()
        return True

    def next_request(self) -> Request | None:
        if not self.run or not self.run.gen:
            return None
        while self.prefetched or self._prefetch():
            entry = self.prefetched.popleft()
            request = self._decoded(entry)
            if request is not None:
                self.held[request] = entry
                self.stats.inc_value("scheduler/dequeued/redis")
                return request
        return None

    def _prefetch(self) -> bool:
        """Lease the next PREFETCH requests, in the round trip that queues what this process
        found and releases what it is done with; False when none could be had now."""
        if self.outage.down or (self._recently_heard() and not self.queued and not self.unsent):
            return False
        if len(self.unsent) > PUSH_BATCH:  # kept while Redis was away
            self._send_unsent()
            if self.unsent:
                return False
        self._collect_done()
        answer = self.outage.call(self.run.exchange, PREFETCH, self.done, [push for _, push in self.unsent])
        if answer is FAILED:
            return False
        taken, left, queued, given_up = answer
        for entry in given_up:
            self._report(entry, f"given up: {HOLDER_DEATHS} processes died holding it (killed, out of memory, or "
                                "crashed while on it, as their heartbeats say); dropped from the run, so that it takes "
                                "down no more of them", HOLDERS_DIED)
        self._sent(len(self.unsent), queued)
        self.done, self.queued = [], left
        self.queued_at = time.monotonic()
        self.prefetched.extend(taken)
        if taken:
            self.waiting_since = None  # busy again: its next wait for the others starts short
        return bool(taken)

    def _decoded(self, entry: bytes) -> Request | None:
        """The queued request, or None for one this process cannot read: queued by a host on
        another version of the crawler (a callback or class it does not have), or damaged. That
        one is a failed request of this run, and its lease is released for good: handed back, it
        came back to the same process, which spun on it for ever, a traceback a second."""
        try:
            return self.queue._decode_request(entry[FINGERPRINT_LENGTH:])
        except Exception as exc:  # noqa: BLE001 - whatever unpickling and Scrapy's request_from_dict raise
            self.done.append(entry)
            self._report(entry, f"cannot be read from the shared frontier ({type(exc).__name__}: "
                                f"{' '.join(str(exc).split())}); queued by a host running another version of the "
                                "crawler? Every host of a run must run the same one", UNREADABLE)
            return None

    def _report(self, entry: bytes, why: str, kind: str) -> None:
        """A queue entry that will not be fetched, as a failed request of this run: one ERROR
        line, its counts, and its ``fetches`` row when its URL can be read."""
        url = self._queued_url(entry)
        why = f"{url or 'a queued request'}: {why}"
        if url:
            report_failure(self.crawler, getattr(self.spider, "all_sources", {}), Request(url), why, kind, None)
        else:
            logger.error("%s", why)
            count_failure(self.stats, kind)

    def _queued_url(self, entry: bytes) -> str | None:
        """The URL of a queue entry that cannot be made a request again, when the queue's
        serializer still reads it."""
        try:
            url = self.queue.serializer.loads(entry[FINGERPRINT_LENGTH:]).get("url")
        except Exception:  # noqa: BLE001 - a damaged entry: no URL to name
            return None
        return url if isinstance(url, str) else None

    def has_pending_requests(self) -> bool:
        if not self.run or not self.run.gen:
            return False
        if self.prefetched or self.unsent:
            return True
        if self.outage.down:
            return not self.outage.given_up  # the run may have work: stay open while waiting for Redis
        if not self._recently_heard():
            queued = self.outage.call(self.run.queued)
            if queued is FAILED:
                return True
            self.queued, self.queued_at = queued, time.monotonic()
        return self.queued > 0

    def __len__(self) -> int:
        if not self.run or not self.run.gen:
            return 0
        queued = self.outage.call(self.run.queued)
        return (self.queued if queued is FAILED else queued) + len(self.prefetched) + len(self.unsent)

    def _recently_heard(self) -> bool:
        return time.monotonic() - self.queued_at < QUEUE_LENGTH_TRUST

    def spider_idle(self) -> None:
        """Close only when the run is complete; until then wait for the other members."""
        if not self.run or not self.run.gen or self.outage.given_up:
            return
        self._release_finished()
        # idle() puts back any lease still in this process's name: only once all of its own are released
        state = self.outage.call(self.run.idle) if not (self.unsent or self.done) else FAILED
        if state == "lost":
            self.outage.give_up(f"the record of run {self.run.base} generation {self.run.gen} is gone from Redis "
                                f"(restarted without its data?): what was queued is lost; the next run seeds "
                                f"its start requests again")
            return
        if state is FAILED:  # Redis away: look again soon
            self._wake(WAIT_POLL)
            raise DontCloseSpider
        if state == "done":
            logger.info("frontier: run %s generation %d is complete", self.run.base, self.run.gen)
            return
        # 'work': requests queued (pushed by others, or recovered from a dead member), ask
        # for them now; 'wait': look again soon rather than at the engine's next heartbeat, 5 s away
        if state == "work":
            self.queued_at, self.waiting_since = float("-inf"), None
            self._wake(0)
        else:
            self._wake(self._next_look())
        raise DontCloseSpider

    def _next_look(self) -> float:
        """Seconds until this waiting process looks at the run again (FIRST_WAIT_POLL, FAST_LOOKS)."""
        now = time.monotonic()
        if self.waiting_since is None:
            self.waiting_since, self.wait_poll = now, FIRST_WAIT_POLL
        if now - self.waiting_since < FAST_LOOKS or now - self.joined_at < self.run.join_window_ms / 1000:
            return FIRST_WAIT_POLL
        self.wait_poll = min(self.wait_poll * 2, WAIT_POLL)
        return self.wait_poll

    def _wake(self, delay: float) -> None:
        """Have the engine ask this scheduler for requests (and so, when idle, signal
        spider_idle) after ``delay`` seconds: Scrapy's own heartbeat is every 5 s."""
        from twisted.internet import reactor

        reactor.callLater(delay, self.offer_work)

    def offer_work(self) -> None:
        """Have the engine ask this scheduler for requests at its next turn. It asks after each
        response, start request read and heartbeat (5 s), and not while it awaits a start
        request: a process waiting for another to seed the run would otherwise fetch nothing
        of what is queued meanwhile."""
        slot = self.crawler.engine._slot  # the engine's own CallLaterOnce; None once closed
        if slot is not None:
            slot.nextcall.schedule()

    def _release_finished(self) -> None:
        self._send_unsent()
        if self.unsent:
            return  # a lease outlives what its page found until that is queued
        self._collect_done()
        if self.done and self.outage.call(self.run.release, self.done) is not FAILED:
            self.done = []

    def _collect_done(self) -> None:
        """Move to ``done`` the entries of the requests the engine is done with, no longer held:
        no longer in its in-progress set, which it leaves only once the response is scraped and
        its items have left the pipelines (stored), or the redirect or retry it became is queued
        (Scrapy 2.19 offers no signal for that moment; ``_slot.inprogress`` is the engine's own
        record). They stay in ``done`` until Redis has taken their release, which must not come
        before the pushes of what their pages found: those are in ``unsent`` by then."""
        inprogress = self.crawler.engine._slot.inprogress
        self.done.extend(self.held.pop(request) for request in [r for r in self.held if r not in inprogress])

    def _send_unsent(self) -> None:
        """Push what is unsent, PUSH_BATCH a round trip, until done or Redis does not answer."""
        while self.unsent:
            batch = self.unsent[:PUSH_BATCH]
            queued = self.outage.call(self.run.push_many, [push for _, push in batch])
            if queued is FAILED:
                return
            self._sent(len(batch), queued)

    def _sent(self, count: int, queued: list[bool]) -> None:
        """The first ``count`` unsent requests are in Redis: queued, or repeats (``queued``)."""
        for (request, _), pushed in zip(self.unsent[:count], queued):
            if pushed:
                self.queued += 1
                self.stats.inc_value("scheduler/enqueued/redis")
            else:
                self.df.log(request, self.spider)
                self.stats.inc_value("frontier/filtered")
        del self.unsent[:count]

    def _tick(self) -> None:
        was_down = self.outage.down
        # a write, not a PING: a full Redis (noeviction) answers PINGs and refuses every write
        self.outage.probe(self.run.heartbeat)
        if self.outage.down:
            return
        if was_down:  # first the heartbeat, before another member takes this one's leases for a dead one's
            self.last_beat = float("-inf")
        if time.monotonic() - self.last_beat > self.ttl / 3 and self.outage.call(self.run.heartbeat) is not FAILED:
            self.last_beat = time.monotonic()
        had_unsent = bool(self.unsent)
        self._release_finished()  # sends the unsent first
        if (was_down or had_unsent) and not self.outage.down:
            self._wake(0)  # requests queued, or Redis answers again: ask for them now, not at the engine's next heartbeat
