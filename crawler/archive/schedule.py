"""Which archived articles are due for a revisit (crawler/schedule.py's RevisitPolicy
sets ``next_visit_at`` when a visit is stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Iterable

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from .models import ArticleRow, SourceRow


def due_articles(engine: Engine, now: datetime, per_source: int,
                 sources: Iterable[str] | None = None) -> list[tuple[str, str]]:
    """(url, source) of articles due for a revisit, most overdue first, at most ``per_source`` each."""
    with Session(engine) as session:
        rows = session.execute(select(SourceRow.id, SourceRow.name)).all()
        wanted = [(i, n) for i, n in rows if sources is None or n in set(sources)]
        due: list[tuple[str, str]] = []
        for source_id, name in wanted:
            urls = session.scalars(select(ArticleRow.url).where(
                ArticleRow.source_id == source_id, ArticleRow.next_visit_at <= now)
                .order_by(ArticleRow.next_visit_at).limit(per_source))
            due.extend((url, name) for url in urls)
        return due
