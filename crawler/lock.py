"""Who is running: one scheduled run at a time, and whether a run's process still lives.

The run lock of a SQLite archive is an advisory lock file (flock), which the kernel drops
when its holder dies, so a lock left by a killed run never blocks the next one. A
PostgreSQL archive is shared by several hosts, where a local file locks nothing: its run
lock is a PostgreSQL advisory lock (:class:`ServerLock`), which the server drops when the
holding session ends, killed process and dead host included. A crawl run records its
:class:`Process` (host, pid, start time) so that the next run can tell a killed run
from a live one, even when the pid has been given to another process since.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import socket
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

# The lock session's server-side TCP keepalives (seconds): when the holder's host dies
# (no FIN, no RST), the server drops the session, and the lock, after idle + count x
# interval = 2 minutes instead of the kernel's default 2 hours.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 60, 10, 6


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


class ServerLock:
    """The run lock of a PostgreSQL archive: a session-level advisory lock
    (``pg_try_advisory_lock``) held by a connection of its own for the whole run. The key
    is derived from the archive's schema (two archives in one database do not block each
    other); the session is named after its holder (host and pid), which is how the
    refusal names it."""

    def __init__(self, url: str):
        self.url = url
        self.connection: Any = None
        self.engine: Any = None

    def acquire(self) -> ServerLock:
        from sqlalchemy import create_engine, text
        from sqlalchemy.exc import SQLAlchemyError
        from sqlalchemy.pool import NullPool

        holder = f"archive recrawl {socket.gethostname()} pid {os.getpid()}"[:63]  # NAMEDATALEN - 1
        self.engine = create_engine(self.url, poolclass=NullPool, connect_args={"application_name": holder})
        try:
            self.connection = self.engine.connect()
            self.connection.execute(text(f"SET tcp_keepalives_idle = {KEEPALIVE_IDLE}; "
                                         f"SET tcp_keepalives_interval = {KEEPALIVE_INTERVAL}; "
                                         f"SET tcp_keepalives_count = {KEEPALIVE_COUNT}"))
            schema = self.connection.execute(text("SELECT current_schema()")).scalar()
            key = lock_key(f"archive recrawl {schema}")
            taken = self.connection.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}).scalar()
            held_by = None if taken else _advisory_lock_holder(self.connection, key)
            self.connection.commit()  # a session lock outlives the transaction; no transaction stays open
        except SQLAlchemyError as exc:
            self.release()
            cause = " ".join(str(getattr(exc, "orig", None) or exc).split())
            raise LockUnavailable(f"cannot take the recrawl lock in {_shown(self.url)}: {cause}") from None
        if not taken:
            self.release()
            raise AlreadyRunning(f"another run holds the recrawl lock of {_shown(self.url)} (PostgreSQL advisory "
                                 f"lock; {held_by or 'holder unknown'}); this run exits")
        return self

    def release(self) -> None:
        if self.connection is not None:
            self.connection.close()  # ends the session: the server releases its advisory locks
            self.connection = None
        if self.engine is not None:
            self.engine.dispose()
            self.engine = None

    def __enter__(self) -> ServerLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def run_lock(url: str, lock_file: str | Path | None) -> RunLock | ServerLock:
    """The recrawl lock of the archive at ``url``: in the server for PostgreSQL, else the
    lock file (``lock_file``, else ``<archive file>.lock``, else ``./archive.lock``)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return ServerLock(url)
    if lock_file:
        return RunLock(lock_file)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        return RunLock(parsed.database + ".lock")
    return RunLock("archive.lock")


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory lock key for ``name`` (Python's hash() is salted)."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def _advisory_lock_holder(connection: Any, key: int) -> str | None:
    """"<application_name> since <backend_start>" of the session holding ``key``, if visible.
    pg_locks shows a bigint key as classid (high 32 bits) and objid (low 32 bits)."""
    from sqlalchemy import text

    unsigned = key % (1 << 64)
    row = connection.execute(text(
        "SELECT a.application_name, a.client_addr, a.backend_start FROM pg_locks l "
        "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
        "AND l.classid::bigint = :high AND l.objid::bigint = :low AND l.objsubid = 1"),
        {"high": unsigned >> 32, "low": unsigned & 0xFFFFFFFF}).first()
    if row is None:
        return None
    since = row.backend_start.astimezone(timezone.utc).isoformat(timespec="seconds") if row.backend_start else "?"
    return f"{row.application_name or 'a session'} from {row.client_addr or 'local socket'} since {since}"


def _shown(url: str) -> str:
    from .archive.db import shown_url

    return shown_url(url)


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
