"""The run lock of a PostgreSQL archive: an advisory lock in the server, for seeders on
several hosts (issue 13), where a local lock file locks nothing."""

from __future__ import annotations

import hashlib
import os
import socket
from datetime import timezone
from typing import Any

from .lock import AlreadyRunning, LockUnavailable

# The lock session's server-side TCP keepalives (seconds): when the holder's host dies
# (no FIN, no RST), the server drops the session, and the lock, after idle + count x
# interval = 2 minutes instead of the kernel's default 2 hours.
KEEPALIVE_IDLE, KEEPALIVE_INTERVAL, KEEPALIVE_COUNT = 60, 10, 6


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
