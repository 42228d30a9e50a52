"""Bring an archive's schema to the newest Alembic revision, from Python.

Alembic is imported only when a migration runs: every crawl and every `archive`
command opens the archive, and an up-to-date one needs no more than a one-row read.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from .db import create_archive_engine

PROJECT_ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = PROJECT_ROOT / "migrations"
REVISION_LINE = re.compile(r"^(down_revision|revision)\s*=\s*['\"]?([\w]+)?['\"]?", re.MULTILINE)


def alembic_config():  # noqa: ANN201
    from alembic.config import Config

    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@lru_cache(maxsize=1)
def head_revision() -> str:
    """The newest revision, read from the migration files (the one no other revision follows)."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        fields = dict(REVISION_LINE.findall(path.read_text(encoding="utf-8")))
        revisions.add(fields["revision"])
        if fields.get("down_revision") and fields["down_revision"] != "None":
            parents.add(fields["down_revision"])
    (head,) = revisions - parents
    return head


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision (one read; no schema inspection)."""
    try:
        with engine.connect() as connection:
            versions = connection.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except DBAPIError:  # no alembic_version table: a new database
        return False
    return versions == [head_revision()]


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema in one transaction (a new user never runs alembic)."""
    if revision == "head" and is_current(engine):
        return
    from alembic import command

    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    _run(engine, command.downgrade, revision)


def _run(engine: Engine, step, revision: str) -> None:  # noqa: ANN001
    config = alembic_config()
    migration_engine = create_archive_engine(engine.url.render_as_string(hide_password=False), foreign_keys=False)
    try:
        with migration_engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)
    finally:
        migration_engine.dispose()
