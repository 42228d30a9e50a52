"""Extraction in worker processes, so a crawl keeps both cores busy (issue 11: extraction
was 6.9 s of a 25.9 s crawl on the reactor thread while the other core idled).

Each worker is a one-process ``ProcessPoolExecutor`` of its own, started with spawn
(forking a process that runs a Twisted reactor is not safe). One executor per worker
tells which page a dead worker was on: a worker runs its pages in the order they were
sent, so the oldest unfinished one is the page it died on, and the others it held are
sent again to its replacement. Workers start on the first page (a 304 re-crawl extracts
nothing and never pays for them); pages are extracted inline until one is up, so the
crawl's first second is not spent waiting (and its first pages reach the archive early:
test_disk_full's shared 2 MB disk filled with WARC records before the first commit when
they waited). Nothing here imports Scrapy.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from typing import Callable

from ..dedup.fingerprint import fingerprint
from ..sources import ExtractionRules
from ..spawn import spawn_context
from .article import Article, NotAnArticle, extract_article, extract_short_article

logger = logging.getLogger(__name__)
# Pages sent to a worker ahead of the one it runs: it goes on while the reactor thread is
# busy (a store batch) instead of waiting for the result to be read. Also the memory
# bound: at most workers × DEPTH pages are on their way to or in the workers.
DEPTH = 2


@dataclass(frozen=True)
class Extraction:
    """What extraction made of a page, as plain data: a NotAnArticle's ``text`` and
    ``body_source`` do not survive pickling, so the worker applies the short-body rule."""

    article: Article | None
    # why the page holds no full article (NotAnArticle's message); None for a full article
    not_article: str | None = None
    # ``article`` is the short body the site's own selectors found (extract_short_article)
    short_body: bool = False


def extract_page(html: str, url: str, rules: ExtractionRules | None, short_rule: bool = True) -> Extraction:
    """extract_article, then (``short_rule``) the crawl's rule for a short body the site's
    selectors found. Other exceptions propagate: they are the caller's page error."""
    try:
        article = extract_article(html, url, rules)
    except NotAnArticle as exc:
        article = extract_short_article(html, url, rules) if short_rule and exc.body_source == "site" else None
        return Extraction(_fingerprinted(article), not_article=str(exc), short_body=article is not None)
    return Extraction(_fingerprinted(article))


def _fingerprinted(article: Article | None) -> Article | None:
    """The article with its content hash and SimHash computed here, in the worker: they
    travel with it to the store (issue 11: ~4 ms of the reactor thread per new article)."""
    if article is not None:
        fingerprint(article)
    return article


class WorkerDied(RuntimeError):
    """The worker process died (killed, out of memory, crashed) while on this page."""


def default_workers() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _warm_up() -> None:
    """The imports and first-use caches of an extraction, before a worker's first page."""
    try:
        extract_page("<html><head><title>t</title></head><body><p>warm</p></body></html>", "https://example.com/", None)
    except Exception:  # noqa: BLE001, S110 - what a page would do to the worker is that page's business
        pass


def _watch_parent() -> None:
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()


def _exit_with_parent() -> None:
    """A crawl killed with SIGKILL must not leave its workers behind: the executor's queue
    keeps a pipe open in the worker, so it would never read EOF and never exit."""
    wait([multiprocessing.parent_process().sentinel])
    os._exit(1)


@dataclass(eq=False)
class _Worker:
    executor: ProcessPoolExecutor
    # its first task, ahead of any page (_warm_up)
    warming: Future
    # pages sent and not yet answered, oldest first
    pending: list[Future] = field(default_factory=list)


class ExtractPool:
    """``await pool.extract(html, url, rules)`` -> Extraction, in a worker process; with
    ``workers=0`` inline, for debugging. ``function`` is what a worker runs (a test swaps it)."""

    def __init__(self, workers: int | None = None, function: Callable[..., Extraction] = extract_page):
        self.size = default_workers() if workers is None else workers
        self.function = function
        self.workers: list[_Worker] = []
        self.room: asyncio.Semaphore | None = None
        # pages whose worker died on them, until their caller is told
        self.lost: set[Future] = set()

    @property
    def capacity(self) -> int:
        """Pages worth having read for the workers: more would only wait in memory."""
        return max(1, self.size * DEPTH)

    async def extract(self, html: str, url: str, rules: ExtractionRules | None,
                      short_rule: bool = True) -> Extraction:
        if not self.workers and self.size:
            self._start()
        if not self.ready:  # never 0 workers, nor while they start: the crawl does not wait for them
            return self.function(html, url, rules, short_rule)
        async with self.room:
            while True:
                worker = min(self.workers, key=lambda w: len(w.pending))
                future = self._submit(worker, html, url, rules, short_rule)
                try:
                    return await asyncio.wrap_future(future)
                except BrokenProcessPool:
                    if future in worker.pending:  # the first of its pages to learn the worker died
                        self._replace(worker)
                    if future in self.lost:
                        self.lost.discard(future)
                        raise WorkerDied("the extraction worker died (killed or out of memory) on this page")
                finally:
                    if future in worker.pending:
                        worker.pending.remove(future)

    @property
    def ready(self) -> bool:
        """Whether a worker has started (a spawned worker takes ~1 s to import and warm up)."""
        return any(worker.warming.done() for worker in self.workers)

    def _start(self) -> None:
        self.workers = [_Worker(*self._executor()) for _ in range(self.size)]
        self.room = asyncio.Semaphore(self.size * DEPTH)
        logger.info("extract: %d worker process(es)", self.size)

    def _executor(self) -> tuple[ProcessPoolExecutor, Future]:
        """A worker process (started by its first task) and its warm-up."""
        executor = ProcessPoolExecutor(max_workers=1, mp_context=spawn_context(),
                                       initializer=_watch_parent)
        return executor, executor.submit(_warm_up)

    def _submit(self, worker: _Worker, *args) -> Future:
        try:
            future = worker.executor.submit(self.function, *args)
        except BrokenProcessPool:  # it died between pages: none of them was on it
            self._replace(worker)
            future = worker.executor.submit(self.function, *args)
        worker.pending.append(future)
        return future

    def _replace(self, worker: _Worker) -> None:
        """A new process for a dead one. The page it died on is its oldest unanswered one
        (a worker runs its pages in order); its other pages are sent again by their callers."""
        unanswered = [f for f in (worker.warming, *worker.pending)
                      if not f.done() or isinstance(f.exception(), BrokenProcessPool)]
        if unanswered and unanswered[0] is not worker.warming:  # else it died before its first page
            self.lost.add(unanswered[0])
        logger.warning("extract: a worker process died; starting another")
        worker.pending = []
        worker.executor.shutdown(wait=False)
        worker.executor, worker.warming = self._executor()

    def close(self) -> None:
        for worker in self.workers:
            worker.executor.shutdown(wait=True, cancel_futures=True)
        self.workers = []
