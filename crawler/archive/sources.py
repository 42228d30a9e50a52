"""The ``sources`` table, kept in step with the seeds (crawler/sources.py loads them)."""

from __future__ import annotations

from typing import Iterable

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from ..sources import Source
from .models import SourceRow


def sync_sources(engine: Engine, sources: Iterable[Source]) -> None:
    """Insert or refresh the sources table from the seeds."""
    with Session(engine) as session, session.begin():
        existing = {row.name: row for row in session.scalars(select(SourceRow))}
        for source in sources:
            row = existing.get(source.name) or SourceRow(name=source.name)
            row.description = source.description
            row.language = source.language
            row.timezone = source.timezone
            row.domains = list(source.domains)
            session.add(row)
