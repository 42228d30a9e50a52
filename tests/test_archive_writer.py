"""The crawl's archive writes run on one thread of their own, in the order submitted
(crawler/archive/writer.py): the reactor goes on while a batch is stored."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest
from sqlalchemy import create_engine

from crawler.archive.writer import ArchiveWriter


def test_writes_run_off_the_calling_thread_in_submission_order(tmp_path):
    writer = ArchiveWriter(create_engine(f"sqlite:///{tmp_path / 'a.db'}"))
    done: list[int] = []

    def write(number: int) -> str:
        time.sleep(0.02 if number == 0 else 0)  # the first is the slowest: it must still finish first
        done.append(number)
        return threading.current_thread().name

    async def crawl() -> list[str]:
        return await asyncio.gather(*(writer.run(write, n) for n in range(5)))

    try:
        threads = asyncio.run(crawl())
    finally:
        writer.close()
    assert done == [0, 1, 2, 3, 4]
    assert {name.split("_")[0] for name in threads} == {"archive-writer"}


def test_a_write_error_reaches_the_awaiting_coroutine(tmp_path):
    writer = ArchiveWriter(create_engine(f"sqlite:///{tmp_path / 'a.db'}"))

    def fail() -> None:
        raise OSError("disk full")

    try:
        with pytest.raises(OSError, match="disk full"):
            asyncio.run(writer.run(fail))
    finally:
        writer.close()


@pytest.mark.parametrize("engine", [None, create_engine("sqlite://")], ids=["no archive", "in-memory SQLite"])
def test_an_in_memory_archive_is_written_inline(engine):
    # one connection per thread: another thread would write to another, empty database
    writer = ArchiveWriter(engine)
    assert asyncio.run(writer.run(threading.current_thread)) is threading.main_thread()
    writer.close()
