"""A WARC writer in its own process, so writing never competes with the crawl for the
GIL. This module imports only warcio: the process starts fast.

Exchanges are sent in small chunks, one inter-process call per chunk: a call per
exchange kept the executor's threads busy enough to slow a 304 re-crawl by ~1 ms a
page (bench/recrawl.py).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from multiprocessing.connection import wait
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from .writer import Exchange, RecordRef, WarcWriter

CHUNK = 32

_writer: WarcWriter | None = None  # the writer process's own


def _open(directory: str, max_size: int, prefix: str) -> None:
    global _writer
    _writer = WarcWriter(directory, max_size=max_size, prefix=prefix)
    threading.Thread(target=_exit_with_parent, name="parent-watch", daemon=True).start()


def _exit_with_parent() -> None:
    """A crawl killed with SIGKILL must not leave its writer behind: the executor's queue
    keeps a pipe open in this process, so it would never read EOF and never exit."""
    wait([multiprocessing.parent_process().sentinel])
    os._exit(1)  # a torn last record is rolled back by the next writer


def _write_all(exchanges: list[Exchange]) -> list[RecordRef]:
    return [_writer.write_exchange(exchange) for exchange in exchanges]


def _close() -> None:
    _writer.close()


class WriterProcess:
    """Records are written in submission order by one process; ``write`` returns a future,
    resolved once its chunk is written (``send`` ships a partial chunk)."""

    def __init__(self, directory: str | Path, max_size: int, prefix: str):
        # spawn: forking a process that runs a Twisted reactor is not safe
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_open, initargs=(str(directory), max_size, prefix))
        self.pending: list[tuple[Exchange, Future]] = []
        self.lock = threading.Lock()

    def write(self, exchange: Exchange) -> Future:
        future: Future = Future()
        with self.lock:
            self.pending.append((exchange, future))
            full = len(self.pending) >= CHUNK
        if full:
            self.send()
        return future

    def send(self) -> None:
        with self.lock:
            chunk, self.pending = self.pending, []
        if chunk:
            self.pool.submit(_write_all, [exchange for exchange, _ in chunk]).add_done_callback(
                lambda done: _resolve(done, [future for _, future in chunk]))

    def close(self) -> None:
        """After every queued record: finish the current file, stop the process."""
        self.send()
        self.pool.submit(_close).result()
        self.pool.shutdown(wait=True)


def _resolve(done: Future, futures: list[Future]) -> None:
    error = done.exception()
    for index, future in enumerate(futures):
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(done.result()[index])
