"""A run of the shared frontier: the processes started with the same command, in Redis.

The run's key is derived from the spider and its arguments, so every ``scrapy crawl sources
-a sources=znews`` started while one runs joins it; its generation number, held in Redis,
changes when a run ends, so tomorrow's run has a new queue and duplicate filter. Every step
is one script of scripts.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from . import scripts

if TYPE_CHECKING:
    import redis

FINGERPRINT_LENGTH = 40  # a queue entry starts with the request's SHA-1 fingerprint, in hex
# A run is not complete before this long after it started, however soon its work is done: the
# processes started with it (a shell loop, a scheduler starting several) have until then to
# join it. One that came after a short run completed started the next run and fetched every
# page again (bench/scale.py at 20 pages: 20 pages fetched twice, one start-up ~1 s slower).
JOIN_WINDOW_MS = 5000


class FrontierUnavailable(ValueError):
    """FRONTIER_URL is not a Redis URL, or no Redis answers there; the message says which."""


def check_frontier_url(url: str | None) -> None:
    """A FRONTIER_URL must be a Redis URL."""
    if url and urlsplit(url).scheme not in ("redis", "rediss", "unix"):
        raise FrontierUnavailable(f"FRONTIER_URL {shown_url(url)!r}: expected redis://host:6379/0 "
                                  "(or rediss://, unix://)")


def check_frontier(url: str | None) -> None:
    """The start-up check (commands/startup.py): a FRONTIER_URL a crawl cannot use is one line
    before Scrapy starts anything."""
    if url:
        connect(url).close()


def connect(url: str) -> redis.Redis:
    """A client for FRONTIER_URL, checked with a PING and for eviction: a crawl must not start
    without its frontier, nor on one that may drop it."""
    import redis  # here: every crawl imports this module, and Redis's client is ~40 ms of a start without a frontier

    check_frontier_url(url)
    try:
        server = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5, retry_on_timeout=True)
        server.ping()
        memory = memory_info(server)
    except (redis.RedisError, ValueError) as exc:
        raise FrontierUnavailable(f"FRONTIER_URL {shown_url(url)}: cannot reach Redis: {exc}") from None
    unfit = unfit_for_a_frontier(memory)
    if unfit:
        server.close()
        raise FrontierUnavailable(f"FRONTIER_URL {shown_url(url)}: {unfit}")
    return server


def memory_info(server: redis.Redis) -> dict[str, Any]:
    """Redis's INFO memory, or nothing when this user may not run INFO (a managed Redis's ACL):
    then there is nothing to judge eviction by."""
    import redis

    try:
        return server.info("memory")
    except redis.ResponseError:
        return {}


def unfit_for_a_frontier(memory: dict[str, Any]) -> str | None:
    """Why a Redis (its INFO memory) would drop or refuse the frontier, or None."""
    eviction = evicts_keys(memory)
    if eviction:
        return (f"this Redis evicts keys when it is full ({eviction}), and evicted keys are queued URLs lost without "
                "a word: set maxmemory-policy noeviction (a full Redis then refuses writes, and the crawl waits), or "
                "give the frontier a Redis of its own")
    if memory.get("maxmemory") and memory.get("used_memory", 0) >= memory["maxmemory"]:
        return (f"this Redis is full (used_memory {memory.get('used_memory_human')} of maxmemory "
                f"{memory.get('maxmemory_human')}) and refuses every write: free memory there, or raise its maxmemory")
    return None


def evicts_keys(memory: dict[str, Any]) -> str | None:
    """'maxmemory …, maxmemory-policy …' when a Redis (its INFO memory) may evict keys: any
    policy but noeviction once maxmemory is set. The volatile-* policies evict only keys with
    a TTL, but the frontier's heartbeats and politeness delays have one: a live process's
    leases queued again, a host's Crawl-delay forgotten."""
    limit, policy = memory.get("maxmemory", 0), memory.get("maxmemory_policy", "noeviction")
    if not limit or policy == "noeviction":
        return None
    return f"maxmemory {memory.get('maxmemory_human', limit)}, maxmemory-policy {policy}"


def shown_url(url: str) -> str:
    """The URL without its password, for messages."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return urlunsplit(parts._replace(netloc=parts.netloc.replace(f":{parts.password}@", ":***@")))


def run_key(prefix: str, spider: str, args: dict[str, Any]) -> str:
    """``<prefix>:<spider>:<digest of the arguments>``: the same for every process of one command."""
    digest = hashlib.sha1(json.dumps(args, sort_keys=True, default=str).encode()).hexdigest()[:12]
    return f"{prefix}:{spider}:{digest}"


def command_args(spider: Any) -> dict[str, str]:
    """The spider's ``-a`` arguments, normalised (our spiders' run_args()), as ``-a`` strings:
    the run's identity, and what a worker passes to join it."""
    args = spider.run_args() if hasattr(spider, "run_args") else {}
    return {k: ",".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v) for k, v in args.items()}


def process_name() -> str:
    """This process among the run's members: host, pid and a nonce (a pid is reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


Push = tuple[str, int, bytes, bool]  # a request to queue: fingerprint, priority, entry, filtered


def push_args(pushes: list[Push]) -> list:
    """The pushes as the scripts' arguments, in fours (scripts._PUSH)."""
    return [arg for fingerprint, priority, entry, filtered in pushes for arg in (fingerprint, -priority, entry,
                                                                                 int(filtered))]


@dataclass
class Run:
    server: redis.Redis
    base: str
    process: str
    ttl_ms: int
    gen: int = 0
    join_window_ms: int = JOIN_WINDOW_MS

    def __post_init__(self) -> None:
        self._scripts = {name: self.server.register_script(getattr(scripts, name))
                         for name in ("JOIN", "PUSH", "POP", "SEED", "IDLE", "LEAVE", "GRANT")}

    def key(self, name: str) -> str:
        return f"{self.base}:{self.gen}:{name}"

    def join(self, may_start: bool, spider: str, args: dict[str, Any]) -> int:
        """Join the live run of this command, or (``may_start``) start its next generation; 0
        when a worker finds no live run."""
        self.gen = int(self._scripts["JOIN"](keys=[self.base], args=[
            self.process, self.ttl_ms, int(may_start), spider, json.dumps(args, sort_keys=True, default=str)]))
        return self.gen

    def push(self, fingerprint: str, priority: int, entry: bytes, filtered: bool) -> bool:
        """Queue an entry unless ``filtered`` and its fingerprint was seen in this run."""
        return self.push_many([(fingerprint, priority, entry, filtered)])[0]

    def push_many(self, pushes: list[Push]) -> list[bool]:
        """push() each (fingerprint, priority, entry, filtered), in order, in one round trip."""
        return [bool(flag) for flag in self._scripts["PUSH"](keys=[self.key("queue"), self.key("seen")],
                                                             args=push_args(pushes))]

    def take(self, count: int, done: list[bytes] = ()) -> tuple[list[bytes], int]:
        """Release the ``done`` entries, then up to ``count`` first queued entries, leased to
        this process until released; and how many entries the queue still holds."""
        taken, left, _, _ = self.exchange(count, done, [])
        return taken, left

    def exchange(self, count: int, done: list[bytes],
                 pushes: list[Push]) -> tuple[list[bytes], int, list[bool], list[bytes]]:
        """take(), in the same round trip queueing ``pushes`` first (as push_many(), whose
        flags come third): what a page found is queued before its lease is released. Fourth:
        entries given up (scripts.HOLDER_DEATHS members died holding each), for this process to
        report as failed requests: they are in no queue any more."""
        left, taken, queued, given_up = self._scripts["POP"](
            keys=[self.key("queue"), self.key(f"leases:{self.process}"), self.key("members"),
                  self.key(f"alive:{self.process}"), self.key("seen"), self.key("deaths"), self.key("given-up")],
            args=[self.process, self.ttl_ms, count, len(done), *done, *push_args(pushes)])
        return list(taken), int(left), [bool(flag) for flag in queued], list(given_up)

    def pop(self) -> bytes | None:
        """The first queued entry, leased to this process until release()."""
        taken, _ = self.take(1)
        return taken[0] if taken else None

    def seeding(self, step: str = "claim") -> str:
        """Whether this process seeds the run: 'mine', 'other' (a live process does) or 'done'
        (scripts.SEED). ``step`` 'done': it has pushed every start request; 'drop': it stops
        seeding before that (another process may take over)."""
        return self._scripts["SEED"](keys=[self.key("seeder")], args=[self.process, self.key("alive:"), step]).decode()

    def grant(self, most: int, per_source: int, source: str, urls: list[str]) -> tuple[int, list[int]]:
        """Count ``urls``, new articles of ``source`` this process found, against the run's limits
        (0: none), for every member at once: the run's total granted, and a flag per URL
        (scripts.GRANT: 1 granted, 0 over a limit, 2 granted before)."""
        total, flags = self._scripts["GRANT"](keys=[self.key("limits"), self.key("granted")],
                                               args=[most, per_source, source, *urls])
        return int(total), [int(flag) for flag in flags]

    def release(self, entries: list[bytes]) -> None:
        if entries:
            self.server.zrem(self.key(f"leases:{self.process}"), *entries)

    def heartbeat(self) -> None:
        self.server.set(self.key(f"alive:{self.process}"), 1, px=self.ttl_ms)

    def idle(self) -> str:
        """'work', 'wait', 'done' or 'lost' (scripts.IDLE); this process holds no lease."""
        return self._scripts["IDLE"](keys=[self.base],
                                     args=[self.gen, self.process, self.ttl_ms, self.join_window_ms]).decode()

    def leave(self) -> str:
        """Hand back this process's leases and leave; 'done' when it was the last one out."""
        return self._scripts["LEAVE"](keys=[self.base], args=[self.gen, self.process]).decode()

    def queued(self) -> int:
        return self.server.zcard(self.key("queue"))


def live_runs(server: redis.Redis, prefix: str) -> list[tuple[str, dict[str, str]]]:
    """(spider, ``-a`` arguments) of every run under ``prefix`` with a live member: what a worker joins."""
    runs = []
    for key in server.scan_iter(match=f"{prefix}:*", count=1000):
        if key.count(b":") != prefix.count(":") + 2 or server.type(key) != b"hash":
            continue
        record = server.hgetall(key)
        if record.get(b"state") != b"running":
            continue
        generation = f"{key.decode()}:{record[b'gen'].decode()}"
        if any(server.exists(f"{generation}:alive:{m.decode()}") for m in server.hkeys(f"{generation}:members")):
            runs.append((record[b"spider"].decode(), json.loads(record[b"args"])))
    return runs
