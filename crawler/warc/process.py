"""A WARC writer in its own process, so writing never competes with the crawl for the
GIL. This module imports only warcio: the process starts fast."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

from .writer import Exchange, RecordRef, WarcWriter

_writer: WarcWriter | None = None  # the writer process's own


def _open(directory: str, max_size: int, prefix: str) -> None:
    global _writer
    _writer = WarcWriter(directory, max_size=max_size, prefix=prefix)


def _write(exchange: Exchange) -> RecordRef:
    return _writer.write_exchange(exchange)


def _close() -> None:
    _writer.close()


class WriterProcess:
    """Records are written in submission order by one process; ``write`` returns a future."""

    def __init__(self, directory: str | Path, max_size: int, prefix: str):
        # spawn: forking a process that runs a Twisted reactor is not safe
        self.pool = ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_open, initargs=(str(directory), max_size, prefix))

    def write(self, exchange: Exchange) -> Future:
        return self.pool.submit(_write, exchange)

    def close(self) -> None:
        """After every queued record: finish the current file, stop the process."""
        self.pool.submit(_close).result()
        self.pool.shutdown(wait=True)
