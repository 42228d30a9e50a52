"""The shared Redis frontier (issue 13): several `scrapy crawl sources` processes on one
FRONTIER_URL against a generated mirror whose request log is counted. Each test has its own
key prefix, deleted after it; without a Redis on 127.0.0.1:6379 the tests are skipped."""

from __future__ import annotations

import asyncio
import collections
import json
import pickle
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace

import pytest
from scrapy.exceptions import DontCloseSpider

from crawler.frontier.run import JOIN_WINDOW_MS, Run, connect, evicts_keys, run_key
from crawler.frontier.scheduler import FAST_LOOKS, FIRST_WAIT_POLL, WAIT_POLL, FrontierScheduler
from crawler.mirror import mirror_path
from tests import mirrorcrawl
from tests.conftest import PROJECT_ROOT, REDIS_URL, redis_or_skip
from tests.mirrorcrawl import CountingMirror, make_web, read_log, stop_started, wait_for_requests

redis = pytest.importorskip("redis")


@pytest.fixture
def frontier():
    """(FRONTIER_URL, a prefix of this test's own); its keys are deleted after the test."""
    server = redis_or_skip()
    prefix = f"test-frontier-{uuid.uuid4().hex[:8]}"
    yield server, prefix
    stop_started()
    for key in server.scan_iter(match=f"{prefix}:*"):
        server.delete(key)


def crawl(mirror: CountingMirror, seeds: Path, archive: Path, prefix: str, *settings: str,
          command: tuple[str, ...] = ("-m", "scrapy", "crawl", "sources")) -> subprocess.Popen:
    """mirrorcrawl.crawl on the shared frontier, under this test's key prefix."""
    return mirrorcrawl.crawl(mirror, seeds, archive, "-s", f"FRONTIER_URL={REDIS_URL}", "-s", f"FRONTIER_PREFIX={prefix}",
                             *settings, command=command)


def rows(archive: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(archive) as db:
        return db.execute(sql).fetchall()


def assert_archived_once(archive: Path, urls: list[str]) -> None:
    """Every page an article with one version; no version number twice; one fetch per page."""
    assert rows(archive, "SELECT count(*) FROM articles") == [(len(urls),)]
    assert rows(archive, "SELECT count(*) FROM article_versions") == [(len(urls),)]
    assert rows(archive, "SELECT article_id, version FROM article_versions GROUP BY 1, 2 HAVING count(*) > 1") == []
    assert rows(archive, "SELECT url FROM articles GROUP BY url HAVING count(*) > 1") == []


def test_three_processes_fetch_every_page_once(tmp_path, frontier):
    _, prefix = frontier
    urls, seeds = make_web(tmp_path, 300)
    archive = tmp_path / "archive.db"
    with CountingMirror(tmp_path / "web") as mirror:
        processes = [crawl(mirror, seeds, archive, prefix) for _ in range(3)]
        for process in processes:
            process.wait(timeout=300)
        logs = [read_log(process) for process in processes]
        for process, log in zip(processes, logs):
            assert process.returncode == 0, log[-4000:]
        counts = mirror.article_requests(urls)
    assert len(counts) == len(urls), f"{len(urls) - len(counts)} pages never fetched"
    assert [path for path, n in counts.items() if n > 1] == []
    assert_archived_once(archive, urls)
    # the work was shared: every process joined the one run, and more than one fetched pages
    assert all("joined " in log for log in logs)
    # one process seeded the run: the others read none of their start requests
    assert sum(" seeded " in log for log in logs) == 1, [log[-2000:] for log in logs]
    assert sum("reads no start request" in log for log in logs) == 2
    fetched = rows(archive, "SELECT crawl_run_id, count(*) FROM fetches WHERE outcome = 'new' GROUP BY 1")
    assert len(fetched) >= 2, fetched
    assert sum(n for _, n in fetched) == len(urls)


def test_next_run_is_not_blocked_by_the_last_ones_duplicate_filter(tmp_path, frontier):
    server, prefix = frontier
    urls, seeds = make_web(tmp_path, 10)
    archive = tmp_path / "archive.db"
    with CountingMirror(tmp_path / "web") as mirror:
        for _ in range(2):  # "today", then "tomorrow"
            process = crawl(mirror, seeds, archive, prefix)
            process.wait(timeout=240)
            assert process.returncode == 0, read_log(process)[-4000:]
        counts = mirror.article_requests(urls)
    assert set(counts.values()) == {2}, counts
    # the last process out cleared the run: only the run's record is left, marked done
    keys = list(server.scan_iter(match=f"{prefix}:sources:*"))
    assert len(keys) == 1 and server.hget(keys[0], "state") == b"done", keys


def test_a_killed_process_loses_no_queued_url(tmp_path, frontier):
    _, prefix = frontier
    urls, seeds = make_web(tmp_path, 40, delay=0.2)
    archive = tmp_path / "archive.db"
    settings = ("-s", "FRONTIER_LEASE_TTL=8", "-s", "CONCURRENT_REQUESTS=4", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1")
    with CountingMirror(tmp_path / "web") as mirror:
        doomed = crawl(mirror, seeds, archive, prefix, *settings)
        deadline = time.monotonic() + 120
        while len(mirror.article_requests(urls)) < 5 and time.monotonic() < deadline:
            time.sleep(0.1)
        survivor = crawl(mirror, seeds, archive, prefix, *settings)
        while len(mirror.article_requests(urls)) < 12 and time.monotonic() < deadline:
            time.sleep(0.1)
        doomed.send_signal(signal.SIGKILL)
        doomed.wait()
        survivor.wait(timeout=240)
        assert survivor.returncode == 0, read_log(survivor)[-4000:]
        counts = mirror.article_requests(urls)
    assert len(counts) == len(urls), f"{len(urls) - len(counts)} pages never fetched"
    assert " generation 1 " in read_log(survivor)  # it joined the killed one's run
    # A page is fetched again only when the killed process held it: not yet stored (most of
    # them), or stored in the instant before its lease was released (then `unchanged`): never
    # a second version.
    outcomes = dict(rows(archive, "SELECT outcome, count(*) FROM fetches GROUP BY 1"))
    assert outcomes.pop("new") == len(urls) and set(outcomes) <= {"unchanged"}, outcomes
    assert_archived_once(archive, urls)


def test_two_processes_share_one_slot_per_host(tmp_path, frontier):
    """Per-site politeness holds for both processes together: one request at a time per host
    (CONCURRENT_REQUESTS_PER_DOMAIN=1, each page answered 0.3 s late); 01net's robots.txt
    Crawl-delay of 1 s between any two of its requests, whichever process sends them; and
    after a dantri page answers 429 with Retry-After: 1, 1 s between dantri's requests."""
    _, prefix = frontier
    urls, seeds = make_web(tmp_path, 20, delay=0.3)
    robots = tmp_path / "web" / "www.01net.com" / "robots.txt"
    robots.write_text(robots.read_text().replace("User-agent: *\n", "User-agent: *\nCrawl-delay: 1\n", 1))
    limited = mirror_path(next(url for url in urls if "dantri" in url))
    sidecar = tmp_path / "web" / (limited.lstrip("/") + ".headers")
    sidecar.write_text(sidecar.read_text() + "Status: 429\nRetry-After: 1\n")
    archive = tmp_path / "archive.db"
    # the 429 page fails at once (no retry), and that failure does not fail a run
    settings = ("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1", "-s", "RETRY_TIMES=0", "-s", "RUN_MAX_ERROR_SHARE=0.99")
    with CountingMirror(tmp_path / "web") as mirror:
        processes = [crawl(mirror, seeds, archive, prefix, *settings) for _ in range(2)]
        for process in processes:
            process.wait(timeout=240)
            assert process.returncode == 0, read_log(process)[-4000:]
        counts = mirror.article_requests(urls)
        peak = dict(mirror.peak)
        pages = {mirror_path(url) for url in urls}
        starts = [when for when, path in mirror.starts["www.01net.com"] if path in pages]
        dantri = [(when, path) for when, path in mirror.starts["dantri.com.vn"] if path in pages]
    assert len(counts) == len(urls)
    assert set(peak.values()) == {1}, f"two requests at once to one host: {peak}"
    gaps = [later - earlier for earlier, later in zip(starts, starts[1:])]
    # (each process alone keeps 1 s between its own requests: without the shared slot, 0.02 s)
    assert len(starts) == 4 and min(gaps) > 0.8, gaps
    after = [when for when, _ in dantri[[path for _, path in dantri].index(limited):]]
    gaps = [later - earlier for earlier, later in zip(after, after[1:])]
    assert min(gaps, default=1) > 0.8, (gaps, dantri)


def test_a_worker_helps_with_the_run_a_seeder_started(tmp_path, frontier):
    """`archive recrawl --worker` seeds nothing and takes no lock: it joins the live run."""
    _, prefix = frontier
    # 8 pages a host, one at a time across both processes: >= 4 s of crawl. The worker finds the
    # run at its next look (POLL, 1 s) and opens its crawl; on a loaded machine that took 2 s
    # after the seeding, when 0.2 s a page had left it 4 queued requests and none to take.
    urls, seeds = make_web(tmp_path, 40, delay=0.5)
    archive = tmp_path / "archive.db"
    settings = ("-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1")
    with CountingMirror(tmp_path / "web") as mirror:
        worker = crawl(mirror, seeds, archive, prefix, *settings, command=("-m", "crawler.cli", "recrawl", "--worker",
                                                                           "--wait", "10"))
        seeder = crawl(mirror, seeds, archive, prefix, *settings)
        for process in (seeder, worker):
            process.wait(timeout=240)
            assert process.returncode == 0, read_log(process)[-4000:]
        counts = mirror.article_requests(urls)
    assert len(counts) == len(urls) and set(counts.values()) == {1}, counts
    assert_archived_once(archive, urls)
    fetched = rows(archive, "SELECT crawl_run_id, count(*) FROM fetches WHERE outcome = 'new' GROUP BY 1")
    assert len(fetched) == 2, fetched  # both did some of the work


def crawl_bundled_on(frontier_url: str, tmp_path: Path) -> subprocess.CompletedProcess:
    """`scrapy crawl sources` of the bundled mirror on ``frontier_url``, run to its end."""
    return subprocess.run([sys.executable, "-m", "scrapy", "crawl", "sources", "-s", "MIRROR_URL=bundled",
                           "-s", f"ARCHIVE_URL=sqlite:///{tmp_path / 'archive.db'}", "-s", f"FRONTIER_URL={frontier_url}"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(("url", "message"), [
    ("http://127.0.0.1:6379/0", "FRONTIER_URL 'http://127.0.0.1:6379/0': expected redis://host:6379/0"),
    ("redis://:secret@127.0.0.1:1/0", "FRONTIER_URL redis://:***@127.0.0.1:1/0: cannot reach Redis: "),
])
def test_a_frontier_that_cannot_be_used_is_one_line(tmp_path, url, message):
    result = crawl_bundled_on(url, tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"scrapy crawl sources: {message}"), result.stderr[-3000:]
    assert "secret" not in result.stderr


UNREADABLE_ENTRIES = {
    # queued by a newer host whose spider has a callback this one lacks
    "another version": pickle.dumps({"url": "https://znews.vn/from-a-newer-host-post999.html", "callback": "parse_v2",
                                     "errback": None, "method": "GET", "headers": {}, "body": b"", "cookies": {},
                                     "meta": {"source": "znews"}, "encoding": "utf-8", "priority": 0,
                                     "dont_filter": False, "flags": [], "cb_kwargs": {}}, protocol=-1),
    "damaged": b"\x80\x05not a pickle",
}


@pytest.mark.parametrize("kind", UNREADABLE_ENTRIES)
def test_a_queued_request_no_process_can_read_is_a_failed_request_not_a_spin(tmp_path, frontier, kind):
    """A queue entry this process cannot make a request again (a mixed-version fleet, a
    damaged entry): one ERROR line, a failed request of the run (with its fetches row when its
    URL reads), dropped from the run; the crawl finishes. It was handed back to the same
    process for ever, with a traceback a second, and the crawl never ended."""
    server, prefix = frontier
    urls, seeds = make_web(tmp_path, 20, delay=0.3)
    archive = tmp_path / "archive.db"
    with CountingMirror(tmp_path / "web") as mirror:
        process = crawl(mirror, seeds, archive, prefix, "-s", "CONCURRENT_REQUESTS=2")
        wait_for_requests(mirror, urls, 2)  # joined and crawling
        (base,) = [key for key in server.scan_iter(match=f"{prefix}:sources:*") if key.count(b":") == 2]
        generation = f"{base.decode()}:{server.hget(base, 'gen').decode()}"
        server.zadd(f"{generation}:queue", {b"f" * 40 + UNREADABLE_ENTRIES[kind]: -10})  # first in line
        process.wait(timeout=60)  # ~6 s
        log = read_log(process)
    assert process.returncode == 0, log[-4000:]
    errors = [line for line in log.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and "cannot be read from the shared frontier" in errors[0], errors
    assert "another version of the crawler" in errors[0] and "Traceback" not in log
    assert_archived_once(archive, urls)
    (stats,) = rows(archive, "SELECT stats FROM crawl_runs")
    assert json.loads(stats[0])["fetch/failed/unreadable_request"] == 1
    failed = rows(archive, "SELECT url, error FROM fetches WHERE outcome = 'error'")
    if kind == "another version":
        assert errors[0].endswith(failed[0][1]) and failed[0][0] == "https://znews.vn/from-a-newer-host-post999.html"
        assert "Method 'parse_v2' not found" in failed[0][1]
    else:
        assert failed == [] and "a queued request: cannot be read" in errors[0]
    assert list(server.scan_iter(match=f"{generation}:*")) == []  # dropped, with the finished run


def test_runs_carry_over_what_a_dead_run_left(frontier):
    """Run (the Redis side, without Scrapy): a member whose heartbeat stopped has its leases
    queued again; a run with no live member is over, and the next generation carries what
    it left, through its own duplicate filter."""
    server, prefix = frontier
    base = run_key(prefix, "sources", {})
    dead, alive = Run(server, base, "dead", ttl_ms=200), Run(server, base, "alive", ttl_ms=60_000)
    assert dead.join(True, "sources", {}) == 1 and alive.join(True, "sources", {}) == 1
    for n in range(3):
        assert dead.push(f"{n:040d}", 0, f"{n:040d}request-{n}".encode(), True)
    assert not dead.push(f"{0:040d}", 0, b"again", True)  # seen in this run
    assert dead.pop() == f"{0:040d}request-0".encode()
    assert alive.idle() == "work"  # two still queued
    time.sleep(0.3)  # the dead member's heartbeat has run out: its lease is queued again
    assert alive.idle() == "work"
    assert {alive.pop(), alive.pop(), alive.pop()} == {f"{n:040d}request-{n}".encode() for n in range(3)}
    other = Run(server, base, "other", ttl_ms=60_000)
    assert other.join(True, "sources", {}) == 1
    assert other.idle() == "wait"  # another member holds leases
    # A process calls idle() only when it holds no request, so a lease still in its own name is
    # one whose pop it never heard back from (Redis went away in between): queued again.
    assert other.push(f"{7:040d}", 0, f"{7:040d}request-7".encode(), True)
    other.take(1)  # its answer "lost"
    assert other.idle() == "work" and other.pop() == f"{7:040d}request-7".encode()
    other.release([f"{7:040d}request-7".encode()])
    assert other.leave() == "left"
    alive.release([f"{n:040d}request-{n}".encode() for n in range(2)])
    assert alive.leave() == "left"  # request-2 still leased: handed back to the queue
    assert Run(server, base, "worker", 60_000).join(False, "sources", {}) == 0  # workers never start runs
    nxt = Run(server, base, "tomorrow", 60_000)
    assert nxt.join(True, "sources", {}) == 2
    assert nxt.pop() == f"{2:040d}request-2".encode()  # carried over
    assert nxt.push(f"{0:040d}", 0, b"x" * 40, True)  # a new duplicate filter
    assert not nxt.push(f"{2:040d}", 0, b"x" * 40, True)  # the carried entry is in it


def test_a_run_is_not_complete_before_its_join_window_ends(frontier):
    """Processes started together do not start up together: at 20 pages one finished the run
    before the other joined it, and the late one started the next run and fetched every page
    again. A run whose work is done stays open for the rest of its join window, and a process
    that comes in it joins the run, not the next."""
    server, prefix = frontier
    base = run_key(prefix, "sources", {})
    first = Run(server, base, "first", ttl_ms=60_000, join_window_ms=600)
    assert first.join(True, "sources", {}) == 1
    assert first.idle() == "wait"  # nothing to do, and nothing queued: but the run is 0.6 s old at most
    late = Run(server, base, "late", ttl_ms=60_000, join_window_ms=600)
    assert late.join(True, "sources", {}) == 1 and late.idle() == "wait"  # the same run
    time.sleep(0.7)
    assert first.idle() == "done" and late.idle() == "done"
    assert Run(server, base, "tomorrow", 60_000).join(True, "sources", {}) == 2


def test_take_releases_and_leases_in_one_round_trip(frontier):
    """Run.take (the scheduler's only pop): the entries a process is done with are released,
    up to ``count`` entries are leased to it, and the queue's remaining length comes back; a
    leased entry is never handed to another process, and a dead one's come back."""
    server, prefix = frontier
    base = run_key(prefix, "sources", {})
    first, second = Run(server, base, "first", ttl_ms=200), Run(server, base, "second", ttl_ms=60_000)
    assert first.join(True, "sources", {}) == 1 and second.join(True, "sources", {}) == 1
    entries = [f"{n:040d}request-{n}".encode() for n in range(5)]
    for n, entry in enumerate(entries):
        assert first.push(f"{n:040d}", 0, entry, True)
    taken, left = first.take(4)
    assert taken == entries[:4] and left == 1
    assert second.take(4) == ([entries[4]], 0)
    assert second.take(4) == ([], 0)
    assert server.zcard(first.key("leases:first")) == 4
    taken, left = first.take(4, done=entries[:2])  # nothing queued: the release alone
    assert (taken, left) == ([], 0) and server.zcard(first.key("leases:first")) == 2
    time.sleep(0.3)  # first's heartbeat has run out: its two leases are queued again for second
    second.release([entries[4]])  # done with it (idle() is called holding nothing)
    assert second.idle() == "work"
    # suspects now (a member died holding them): a member holds one of them at a time
    (one,) = second.take(4)[0]
    (other,) = second.take(4, done=[one])[0]
    assert sorted([one, other]) == entries[2:4]


def test_a_request_its_holders_died_on_is_given_up_and_the_others_they_held_are_not(frontier):
    """A page that kills whichever process takes it would take down every member in turn. What
    a dead member held is a suspect; a member holds one suspect at a time, so the next death
    blames it alone; HOLDER_DEATHS deaths and it is given up: handed to the next pop to report,
    never out again. The innocent request held beside it the first time is fetched."""
    from crawler.frontier.scripts import HOLDER_DEATHS

    server, prefix = frontier
    base = run_key(prefix, "sources", {})
    survivor = Run(server, base, "survivor", ttl_ms=60_000)
    assert survivor.join(True, "sources", {}) == 1
    poison, innocent = f"{1:040d}poison".encode(), f"{2:040d}innocent".encode()
    survivor.push(f"{1:040d}", 0, poison, True)
    survivor.push(f"{2:040d}", 0, innocent, True)
    for death in range(1, HOLDER_DEATHS + 1):
        doomed = Run(server, base, f"doomed-{death}", ttl_ms=100)
        assert doomed.join(True, "sources", {}) == 1
        # the first holds both; once suspects, the poison alone (first in the queue)
        assert doomed.take(4)[0] == ([poison, innocent] if death == 1 else [poison])
        time.sleep(0.15)  # dies holding them: its heartbeat runs out
        assert survivor.idle() == "work"
        assert int(server.hget(survivor.key("deaths"), f"{1:040d}")) == death
    taken, _, _, given_up = survivor.exchange(4, [], [])
    assert taken == [innocent] and given_up == [poison]
    assert survivor.exchange(4, [innocent], [])[3] == []  # reported once
    assert server.hget(survivor.key("deaths"), f"{2:040d}") == b"1"
    assert survivor.idle() == "wait"  # the join window; nothing of the poison is left in the run


def test_a_page_that_kills_every_process_that_takes_it_is_given_up(tmp_path, frontier):
    """One process after another (cron, or a supervisor restarting it) killed while on the same
    page: the HOLDER_DEATHS-th next process reports it as a failed request, with its fetches
    row, and archives every other page. Before, every process that took it died, for ever."""
    from crawler.frontier.scripts import HOLDER_DEATHS

    _, prefix = frontier
    urls, seeds = make_web(tmp_path, 12)
    poison = urls[5]
    archive = tmp_path / "archive.db"
    settings = ("-s", "FRONTIER_LEASE_TTL=2", "-s", "CONCURRENT_REQUESTS=4")
    with CountingMirror(tmp_path / "web") as mirror:
        for death in range(1, HOLDER_DEATHS + 1):
            doomed = crawl(mirror, seeds, archive, prefix, *settings)
            wait_for_requests(mirror, [poison], 1)
            deadline = time.monotonic() + 120
            while mirror.article_requests([poison]).get(mirror_path(poison), 0) < death and time.monotonic() < deadline:
                time.sleep(0.01)
            doomed.send_signal(signal.SIGKILL)  # as a crash in a parser would, on that page
            doomed.wait()
            time.sleep(2.5)  # its heartbeat runs out
        last = crawl(mirror, seeds, archive, prefix, *settings)
        last.wait(timeout=120)
        log = read_log(last)
        counts = mirror.article_requests(urls)
    assert last.returncode == 0, log[-4000:]
    assert counts[mirror_path(poison)] == HOLDER_DEATHS  # never again
    errors = [line for line in log.splitlines() if " ERROR: " in line]
    assert len(errors) == 1 and f"{poison}: given up: {HOLDER_DEATHS} processes died holding it" in errors[0], errors
    assert rows(archive, "SELECT url FROM fetches WHERE outcome = 'error'") == [(poison,)]
    others = [url for url in urls if url != poison]
    assert {url for (url,) in rows(archive, "SELECT url FROM articles")} == set(others)


def joined_scheduler(server, prefix: str, away: set[str]) -> FrontierScheduler:
    """A FrontierScheduler joined to a run of the test's Redis, without a crawl: the engine's
    in-progress set is ``scheduler.crawler.engine._slot.inprogress``; a Run method named in
    ``away`` finds Redis away (FAILED) while it is there."""
    from scrapy import Spider
    from scrapy.settings import Settings
    from scrapy.statscollectors import MemoryStatsCollector

    from crawler.frontier.outage import FAILED

    outage = SimpleNamespace(down=False, given_up=False,
                             call=lambda function, *args: FAILED if function.__name__ in away else function(*args))
    engine_slot = SimpleNamespace(inprogress=set(), nextcall=SimpleNamespace(schedule=lambda: None))
    crawler = SimpleNamespace(engine=SimpleNamespace(_slot=engine_slot), get_extension=lambda cls: outage)
    crawler.stats = MemoryStatsCollector(SimpleNamespace(settings=Settings()))
    scheduler = FrontierScheduler(crawler, server, prefix, ttl=60, seed=True)
    scheduler.open(Spider(name="sources"))
    scheduler.clock.stop()  # no reactor runs here: the test calls what its ticks would
    return scheduler


def test_requests_are_pushed_in_batches_and_repeats_are_still_filtered(frontier):
    """A round trip a request pushed was ~7 % of a 2-process crawl's reactor thread (when
    every process seeded every start request). They go PUSH_BATCH at a time, the rest with the
    next pop, in its round trip; the run's duplicate filter still drops a repeat, and counts it."""
    from scrapy import Request

    from crawler.frontier.scheduler import PREFETCH, PUSH_BATCH

    server, prefix = frontier
    scheduler = joined_scheduler(server, prefix, away=set())
    round_trips = []
    push_many, exchange = scheduler.run.push_many, scheduler.run.exchange
    scheduler.run.push_many = lambda pushes: round_trips.append(("push", len(pushes))) or push_many(pushes)
    scheduler.run.exchange = lambda count, done, pushes: (round_trips.append(("push and pop", len(pushes)))
                                                          or exchange(count, done, pushes))
    requests = [Request(f"https://znews.vn/a-{n}.html") for n in range(2 * PUSH_BATCH + 20)]
    for request in [*requests, Request(requests[0].url)]:
        assert scheduler.enqueue_request(request)
    assert round_trips == [("push", PUSH_BATCH)] * 2 and scheduler.run.queued() == 2 * PUSH_BATCH
    assert scheduler.next_request() is not None
    assert round_trips == [("push", PUSH_BATCH)] * 2 + [("push and pop", 21)]
    assert scheduler.run.queued() == len(requests) - PREFETCH  # and the pop leased PREFETCH of them
    assert scheduler.queued == len(requests) - PREFETCH  # what it believes is queued, without asking
    stats = scheduler.stats.get_stats()
    assert stats["scheduler/enqueued/redis"] == len(requests) and stats["frontier/filtered"] == 1


def test_a_lease_outlives_what_its_page_found_until_that_is_queued(frontier):
    """A page's lease ends (the engine is done with it) only once the requests its page found
    are in Redis: a process killed in between would otherwise lose them. While Redis takes
    no push, the lease is kept; once it does, the found request is queued first, alone or in
    the round trip of the next pop."""
    from scrapy import Request

    server, prefix = frontier
    away: set[str] = set()
    scheduler = joined_scheduler(server, prefix, away)
    scheduler.enqueue_request(Request("https://znews.vn/page.html"))
    page = scheduler.next_request()
    leases = scheduler.run.key(f"leases:{scheduler.run.process}")
    assert page is not None and server.zcard(leases) == 1
    scheduler.enqueue_request(Request("https://znews.vn/cited-original.html"))  # found on the page
    # the engine is done with the page (not in its in-progress set), and Redis takes no push
    away.update({"push_many", "exchange"})
    scheduler._release_finished()
    assert server.zcard(leases) == 1 and scheduler.done == [] and len(scheduler.unsent) == 1
    assert scheduler.next_request() is None and server.zcard(leases) == 1
    away.clear()
    scheduler._release_finished()
    assert server.zcard(leases) == 0 and scheduler.unsent == []
    [entry] = server.zrange(scheduler.run.key("queue"), 0, -1)
    assert b"cited-original" in entry
    # with the next pop: pushed, then the page's lease released, then popped, in one round trip
    assert scheduler.next_request().url.endswith("/cited-original.html")
    scheduler.enqueue_request(Request("https://znews.vn/cited-by-the-original.html"))  # found on it
    following = scheduler.next_request()  # the engine is done with the cited original
    assert following.url.endswith("/cited-by-the-original.html") and scheduler.unsent == []
    [lease] = server.zrange(leases, 0, -1)
    assert b"cited-by-the-original" in lease


def seeding_with(scheduler: FrontierScheduler):  # noqa: ANN201
    """The SeedOnceMiddleware of ``scheduler``'s process: its engine's crawl() enqueues."""
    from crawler.frontier.seeding import SeedOnceMiddleware

    scheduler.crawler.engine._slot.scheduler = scheduler
    scheduler.crawler.engine.crawl = scheduler.enqueue_request
    return SeedOnceMiddleware(scheduler.crawler)


def test_one_process_seeds_a_run_and_another_takes_over_from_a_dead_seeder(frontier):
    """Each process read, serialised and pushed every start request, for the duplicate filter
    to drop the repeats (~5 % of a second process's time). Now the first to ask seeds, as fast
    as Redis takes them; the others read none while it lives; if it dies before it is done,
    the next one to look seeds again, and the run's duplicate filter drops what the dead one
    had queued: no start request is lost, none is queued twice."""
    from scrapy import Request

    from crawler.frontier.scheduler import PUSH_BATCH
    from crawler.frontier.seeding import SEED_POLL

    server, prefix = frontier
    first, second = joined_scheduler(server, prefix, set()), joined_scheduler(server, prefix, set())
    assert first.run.gen == second.run.gen
    urls = [f"https://znews.vn/start-{n}.html" for n in range(150)]
    read: collections.Counter[str] = collections.Counter()
    hang = asyncio.Event()

    async def start(name: str, stop_after: int | None = None):  # noqa: ANN202
        for n, url in enumerate(urls):
            if n == stop_after:
                await hang.wait()  # the first process stops here: killed mid-seeding
            read[name] += 1
            yield Request(url)

    async def drained(middleware, name: str, stop_after: int | None = None) -> list:
        return [item async for item in middleware.process_start(start(name, stop_after))]

    async def scenario() -> None:
        dying = asyncio.ensure_future(drained(seeding_with(first), "first", stop_after=70))
        await asyncio.sleep(0.2)
        assert read["first"] == 70 and not dying.done()
        waiting = asyncio.ensure_future(drained(seeding_with(second), "second"))
        await asyncio.sleep(3 * SEED_POLL)
        assert read["second"] == 0 and not waiting.done()  # a live process seeds: the second waits
        server.delete(first.run.key(f"alive:{first.run.process}"))  # the first's heartbeat stops
        assert await asyncio.wait_for(waiting, 10) == []  # every start request went to Redis, none to the engine
        dying.cancel()

    asyncio.run(scenario())
    assert read["second"] == len(urls)
    assert server.zcard(second.run.key("queue")) == len(urls) and second.unsent == []
    stats = second.stats.get_stats()  # the dead seeder's first batch was queued: repeats now
    assert stats["frontier/filtered"] == PUSH_BATCH and stats["scheduler/enqueued/redis"] == len(urls) - PUSH_BATCH
    assert first.run.seeding() == "done"
    # a process joining now reads no start request at all
    third = joined_scheduler(server, prefix, set())
    assert asyncio.run(drained(seeding_with(third), "third")) == [] and "third" not in read


def test_a_process_waiting_for_the_seeder_fetches_what_it_has_queued(frontier):
    """Scrapy's engine asks its scheduler for no request while it awaits a start request, so a
    process waiting for the seeder, whose first ask came before the seeder's first batch, sat
    idle until the run was seeded (1.2-2.1 s in a 2-process crawl of 2,000 pages). At each look
    it now has its engine take what is queued: here the engine's ask is the scheduler's
    next_request()."""
    from scrapy import Request

    from crawler.frontier.scheduler import PUSH_BATCH
    from crawler.frontier.seeding import SEED_POLL

    server, prefix = frontier
    first, second = joined_scheduler(server, prefix, set()), joined_scheduler(server, prefix, set())
    urls = [f"https://znews.vn/start-{n}.html" for n in range(100)]
    fetched: list[Request] = []
    second.crawler.engine._slot.nextcall.schedule = lambda: fetched.append(second.next_request())
    more = asyncio.Event()

    async def start(to_read: list[str]):  # noqa: ANN202
        for n, url in enumerate(to_read):
            if n == PUSH_BATCH + 1:
                await more.wait()  # the seeder is slow: one batch is queued, the rest to come
            yield Request(url)

    async def drained(scheduler: FrontierScheduler, to_read: list[str]) -> list:
        return [item async for item in seeding_with(scheduler).process_start(start(to_read))]

    async def scenario() -> None:
        seeding = asyncio.ensure_future(drained(first, urls))
        await asyncio.sleep(0.1)
        waiting = asyncio.ensure_future(drained(second, ["https://znews.vn/never-read.html"]))
        await asyncio.sleep(3 * SEED_POLL)
        assert not waiting.done()
        taken = [request.url for request in fetched if request]  # one a look; PREFETCH leased a pop
        assert taken and len(set(taken)) == len(taken) and set(taken) <= set(urls[:PUSH_BATCH])
        assert server.zcard(first.run.key("queue")) + len(taken) + len(second.prefetched) == PUSH_BATCH
        more.set()
        assert await asyncio.wait_for(seeding, 10) == [] and await asyncio.wait_for(waiting, 10) == []

    asyncio.run(scenario())
    taken = [request for request in fetched if request]
    assert first.run.seeding() == "done"
    assert server.zcard(first.run.key("queue")) + len(taken) + len(second.prefetched) == len(urls)


def test_a_seeder_whose_start_requests_raise_lets_the_next_process_seed(frontier):
    """Else the others would wait for it to finish seeding, and it for them to finish the run."""
    from scrapy import Request

    server, prefix = frontier
    first, second = joined_scheduler(server, prefix, set()), joined_scheduler(server, prefix, set())

    async def broken():  # noqa: ANN202
        yield Request("https://znews.vn/start-1.html")
        raise ValueError("a seed file that does not parse")

    async def drained() -> list:
        return [item async for item in seeding_with(first).process_start(broken())]

    with pytest.raises(ValueError, match="does not parse"):
        asyncio.run(drained())
    assert second.run.seeding() == "mine"


def test_a_worker_reads_no_start_request(frontier):
    server, prefix = frontier
    seeder = joined_scheduler(server, prefix, set())  # a live run for the worker to join
    worker = joined_scheduler(server, prefix, set())
    worker.seed = False
    read = []

    async def start():  # noqa: ANN202
        from scrapy import Request

        read.append(1)
        yield Request("https://znews.vn/start.html")

    async def drained() -> list:
        return [item async for item in seeding_with(worker).process_start(start())]

    assert asyncio.run(drained()) == [] and read == [] and seeder.run.seeding() == "mine"


def test_a_host_slot_held_by_a_dead_process_is_freed_when_wanted(frontier):
    """scripts.ACQUIRE on its own: with every slot of a host taken, a holder whose process's
    heartbeat key is gone loses its slot to the asking request; a live holder's slot is kept
    (wait 20 ms), until the host allows more requests at once."""
    from crawler.frontier import scripts

    server, prefix = frontier
    acquire = server.register_script(scripts.ACQUIRE)
    keys = [f"{prefix}:host:example.org:{name}" for name in ("slots", "next", "delay")]
    alive = f"{prefix}:slot-holder:"

    def ask(token: str, limit: int = 2) -> int:  # no delay, a 60 s hold
        return int(acquire(keys=keys, args=[token, limit, 0, 60_000, 60_000, alive]))

    server.set(alive + "live", 1)  # "dead" has no heartbeat key
    held_until = int(time.time() * 1000) + 60_000
    server.zadd(keys[0], {"dead|0": held_until, "live|0": held_until})
    assert ask("live|1") == 0  # both slots taken: the dead holder's goes to the asking request
    assert sorted(server.zrange(keys[0], 0, -1)) == [b"live|0", b"live|1"]
    assert ask("live|2") == 20  # every holder alive: wait
    assert ask("live|2", limit=3) == 0


def test_a_slot_given_back_rides_on_the_next_acquire(frontier):
    """HostSlotMiddleware: a slot is given back with the process's next ACQUIRE, in its round
    trip and before the new slot is taken (so a host allowing one request at a time gets the
    next at once), or on its own at the latest GIVE_BACK_WITHIN s after its response; until
    then no other request takes it. One round trip a request, not two."""
    from scrapy import Request
    from scrapy.http import Response
    from scrapy.settings import Settings

    from crawler.frontier.slots import HostSlotMiddleware

    server, prefix = frontier
    outage = SimpleNamespace(down=False, given_up=False, call=lambda function, *args, **kwargs: function(*args, **kwargs))
    crawler = SimpleNamespace(settings=Settings({"DOWNLOAD_DELAY": 0}), get_extension=lambda cls: outage,
                              signals=SimpleNamespace(connect=lambda *args, **kwargs: None),
                              engine=SimpleNamespace(downloader=SimpleNamespace(slots={}, get_slot_key=lambda r: None)))
    slots = HostSlotMiddleware(crawler, server, prefix, limit=1, hold=60, ttl=60)
    server.set(slots.alive, 1)
    acquire, sent = slots.acquire, []
    slots.acquire = lambda **kwargs: sent.append("acquire") or acquire(**kwargs)
    pipeline = server.pipeline
    server.pipeline = lambda **kwargs: sent.append("give back") or pipeline(**kwargs)

    def holders(host: str) -> int:
        return server.zcard(f"{prefix}:host:{host}:slots")

    first, second, third = (Request(f"https://{host}/a.html") for host in ("znews.vn", "znews.vn", "dantri.com.vn"))
    asyncio.run(slots.process_request(first))
    slots.process_response(first, Response(first.url))
    assert holders("znews.vn") == 1 and slots.given_back  # not yet given back: no other request has it
    asyncio.run(slots.process_request(second))  # one slot for the host: given back first, then taken at once
    assert holders("znews.vn") == 1 and sent == ["acquire", "acquire"] and not slots.given_back
    slots.process_response(second, Response(second.url))
    asyncio.run(slots.process_request(third))
    assert holders("znews.vn") == 0 and holders("dantri.com.vn") == 1
    slots.process_exception(third, OSError())
    assert slots.give_back_call.active()  # what no ACQUIRE takes goes on its own, GIVE_BACK_WITHIN s after
    slots.engine_stopped()  # ... or when the crawl stops
    assert holders("dantri.com.vn") == 0 and sent == ["acquire"] * 3 + ["give back"]
    assert not slots.give_back_call.active()


def waiting_scheduler(states: list[str], joined_at: float, now: float, monkeypatch) -> tuple[FrontierScheduler, list]:
    """A scheduler whose run (a stand-in, no Redis) answers ``states`` in turn, on a clock that
    moves on by each delay it asks to be woken after; and that list of delays."""
    import crawler.frontier.scheduler as scheduler_module

    clock = [now]
    monkeypatch.setattr(scheduler_module, "time", SimpleNamespace(monotonic=lambda: clock[0]))
    scheduler = FrontierScheduler.__new__(FrontierScheduler)
    answers = iter(states)
    scheduler.run = SimpleNamespace(gen=1, idle=lambda: next(answers), release=lambda done: None,
                                    join_window_ms=JOIN_WINDOW_MS)
    scheduler.outage = SimpleNamespace(given_up=False, call=lambda function, *args: function(*args))
    scheduler.unsent, scheduler.done, scheduler.held, scheduler.wait_poll = [], [], {}, FIRST_WAIT_POLL
    scheduler.waiting_since, scheduler.joined_at, scheduler.queued_at = None, joined_at, 0.0
    scheduler.crawler = SimpleNamespace(engine=SimpleNamespace(_slot=SimpleNamespace(inprogress=set())))
    delays = []

    def wake(delay: float) -> None:
        delays.append(delay)
        clock[0] += delay

    scheduler._wake = wake
    for _ in states:
        with pytest.raises(DontCloseSpider):
            scheduler.spider_idle()
    return scheduler, delays


def test_a_process_waiting_for_the_others_looks_often_for_a_second_then_less_often(monkeypatch):
    """A process out of work asks whether the run is complete every 0.05 s for the first
    second of its wait (the others are then most often finishing their last pages: a wait
    doubled from the first look held a 2-process run's end up to 0.13 s), then twice as long
    each time up to 1 s: a long wait costs one Redis call a second. Work, found or taken,
    starts the waits short again."""
    _, delays = waiting_scheduler(["wait"] * 30 + ["work"] + ["wait"] * 2, joined_at=0.0, now=60.0,
                                  monkeypatch=monkeypatch)
    fast = delays[:delays.index(2 * FIRST_WAIT_POLL)]
    assert set(fast) == {FIRST_WAIT_POLL} and FAST_LOOKS <= sum(fast) < FAST_LOOKS + 2 * FIRST_WAIT_POLL
    slower, after_work = delays[len(fast):30], delays[30:]
    assert slower == pytest.approx([0.1, 0.2, 0.4, 0.8] + [1.0] * (len(slower) - 4)) and len(slower) >= 5
    assert after_work == [0, 0.05, 0.05]
    assert (FIRST_WAIT_POLL, FAST_LOOKS, WAIT_POLL) == (0.05, 1.0, 1.0)


def test_a_process_waiting_in_its_join_window_looks_often_until_the_window_ends(monkeypatch):
    """A run shorter than its join window completes when the window ends, not up to a second
    after it (the doubled waits overshot it)."""
    assert JOIN_WINDOW_MS == 5000
    _, delays = waiting_scheduler(["wait"] * 100, joined_at=0.0, now=2.0, monkeypatch=monkeypatch)
    fast = delays[:delays.index(2 * FIRST_WAIT_POLL)]
    assert set(fast) == {FIRST_WAIT_POLL} and 3.0 <= sum(fast) < 3.0 + 2 * FIRST_WAIT_POLL  # to 5 s after joining


class OwnRedis:
    """A redis-server of the test's own, on a free port, that the test can kill and restart
    (with its data: an append-only file synced at every write; or without)."""

    def __init__(self, folder: Path):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.folder, self.url, self.process = folder, f"redis://127.0.0.1:{self.port}/0", None
        folder.mkdir(exist_ok=True)

    def start(self, keep_data: bool = True) -> None:
        if not keep_data:
            for path in self.folder.rglob("*"):
                path.unlink() if path.is_file() else None
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "",
             "--appendonly", "yes", "--appendfsync", "always"], stdout=subprocess.DEVNULL)
        server = redis.Redis.from_url(self.url)
        deadline = time.monotonic() + 20
        while True:
            try:
                server.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait()


@pytest.fixture
def own_redis(tmp_path):
    import shutil

    if shutil.which("redis-server") is None:
        pytest.skip("no redis-server binary to start and kill")
    server = OwnRedis(tmp_path / "redis")
    server.start()
    yield server
    stop_started()
    if server.process.poll() is None:
        server.kill()


@contextmanager
def crawling_on(own_redis: OwnRedis, tmp_path: Path, pages: int, limit: int, served_first: int):  # noqa: ANN201
    """A crawl on ``own_redis`` with FRONTIER_OUTAGE_LIMIT ``limit``, once the mirror has
    served ``served_first`` of its pages: (urls, archive, mirror, process), the mirror up."""
    urls, seeds = make_web(tmp_path, pages, delay=0.1)
    archive = tmp_path / "archive.db"
    with CountingMirror(tmp_path / "web") as mirror:
        process = crawl(mirror, seeds, archive, "outage", "-s", f"FRONTIER_URL={own_redis.url}",
                        "-s", f"FRONTIER_OUTAGE_LIMIT={limit}", "-s", "CONCURRENT_REQUESTS=2")
        wait_for_requests(mirror, urls, served_first)
        yield urls, archive, mirror, process


def test_a_frontier_lost_mid_crawl_stops_it_in_one_line_and_loses_no_capture(tmp_path, own_redis):
    """Redis killed mid-crawl (FRONTIER_OUTAGE_LIMIT=2): one WARNING when it stops answering,
    one ERROR when the limit passes, the run failed with that reason, exit 1; every page the
    mirror served before has its fetches row. It used to run on for ever, a traceback a
    second, and dropped unstored an item whose cited original it could not queue."""
    with crawling_on(own_redis, tmp_path, pages=60, limit=2, served_first=10) as (urls, archive, mirror, process):
        own_redis.kill()
        process.wait(timeout=120)
        served = set(mirror.article_requests(urls))
    log = read_log(process)
    assert process.returncode == 1, log[-4000:]
    assert log.count(f"frontier: Redis at {own_redis.url} does not answer") == 1, log[-4000:]
    assert log.count(f"Redis at {own_redis.url} did not answer for 2 s") >= 1 and "Traceback" not in log, log[-4000:]
    [(status, reason)] = rows(archive, "SELECT status, reason FROM crawl_runs")
    assert status == "failed" and reason.startswith(f"frontier: Redis at {own_redis.url} did not answer for 2 s"), reason
    assert reason.endswith("(frontier_lost)")
    stored = {mirror_path(url) for (url,) in rows(archive, "SELECT url FROM fetches")}
    assert served <= stored, f"{len(served - stored)} pages fetched and not stored"
    assert 10 <= len(served) < len(urls)


@pytest.mark.parametrize("keep_data", [True, False])
def test_a_frontier_back_within_the_limit_resumes_the_crawl(tmp_path, own_redis, keep_data):
    """Redis killed and started again 2 s later. With its data (its append-only file), the
    crawl waits, goes on and archives every page (one WARNING, one INFO "answers again").
    Without it (a Redis restarted empty), the run's queue is gone: the crawl says so in one
    ERROR line and fails, rather than finishing as if it had crawled everything."""
    with crawling_on(own_redis, tmp_path, pages=40, limit=60, served_first=8) as (urls, archive, mirror, process):
        own_redis.kill()
        time.sleep(2)
        own_redis.start(keep_data=keep_data)
        process.wait(timeout=180)
        counts = mirror.article_requests(urls)
    log = read_log(process)
    assert log.count(f"frontier: Redis at {own_redis.url} does not answer") == 1, log[-4000:]
    assert "Traceback" not in log, log[-4000:]
    if keep_data:
        assert process.returncode == 0, log[-4000:]
        assert f"frontier: Redis at {own_redis.url} answers again after" in log
        assert len(counts) == len(urls), f"{len(urls) - len(counts)} pages never fetched"
        # a pop whose answer was lost with Redis leaves its entries leased to a process that never
        # heard of them: they are queued again when it is idle, so at most one pop's worth twice
        assert sum(n - 1 for n in counts.values()) <= 4, counts
        assert_archived_once(archive, urls)
    else:
        assert process.returncode == 1, log[-4000:]
        [(status, reason)] = rows(archive, "SELECT status, reason FROM crawl_runs")
        assert status == "failed" and "is gone from Redis (restarted without its data?)" in reason, reason


def test_a_worker_whose_frontier_is_lost_exits_1_in_one_line(tmp_path, own_redis):
    """`archive recrawl --worker` waiting for runs when Redis goes: it waits
    FRONTIER_OUTAGE_LIMIT seconds like a crawl, then exits 1 naming Redis (it logged the error
    and exited 0 before)."""
    urls, seeds = make_web(tmp_path, 4)
    with CountingMirror(tmp_path / "web") as mirror:
        worker = crawl(mirror, seeds, tmp_path / "archive.db", "worker-lost", "-s", f"FRONTIER_URL={own_redis.url}",
                       "-s", "FRONTIER_OUTAGE_LIMIT=2", command=("-m", "crawler.cli", "recrawl", "--worker", "--wait", "60"))
        polling_for_runs(own_redis.url)  # not a fixed sleep: a busy machine started it later than that
        own_redis.kill()
        worker.wait(timeout=60)
    log = read_log(worker)
    assert worker.returncode == 1, log[-3000:]
    assert f"Redis at {own_redis.url} did not answer for 2 s" in log.splitlines()[-1] and "Traceback" not in log, log


def test_a_worker_whose_redis_goes_between_its_check_and_its_start_is_one_line(tmp_path, frontier, monkeypatch,
                                                                               capsys):
    """Redis checked at start-up (commands/startup.py), then gone when the worker connects to
    it, after the archive's migrations: one line and exit 2, as a Redis away at the check (it
    was a traceback)."""
    from crawler.frontier import worker
    from crawler.frontier.run import FrontierUnavailable
    from crawler.recrawl import RecrawlOptions, run

    def gone(url: str) -> None:
        raise FrontierUnavailable(f"FRONTIER_URL {url}: cannot reach Redis: Connection refused")

    monkeypatch.setattr(worker, "connect", gone)
    status = run(RecrawlOptions(archive=str(tmp_path / "archive.db"), worker=True, wait=1,
                                settings={"MIRROR_URL": "bundled", "FRONTIER_URL": REDIS_URL}))
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and line == f"archive recrawl: FRONTIER_URL {REDIS_URL}: cannot reach Redis: Connection refused"


def polling_for_runs(url: str) -> None:
    """Until a worker on this Redis has looked for live runs (live_runs: SCAN), so is past its start."""
    server, deadline = redis.Redis.from_url(url), time.monotonic() + 60
    while not server.info("commandstats").get("cmdstat_scan", {}).get("calls") and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize(("config", "message"), [
    ({"maxmemory": "100mb", "maxmemory-policy": "allkeys-lru"},
     "this Redis evicts keys when it is full (maxmemory 100.00M, maxmemory-policy allkeys-lru), and evicted keys are "
     "queued URLs lost without a word: set maxmemory-policy noeviction"),
    # volatile-* evicts only keys with a TTL: the heartbeats and the hosts' politeness delays
    ({"maxmemory": "100mb", "maxmemory-policy": "volatile-lru"}, "maxmemory-policy volatile-lru"),
    ({"maxmemory-policy": "noeviction", "maxmemory": "1"}, "this Redis is full (used_memory "),
])
def test_a_redis_that_may_drop_or_refuse_the_frontier_is_one_line_at_start(tmp_path, own_redis, config, message):
    """An evicting Redis (a cache's usual policy) dropped the run's record or its queue under
    memory pressure; a full one refused the join's first write with a traceback."""
    server = redis.Redis.from_url(own_redis.url)
    for name, value in config.items():
        server.config_set(name, value)
    result = crawl_bundled_on(own_redis.url, tmp_path)
    assert result.returncode == 2, result.stderr[-3000:]
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"scrapy crawl sources: FRONTIER_URL {own_redis.url}: "), lines
    assert message in lines[0], lines[0]


@pytest.mark.parametrize(("memory", "evicts"), [
    ({"maxmemory": 0, "maxmemory_policy": "allkeys-lru"}, None),  # no limit: nothing is ever evicted
    ({"maxmemory": 1 << 20, "maxmemory_policy": "noeviction"}, None),
    ({"maxmemory": 1 << 20, "maxmemory_human": "1.00M", "maxmemory_policy": "allkeys-random"},
     "maxmemory 1.00M, maxmemory-policy allkeys-random"),
])
def test_which_redis_settings_evict_keys(memory, evicts):
    assert evicts_keys(memory) == evicts


@pytest.mark.parametrize("freed", [False, True])
def test_a_redis_full_mid_crawl_is_waited_for_like_one_that_does_not_answer(tmp_path, own_redis, freed):
    """maxmemory reached mid-crawl (noeviction): Redis answers PINGs and refuses every write.
    The crawl waits for it like for one that went away: one WARNING; memory freed within
    FRONTIER_OUTAGE_LIMIT, it goes on and archives every page; not freed, one ERROR and exit 1.
    A refused write used to be raised as a bug, a traceback per call."""
    server = redis.Redis.from_url(own_redis.url)
    limit = 60 if freed else 2
    with crawling_on(own_redis, tmp_path, pages=40, limit=limit, served_first=8) as (urls, archive, mirror, process):
        server.config_set("maxmemory", "1")
        if freed:
            time.sleep(2)
            server.config_set("maxmemory", "0")
        process.wait(timeout=180)
        counts = mirror.article_requests(urls)
    log = read_log(process)
    assert log.count(f"frontier: Redis at {own_redis.url} does not answer (command not allowed when used memory") == 1, \
        log[-4000:]
    assert "Traceback" not in log, log[-4000:]
    if freed:
        assert process.returncode == 0, log[-4000:]
        assert f"frontier: Redis at {own_redis.url} answers again after" in log
        assert len(counts) == len(urls), f"{len(urls) - len(counts)} pages never fetched"
        assert_archived_once(archive, urls)
    else:
        assert process.returncode == 1, log[-4000:]
        [(status, reason)] = rows(archive, "SELECT status, reason FROM crawl_runs")
        assert status == "failed" and "maxmemory" in reason and reason.endswith("(frontier_lost)"), reason
        stored = {mirror_path(url) for (url,) in rows(archive, "SELECT url FROM fetches")}
        assert set(counts) <= stored, "pages fetched and not stored"


def test_a_redis_that_denies_info_to_the_crawler_is_used_as_it_is(own_redis):
    """A managed Redis's ACL may deny INFO: nothing then tells whether it evicts, and the
    crawl starts as it did before the check."""
    redis.Redis.from_url(own_redis.url).acl_setuser("crawler", enabled=True, passwords=["+pw"],
                                                     commands=["+@all", "-info"], keys=["*"], channels=["*"])
    limited = own_redis.url.replace("redis://", "redis://crawler:pw@")
    with pytest.raises(redis.exceptions.NoPermissionError):
        redis.Redis.from_url(limited).info("memory")
    connect(limited).close()
