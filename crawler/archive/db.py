"""Engines for the archive. SQLite-only tuning lives here and nowhere else."""

from __future__ import annotations

import json
import os
import re
import sqlite3
from pathlib import Path
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError
from sqlalchemy.sql.dml import Insert

DEFAULT_ARCHIVE_URL = "sqlite:///archive.db"
# Cron runs and ad-hoc SQL sessions share the file: wait for a writer, do not fail.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def conflict_insert(dialect_name: str, model: type) -> Insert:
    """The INSERT of the archive's dialect (PostgreSQL, else SQLite), which takes ON CONFLICT."""
    return (postgresql if dialect_name == "postgresql" else sqlite).insert(model)


def archive_url(setting: str | None = None) -> str:
    """The archive URL: Scrapy setting, else $ARCHIVE_URL, else ./archive.db."""
    return setting or os.environ.get("ARCHIVE_URL") or DEFAULT_ARCHIVE_URL


class ArchiveUrlError(ValueError):
    """ARCHIVE_URL names no archive this crawler can open; the message says which and why."""


def check_archive_url(url: str) -> None:
    """Raise ArchiveUrlError when ``url`` cannot be an archive: not a URL, a database
    SQLAlchemy does not know, a driver not installed, a SQLite file in no folder. Nothing
    is connected to; a server that does not answer is found out when the crawl opens it."""
    try:
        parsed = make_url(url)
        create_engine(parsed).dispose()
    except NoSuchModuleError:  # before ArgumentError, its base class
        raise ArchiveUrlError(f"ARCHIVE_URL {shown_url(url)}: unknown database {parsed.drivername!r}: "
                              "expected sqlite:/// or postgresql+psycopg://") from None
    except ArgumentError:
        raise ArchiveUrlError(f"ARCHIVE_URL {url!r} is not a database URL: expected e.g. sqlite:///archive.db "
                              "or postgresql+psycopg://user@host/db") from None
    except ImportError as exc:
        raise ArchiveUrlError(f"ARCHIVE_URL {shown_url(url)}: its driver is not installed ({exc}); the archive "
                              "runs on sqlite:/// or postgresql+psycopg:// (pip install -e '.[postgres]')") from None
    folder = Path(parsed.database).resolve().parent if _is_sqlite_file(parsed) else None
    if folder is not None and not folder.is_dir():
        raise ArchiveUrlError(f"ARCHIVE_URL {shown_url(url)}: the folder {folder} does not exist")


def shown_url(url: str) -> str:
    """The URL as it may be printed: without its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


def _is_sqlite_file(parsed) -> bool:  # noqa: ANN001 - a sqlalchemy URL
    return parsed.get_backend_name() == "sqlite" and bool(parsed.database) and parsed.database != ":memory:"


def _json(value: object) -> str:
    """UTF-8 JSON, so authors and tags read as text in any SQL client."""
    return json.dumps(value, ensure_ascii=False)


def default_warc_dir(url: str | None = None) -> Path:
    """Where the raw web goes by default: ``warc/`` beside a SQLite archive; for a server
    archive ``./warc/<host>-<database>`` (``-<schema>`` added when the URL sets a
    search_path), so two archives run from one folder never share WARC files (issue 13:
    ``archive cdxj`` of one indexed the other's captures)."""
    parsed = make_url(archive_url(url))
    if _is_sqlite_file(parsed):
        return Path(parsed.database).resolve().parent / "warc"
    if parsed.get_backend_name() == "sqlite":  # in memory: nothing to name it after
        return Path("warc")
    name = "-".join(filter(None, (parsed.host or "localhost", parsed.database, _search_path(parsed))))
    return Path("warc") / re.sub(r"[^\w.-]+", "_", name)


def _search_path(parsed) -> str | None:  # noqa: ANN001 - a sqlalchemy URL
    """The first schema of ``options=-csearch_path=…`` in a PostgreSQL URL, if any."""
    found = re.search(r"search_path\s*=\s*([^\s,]+)", str(parsed.query.get("options", "")))
    return found.group(1).strip('"') if found else None


def create_archive_engine(url: str | None = None, foreign_keys: bool = True, writer: bool = True) -> Engine:
    """An engine for the archive. ``foreign_keys=False`` is for migrations only: SQLite
    batch migrations copy and drop tables, which enforced foreign keys forbid.
    A ``writer`` takes SQLite's write lock when a transaction begins, so concurrent
    writers queue on the busy timeout instead of failing mid-transaction; readers
    (the CLI) begin deferred and never hold up a crawl."""
    parsed = make_url(archive_url(url))
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(parsed, json_serializer=_json)
        _tune_sqlite(engine, foreign_keys, writer)
        return engine
    # a server restarted under a crawl leaves its pooled connections dead: each is tested as
    # it is taken (one round trip per transaction) and replaced, rather than failing a write
    return create_engine(parsed, json_serializer=_json, pool_pre_ping=True)


def create_readonly_engine(url: str | None = None) -> Engine:
    """An engine that cannot write: SQLite opened read-only (``mode=ro``), PostgreSQL in
    read-only transactions. The ``archive`` readers use it, so reading never changes an
    archive, nor needs a writable folder."""
    parsed = make_url(archive_url(url))
    if parsed.get_backend_name() != "sqlite":
        engine = create_engine(parsed, json_serializer=_json)

        @event.listens_for(engine, "begin")
        def read_only(connection):  # noqa: ANN001
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        return engine
    if parsed.database in (None, "", ":memory:"):
        return create_archive_engine(url, writer=False)
    uri = sqlite_readonly_uri(Path(parsed.database))
    engine = create_engine(parsed, json_serializer=_json,
                           creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False))
    _tune_sqlite(engine, foreign_keys=True, writer=False, readonly=True)
    return engine


def sqlite_readonly_uri(path: Path) -> str:
    """``mode=ro`` reads a live archive beside a running crawl. In a folder we may not
    write to, a WAL database still opens read-only when its -wal and -shm files are there
    (SQLite >= 3.22; they hold the latest commits); without them SQLite cannot make its
    shared-memory file, and ``immutable=1`` is right: with no -wal nothing is pending,
    and nobody can be writing there (a writer would have made the -wal)."""
    sealed = not os.access(path.parent, os.W_OK) and not Path(f"{path}-wal").exists()
    return f"file:{quote(str(path.resolve()))}?{'immutable=1' if sealed else 'mode=ro'}"


def _tune_sqlite(engine: Engine, foreign_keys: bool, writer: bool, readonly: bool = False) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection, _record):  # noqa: ANN001
        # Let SQLAlchemy, not pysqlite, emit BEGIN so SAVEPOINTs work (SQLAlchemy
        # docs, "Serializable isolation / Savepoints / Transactional DDL").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # setting the journal mode is a write; a reader takes the file as it is
        cursor.execute("PRAGMA query_only=ON" if readonly else "PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA foreign_keys={'ON' if foreign_keys else 'OFF'}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if writer and foreign_keys:
            # A crawl's batch is stored in a savepoint, whose statement journal SQLite would
            # otherwise write to a file in its temporary directory (/var/tmp, $SQLITE_TMPDIR):
            # a full one there stopped the crawl as "out of space: could not write the archive",
            # naming a disk with room. A batch's journal is a few hundred pages; a migration
            # (foreign_keys off) may rewrite whole tables in one transaction, and keeps files.
            cursor.execute("PRAGMA temp_store=MEMORY")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection):  # noqa: ANN001
        connection.exec_driver_sql("BEGIN IMMEDIATE" if writer else "BEGIN")
