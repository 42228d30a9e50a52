"""Bring an archive's schema to the newest Alembic revision, from Python.

Alembic is imported only when a migration runs: every crawl and every `archive`
command opens the archive, and an up-to-date one needs no more than a one-row read.
"""

from __future__ import annotations

import logging
import re
import sqlite3
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import DBAPIError

from .db import create_archive_engine, sqlite_readonly_uri

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = PROJECT_ROOT / "migrations"
# Alembic's plugin set-up (seven INFO lines per new archive) tells a crawl log's reader
# nothing; the revisions it runs are still logged.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
REVISION_LINE = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?([\w]+)?['\"]?", re.MULTILINE)
# pg_advisory_xact_lock key taken by every migration of a PostgreSQL archive ("newsarch" in
# ASCII). One key per database, not per schema: 0009 installs the unaccent extension, which
# is database-wide, and two CREATE EXTENSIONs at once collide like two CREATE TABLEs do.
MIGRATION_LOCK_KEY = int.from_bytes(b"newsarch", "big")


def alembic_config():  # noqa: ANN201
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@lru_cache(maxsize=1)
def revisions() -> tuple[str, ...]:
    """Every revision, oldest first, read from the migration files."""
    parent_of = {}
    for path in (MIGRATIONS / "versions").glob("*.py"):
        fields = dict(REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        parent = fields.get("down_revision")
        parent_of[fields["revision"]] = parent if parent and parent != "None" else None
    child_of = {parent: revision for revision, parent in parent_of.items()}
    chain: list[str] = []
    while (child := child_of.get(chain[-1] if chain else None)) is not None:
        chain.append(child)
    return tuple(chain)


def head_revision() -> str:
    """The newest revision (the one no other revision follows)."""
    return revisions()[-1]


def current_revision(engine: Engine) -> str | None:
    """The database's revision; None when it has none (a new database). One read."""
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:  # no alembic_version table: a new database
        return None
    return versions[0] if len(versions) == 1 else None


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision (one read; no schema inspection)."""
    return current_revision(engine) == head_revision()


class SchemaNotCurrent(Exception):
    """The archive's schema is not the one this code reads; the message says what to do."""


def check_current(engine: Engine, name: str) -> None:
    """Raise SchemaNotCurrent, saying how to fix it, unless ``engine``'s archive is at head.
    Readers call this instead of migrating: reading never changes an archive."""
    revision, head = current_revision(engine), head_revision()
    if revision == head:
        return
    if revision is not None and revision not in revisions():
        raise SchemaNotCurrent(f"{name} has schema revision {revision}, newer than this crawler knows "
                               f"(its newest is {head}): update the crawler to read it")
    raise SchemaNotCurrent(f"{name} has schema revision {revision or '(none)'}, older than this crawler's {head}: "
                           f"run `archive upgrade` (it backs the archive up first), then try again")


def backup_sqlite(path: Path, revision: str | None) -> Path:
    """A consistent copy of a live SQLite archive, next to it, named for its revision and
    the time: ``<archive>.backup-<revision>-<UTC timestamp>`` (sqlite3's online backup API,
    so a crawl writing meanwhile neither blocks it nor tears the copy)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    target = path.with_name(f"{path.name}.backup-{revision or 'none'}-{stamp}")
    source = sqlite3.connect(sqlite_readonly_uri(path), uri=True)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
    finally:
        copy.close()
        source.close()
    return target


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema in one transaction (a new user never runs alembic)."""
    if revision == "head" and is_current(engine):
        return
    from alembic import command

    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    _run(engine, command.downgrade, revision)


def lock_migrations(connection: Connection) -> None:
    """On PostgreSQL, wait for the advisory lock of migrations, held until the caller's
    transaction ends (migrations/env.py takes it before Alembic reads the revision):
    simultaneous first runs on an empty database (several crawler hosts started at once)
    wait for each other, and the later ones find the schema made (issue 13; without it:
    ``UniqueViolation … pg_type_typname_nsp_index``). SQLite needs none: the migration's
    BEGIN IMMEDIATE already queues every other writer."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def _run(engine: Engine, step, revision: str) -> None:  # noqa: ANN001
    config = alembic_config()
    migration_engine = create_archive_engine(engine.url.render_as_string(hide_password=False), foreign_keys=False)
    try:
        with migration_engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)
    finally:
        migration_engine.dispose()
