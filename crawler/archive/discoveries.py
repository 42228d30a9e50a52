"""Where article URLs were found (feeds, sitemaps, listings, citing pages)."""

from __future__ import annotations

from typing import Sequence

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from .models import Discovery, SourceRow
from .records import DiscoveryRecord


def record_discoveries(engine: Engine, records: Sequence[DiscoveryRecord]) -> None:
    """Remember where URLs were found; a URL seen again on the same page is touched, not duplicated."""
    with Session(engine) as session, session.begin():
        source_ids = dict(session.execute(select(SourceRow.name, SourceRow.id)).all())
        for record in records:
            row = session.scalar(select(Discovery).where(Discovery.url == record.url,
                                                         Discovery.found_on == record.found_on))
            if row is None:
                row = Discovery(source_id=source_ids[record.source], url=record.url, method=record.method,
                                found_on=record.found_on, first_seen_at=record.found_at)
                session.add(row)
            row.last_seen_at, row.crawl_run_id = record.found_at, record.crawl_run_id
            row.published_at = record.published_at or row.published_at
            row.guid, row.title = record.guid or row.guid, record.title or row.title
