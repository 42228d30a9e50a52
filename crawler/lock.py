"""Who is running: one scheduled run at a time, and whether a run's process still lives.

The run lock of a SQLite archive is an advisory lock file (flock), which the kernel drops
when its holder dies, so a lock left by a killed run never blocks the next one. A
PostgreSQL archive is shared by several hosts, where a local file locks nothing: its run
lock is a PostgreSQL advisory lock (:class:`ServerLock`), which the server drops when the
holding session ends, killed process and dead host included (crawler/advisory_lock.py).
A crawl run records its
:class:`Process` (host, pid, start time) so that the next run can tell a killed run
from a live one, even when the pid has been given to another process since.
"""

from __future__ import annotations

import fcntl
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .advisory_lock import ServerLock


class AlreadyRunning(RuntimeError):
    """Another run holds the lock; the message names its pid and start time."""


class LockUnavailable(OSError):
    """The lock file cannot be created (unwritable folder); the message says where and why."""


class RunLock:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.handle = None

    def acquire(self) -> RunLock:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(self.path, "a+", encoding="utf-8")  # noqa: SIM115 - held until release()
        except OSError as exc:
            raise LockUnavailable(f"cannot create the lock file {self.path}: {exc.strerror or exc}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            handle.close()
            raise AlreadyRunning(f"another run holds {self.path} ({holder}); this run exits") from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()} since {datetime.now(timezone.utc).isoformat(timespec='seconds')}\n")
        handle.flush()
        self.handle = handle
        return self

    def release(self) -> None:
        if self.handle is not None:
            fcntl.flock(self.handle, fcntl.LOCK_UN)
            self.handle.close()
            self.handle = None

    def __enter__(self) -> RunLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def run_lock(url: str, lock_file: str | Path | None) -> RunLock | ServerLock:
    """The recrawl lock of the archive at ``url``: in the server for PostgreSQL, else the
    lock file (``lock_file``, else ``<archive file>.lock``, else ``./archive.lock``)."""
    from sqlalchemy.engine import make_url

    from . import advisory_lock  # imports this module: not at the top

    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return advisory_lock.ServerLock(url)
    if lock_file:
        return RunLock(lock_file)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return RunLock(parsed.database + ".lock")
    return RunLock("archive.lock")


@dataclass(frozen=True)
class Process:
    """A process as a crawl run records it. ``start`` is its start time in clock ticks
    since boot (field 22 of /proc/<pid>/stat; None where there is no /proc): a pid
    reused by a later process has another start time."""

    host: str
    pid: int
    start: int | None

    @classmethod
    def current(cls) -> Process:
        return cls(socket.gethostname(), os.getpid(), process_start(os.getpid()))

    def is_alive(self) -> bool:
        """Whether this process still runs (call on its own host). A zombie is gone."""
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # it exists, under another user
        stat = _stat_fields(self.pid)
        if stat is None:  # no /proc: the pid exists, which is all we can tell
            return True
        return stat[0] != "Z" and (self.start is None or int(stat[19]) == self.start)


def process_start(pid: int) -> int | None:
    stat = _stat_fields(pid)
    return int(stat[19]) if stat else None


def _stat_fields(pid: int) -> list[str] | None:
    """/proc/<pid>/stat from field 3 (state) on; the command name before it may hold spaces."""
    try:
        with open(f"/proc/{pid}/stat", encoding="utf-8", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return None
