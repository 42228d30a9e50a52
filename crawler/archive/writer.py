"""The crawl's writes to the archive, on one thread of their own (issue 11).

A batch store held the reactor thread for its whole transaction (~100 ms for 50 new
articles at 100k archived, most of it in SQLite): no page was downloaded, parsed or handed
to an extraction worker meanwhile, so the workers ran dry after their two queued pages.
sqlite3 and psycopg release the GIL while the database works, so on a thread the store
overlaps with the crawl. One thread, so the writes keep the order they were submitted in
(a batch never overtakes an earlier one) and a crawl never holds SQLite's write lock twice:
a write on the reactor thread would wait for this thread's ``BEGIN IMMEDIATE`` and block
the crawl. An in-memory SQLite archive is one connection per thread: written inline.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, TypeVar

from sqlalchemy import Engine

T = TypeVar("T")


class ArchiveWriter:
    """``await writer.run(function, *args)``: ``function(*args)`` on the writer thread, in
    submission order; its result or exception comes back to the awaiting coroutine."""

    def __init__(self, engine: Engine | None):
        """``engine`` None: every write inline (a pipeline built without the crawl's archive, in tests)."""
        inline = engine is None or engine.dialect.name == "sqlite" and engine.url.database in (None, "", ":memory:")
        self.executor = None if inline else ThreadPoolExecutor(max_workers=1, thread_name_prefix="archive-writer")

    async def run(self, function: Callable[..., T], *args: object) -> T:
        if self.executor is None:
            return function(*args)
        return await asyncio.get_running_loop().run_in_executor(self.executor, function, *args)

    def close(self) -> None:
        """Wait for the writes submitted so far, then stop the thread."""
        if self.executor is not None:
            self.executor.shutdown(wait=True)
