"""A WARC writer in its own process, so writing never competes with the crawl for the
GIL. This module imports only warcio and libdeflate: the process starts fast.

Exchanges are sent in chunks, one inter-process call per chunk: a call per exchange
kept the executor's threads busy enough to slow a 304 re-crawl by ~1 ms a page
(bench/recrawl.py). A chunk goes when it is full, when a reader needs one of its records'
places (``RecordFuture.send``: the archive pipeline storing a batch), or when its timer
runs out, whichever comes first. Each chunk wakes the writer process and the executor's
threads, and on this VM a wake-up costs tens of µs of CPU and then cold caches: a 50 ms
timer alone made chunks of 2-3 exchanges, which cost the writer process ~0.1-0.2 ms a page
more than the ~25 it now gets (bench/README section 3).
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from multiprocessing.connection import wait
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable

from ..spawn import spawn_context
from .writer import Exchange, RecordRef, WarcWriter

logger = logging.getLogger(__name__)
CHUNK = 32
# Writer processes started again after one died; one that keeps dying is not going to write.
RESTARTS = 3
OnError = Callable[[BaseException, int], None]

_writer: WarcWriter | None = None  # the writer process's own


def _open(directory: str, max_size: int, prefix: str) -> None:
    global _writer
    # The crawl logs to stderr, which this process shares: its warnings (a dead writer's file
    # repaired) go there alike, in Scrapy's LOG_FORMAT. It has nothing to say below WARNING.
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s [%(name)s] %(levelname)s: %(message)s",
                        datefmt="%Y-%m-%d %H:%M:%S")
    _writer = WarcWriter(directory, max_size=max_size, prefix=prefix)
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()


def _exit_with_parent() -> None:
    """A crawl killed with SIGKILL must not leave its writer behind: the executor's queue
    keeps a pipe open in this process, so it would never read EOF and never exit."""
    wait([multiprocessing.parent_process().sentinel])
    try:
        _writer.close()  # after the write in progress, if any: the file ends on a whole record
    finally:
        os._exit(1)


def _write_all(exchanges: list[Exchange]) -> list[RecordRef]:
    return [_writer.write_exchange(exchange) for exchange in exchanges]


def _close() -> None:
    _writer.close()


class RecordFuture(Future):
    """Where a record lies, once written. Pending: its exchange waits in the partial chunk;
    running: the chunk is with the writer process; done: written (or failed)."""

    def __init__(self, writer: WriterProcess):
        super().__init__()
        self._writer = writer

    def send(self) -> None:
        """Ship the partial chunk this record waits in, for a reader that needs its place now."""
        if not (self.running() or self.done()):
            self._writer.send()


class WriterProcess:
    """Records are written in submission order by one process; ``write`` returns a future,
    resolved once its chunk is written (``send`` ships a partial chunk). A chunk that
    could not be written fails its futures and is reported to ``on_error`` (exception,
    number of exchanges lost), from the executor's thread. A writer process that died
    (killed, out of memory) is replaced, up to RESTARTS times: the chunks it had are lost,
    the crawl's later pages are not, and the new writer closes the dead one's file."""

    def __init__(self, directory: str | Path, max_size: int, prefix: str, on_error: OnError | None = None):
        self.writer_args = (str(directory), max_size, prefix)
        self.pool = self._start()
        self.restarts = 0
        self.pending: list[tuple[Exchange, Future]] = []
        self.chunk_number = 0  # of the chunk being filled
        self.lock = threading.Lock()
        self.on_error = on_error or (lambda error, count: None)

    def _start(self) -> ProcessPoolExecutor:
        # spawned (crawler/spawn.py): forking a process that runs a Twisted reactor is not safe
        return ProcessPoolExecutor(max_workers=1, mp_context=spawn_context(),
                                   initializer=_open, initargs=self.writer_args)

    def write(self, exchange: Exchange) -> RecordFuture:
        future = RecordFuture(self)
        with self.lock:
            self.pending.append((exchange, future))
            full = len(self.pending) >= CHUNK
        if full:
            self.send()
        return future

    def send(self, chunk_number: int | None = None) -> None:
        """Ship the partial chunk; with ``chunk_number``, only if that chunk is still the one
        being filled (a timer set for a chunk that has gone since leaves the next one alone)."""
        with self.lock:
            if chunk_number is not None and chunk_number != self.chunk_number:
                return
            chunk, self.pending = self.pending, []
            if chunk:
                self.chunk_number += 1
        if not chunk:
            return
        futures = [future for _, future in chunk]
        for future in futures:
            future.set_running_or_notify_cancel()
        try:
            written = self._submit([exchange for exchange, _ in chunk])
        except RuntimeError as exc:  # BrokenProcessPool, once out of restarts
            self._fail(futures, exc)
        else:
            written.add_done_callback(lambda done: self._resolve(done, futures))

    def _submit(self, exchanges: list[Exchange]) -> Future:
        try:
            return self.pool.submit(_write_all, exchanges)
        except BrokenProcessPool as exc:
            if self.restarts >= RESTARTS:
                raise
            self.restarts += 1
            logger.warning("warc: the writer process died (%s); starting another (%d of %d)", exc, self.restarts,
                           RESTARTS)
            self.pool.shutdown(wait=False)
            self.pool = self._start()
            return self.pool.submit(_write_all, exchanges)

    def _resolve(self, done: Future, futures: list[Future]) -> None:
        error = done.exception()
        if error is not None:
            self._fail(futures, error)
            return
        for future, ref in zip(futures, done.result()):
            if not future.cancelled():  # an await given up (asyncio.wrap_future cancels): written all the same
                future.set_result(ref)

    def _fail(self, futures: list[Future], error: BaseException) -> None:
        for future in futures:
            if not future.cancelled():
                future.set_exception(error)
        self.on_error(error, len(futures))

    def close(self) -> None:
        """After every queued record: finish the current file, stop the process."""
        self.send()
        try:
            self.pool.submit(_close).result()
        except BrokenProcessPool:
            logger.warning("warc: the writer process died; the next writer closes its file")
        except OSError as exc:
            logger.error("warc: could not close the file being written: %s", exc)
        self.pool.shutdown(wait=True)
