"""The archive's verbs. Each public method is one transaction.

Versioning rule: a fetch whose extracted content (title, authors, dates, summary,
text) hashes the same as the article's newest version adds a fetch row and no
version; anything else adds version n+1.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Iterable, Sequence

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from ..extract import Article
from ..extract.text import content_hash
from ..extract.urls import canonicalize_url
from ..sources import Source
from .db import create_archive_engine
from .migrate import upgrade
from .models import ArticleRow, ArticleVersion, CrawlRun, Fetch, SourceRow

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class FetchRecord:
    """What one visit produced, as plain data: the pipeline's input to the archive."""

    url: str
    source: str
    fetched_at: datetime
    http_status: int | None = None
    article: Article | None = None
    outcome: str | None = None  # set for visits that produced no article: error, skipped
    error: str | None = None
    crawl_run_id: int | None = None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def version_hash(article: Article) -> str:
    dates = [d.isoformat() if d else "" for d in (article.published_at, article.modified_at)]
    return content_hash(article.title, "\n".join(article.authors), *dates, article.summary, article.text)


class Archive:
    """An archive database: open it with :meth:`open`, which also migrates it."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.session = sessionmaker(engine, expire_on_commit=False)

    @classmethod
    def open(cls, url: str | None = None) -> Archive:
        engine = create_archive_engine(url)
        upgrade(engine)
        return cls(engine)

    def close(self) -> None:
        self.engine.dispose()

    # -- sources and runs -------------------------------------------------

    def sync_sources(self, sources: Iterable[Source]) -> None:
        """Insert or refresh the sources table from the seeds."""
        with self.session.begin() as session:
            existing = {row.name: row for row in session.scalars(select(SourceRow))}
            for source in sources:
                row = existing.get(source.name) or SourceRow(name=source.name)
                row.description = source.description
                row.language = source.language
                row.timezone = source.timezone
                row.domains = list(source.domains)
                session.add(row)

    def start_run(self, spider: str, args: dict[str, Any] | None = None) -> int:
        with self.session.begin() as session:
            run = CrawlRun(spider=spider, started_at=utcnow(), status="running", args=args or {})
            session.add(run)
            session.flush()
            return run.id

    def finish_run(self, run_id: int, status: str, stats: dict[str, Any]) -> None:
        with self.session.begin() as session:
            run = session.get(CrawlRun, run_id)
            run.finished_at = utcnow()
            run.status = status
            run.stats = stats

    # -- fetches and versions ---------------------------------------------

    def record_fetch(self, record: FetchRecord) -> str:
        """Store one visit; returns its outcome."""
        return self.record_fetches([record])[0]

    def record_fetches(self, records: Sequence[FetchRecord]) -> list[str]:
        """Store a batch of visits in one transaction, one savepoint each.

        A record that fails (bad data) is rolled back alone and stored as an
        ``error`` fetch naming the problem, so the rest of the batch is kept.
        """
        outcomes = []
        with self.session.begin() as session:
            source_ids = dict(session.execute(select(SourceRow.name, SourceRow.id)).all())
            for record in records:
                try:
                    with session.begin_nested():
                        outcomes.append(self._store(session, source_ids, record))
                except (SQLAlchemyError, ValueError, TypeError, KeyError) as exc:
                    exc = getattr(exc, "orig", None) or exc  # the cause, not the SQL statement
                    logger.error("archive: could not store %s: %s", record.url, exc)
                    with session.begin_nested():
                        session.add(Fetch(
                            crawl_run_id=record.crawl_run_id, url=record.url, fetched_at=record.fetched_at,
                            http_status=record.http_status, outcome="error",
                            error=f"archive rejected the extracted article: {exc}"))
                    outcomes.append("error")
        return outcomes

    def _store(self, session: Session, source_ids: dict[str, int], record: FetchRecord) -> str:
        fetch = Fetch(crawl_run_id=record.crawl_run_id, url=record.url, fetched_at=record.fetched_at,
                      http_status=record.http_status, error=record.error)
        if record.article is None:
            fetch.outcome = record.outcome or "error"
            fetch.article_id = session.scalar(select(ArticleRow.id).where(ArticleRow.url == canonicalize_url(record.url)))
            session.add(fetch)
            return fetch.outcome
        if record.source not in source_ids:
            raise KeyError(f"unknown source {record.source!r}; sources are {sorted(source_ids)}")
        article = record.article
        row = session.scalar(select(ArticleRow).where(ArticleRow.url == article.url))
        if row is None:
            row = ArticleRow(source_id=source_ids[record.source], url=article.url,
                             first_seen_at=record.fetched_at, last_changed_at=record.fetched_at,
                             last_fetched_at=record.fetched_at)
            session.add(row)
            session.flush()
        latest = self._latest_version(session, row.id)
        digest = version_hash(article)
        row.last_fetched_at = max(row.last_fetched_at, record.fetched_at)
        if latest is not None and latest.content_hash == digest:
            fetch.outcome, fetch.version_id = "unchanged", latest.id
        else:
            version = _version_row(article, digest, row.id, (latest.version if latest else 0) + 1, record.fetched_at)
            session.add(version)
            session.flush()
            row.last_changed_at = record.fetched_at
            fetch.outcome, fetch.version_id = ("changed" if latest else "new"), version.id
        fetch.article_id = row.id
        session.add(fetch)
        return fetch.outcome

    @staticmethod
    def _latest_version(session: Session, article_id: int) -> ArticleVersion | None:
        return session.scalar(select(ArticleVersion).where(ArticleVersion.article_id == article_id)
                              .order_by(ArticleVersion.version.desc()).limit(1))

    # -- reading ------------------------------------------------------------

    def versions_of(self, url: str) -> list[ArticleVersion]:
        """All versions of the article stored under ``url`` (canonicalised), oldest first."""
        with self.session() as session:
            return list(session.scalars(
                select(ArticleVersion).join(ArticleRow).where(ArticleRow.url == canonicalize_url(url))
                .order_by(ArticleVersion.version)))

    def count(self, model: type) -> int:
        with self.session() as session:
            return session.scalar(select(func.count()).select_from(model))


def _version_row(article: Article, digest: str, article_id: int, number: int, fetched_at: datetime) -> ArticleVersion:
    return ArticleVersion(
        article_id=article_id, version=number, fetched_at=fetched_at, title=article.title,
        authors=list(article.authors), published_at=article.published_at, modified_at=article.modified_at,
        language=article.language, section=article.section, tags=list(article.tags),
        summary=article.summary, text=article.text, cited_url=article.cited_url, content_hash=digest,
    )
