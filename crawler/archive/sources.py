"""The ``sources`` table, kept in step with the seeds (crawler/sources.py loads them).

One ``INSERT … ON CONFLICT (name) DO UPDATE``: crawler processes started at once on one
archive (issue 13) each refresh the same rows, and a read-then-insert let the second one
fail on the unique name.
"""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import Connection, Engine

from ..sources import Source
from .db import conflict_insert
from .models import SourceRow

REFRESHED = ("description", "language", "timezone", "domains")


def sync_sources(engine: Engine, sources: Iterable[Source]) -> None:
    """Insert the seeds' sources, or refresh the rows of those the archive has (one transaction)."""
    with engine.begin() as connection:
        sync_source_rows(connection, sources)


def sync_source_rows(connection: Connection, sources: Iterable[Source]) -> None:
    rows = [{"name": s.name, "description": s.description, "language": s.language, "timezone": s.timezone,
             "domains": list(s.domains)} for s in sources]
    if not rows:
        return
    statement = conflict_insert(connection.dialect.name, SourceRow).values(rows)
    connection.execute(statement.on_conflict_do_update(
        index_elements=[SourceRow.name], set_={c: statement.excluded[c] for c in REFRESHED}))
