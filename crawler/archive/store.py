"""The archive's verbs. Each public method is one transaction.

Versioning rules (README "Versioning rules"):
- a visit whose normalised content (title, authors, dates, summary, text) hashes the
  same as the newest version adds a fetch and no version; anything else adds n+1;
- a return to an earlier state is a new version with ``same_as_version`` set;
- 304, or a raw body identical to the last one, is logged without extraction;
- 404/410 on a known article marks it gone (versions kept); a later 200 clears that;
- errors add a fetch row and change nothing else;
- junk never becomes a version of a known article: text found only by the generic
  fallback is skipped for it; a short body its source's selectors did find is a version
  (a retraction), though never a new article; a page whose canonical link names an
  archived article with other text is kept as an article of its own.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from functools import lru_cache
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from sqlalchemy import Engine, Row, bindparam, func, select
from sqlalchemy.orm import Session, sessionmaker

from ..dedup.fingerprint import fingerprint
from ..extract import Article
from ..lock import Process
from ..urls import canonicalize_url
from ..sources import Source, load_sources, source_for_url
from .db import create_archive_engine, create_readonly_engine, default_warc_dir
from .migrate import check_current, upgrade
from ..schedule import RevisitPolicy
from .records import DiscoveryRecord, FetchRecord
from .visits import Stored, pick_article, save_reextraction, store_visits
from .models import (
    ArticleLink, ArticleRow, ArticleUrl, ArticleVersion, CrawlRun, Discovery, SourceRow,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Validators:
    """What a conditional re-fetch of a known article needs, and its last full capture."""

    article_id: int
    url: str
    etag: str | None
    last_modified: str | None
    raw_hash: str | None
    capture_record_id: str | None = None
    capture_url: str | None = None
    capture_date: str | None = None
    capture_digest: str | None = None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Archive:
    """An archive database: open it with :meth:`open`, which also migrates it."""

    def __init__(self, engine: Engine, sources: dict[str, Source] | None = None,
                 policy: RevisitPolicy | None = None, warc_dir: str | Path | None = None):
        self.engine = engine
        # where this archive's raw web (WARC files) lives
        self.warc_dir = Path(warc_dir) if warc_dir else default_warc_dir(engine.url.render_as_string(hide_password=False))
        self.session = sessionmaker(engine, expire_on_commit=False)
        # each source's URL rules (host aliases, slashes) apply when looking URLs up
        self.sources = load_sources() if sources is None else sources
        self.policy = policy or RevisitPolicy()
        self._reader: Engine | None = None
        # the lookup forms of a URL, computed once per URL (every request and visit asks)
        self.url_forms = lru_cache(maxsize=65536)(lambda url: tuple(_url_forms(url, self.sources)))

    @classmethod
    def open(cls, url: str | None = None, readonly: bool = False, sources: dict[str, Source] | None = None,
             policy: RevisitPolicy | None = None, warc_dir: str | Path | None = None) -> Archive:
        """Open an archive. A writer (a crawl) creates or migrates it; ``readonly`` opens it
        so that nothing can be written, and raises SchemaNotCurrent (never migrates) when
        its schema is not this code's."""
        if not readonly:
            engine = create_archive_engine(url)
            upgrade(engine)  # a no-op read when the schema is current
            return cls(engine, sources, policy, warc_dir)
        engine = create_readonly_engine(url)
        try:
            check_current(engine, display_name(engine))
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, sources, policy, warc_dir)

    def close(self) -> None:
        self.engine.dispose()
        if self._reader is not None:
            self._reader.dispose()

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

    def start_run(self, spider: str, args: dict[str, Any] | None = None, process: Process | None = None) -> int:
        """A new 'running' run, owned by ``process`` (default: this one)."""
        process = process or Process.current()
        with self.session.begin() as session:
            run = CrawlRun(spider=spider, started_at=utcnow(), status="running", args=args or {},
                           host=process.host, pid=process.pid, pid_start=process.start)
            session.add(run)
            session.flush()
            return run.id

    def finish_run(self, run_id: int, status: str, stats: dict[str, Any], reason: str | None = None) -> None:
        with self.session.begin() as session:
            run = session.get(CrawlRun, run_id)
            run.finished_at = utcnow()
            run.status = status
            run.stats = stats
            run.reason = reason

    def interrupt_stale_runs(self, host: str | None = None) -> list[int]:
        """Mark 'interrupted' the running runs of this host whose process is gone (killed);
        a live process's run, another host's, and one recorded without a process are left alone.
        Returns the ids marked."""
        host = host or Process.current().host
        with self.session.begin() as session:
            running = session.scalars(select(CrawlRun).where(
                CrawlRun.status == "running", CrawlRun.host == host, CrawlRun.pid.is_not(None)))
            stale = [run for run in running if not Process(run.host, run.pid, run.pid_start).is_alive()]
            for run in stale:
                run.status, run.finished_at = "interrupted", utcnow()
                run.reason = f"process {run.pid} on {run.host} ended without finishing the run (killed?)"
            return [run.id for run in stale]

    # -- discovery and schedule -----------------------------------------------

    def record_discoveries(self, records: Sequence[DiscoveryRecord]) -> None:
        """Remember where URLs were found; a URL seen again on the same page is touched, not duplicated."""
        with self.session.begin() as session:
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

    def is_known(self, url: str) -> bool:
        return self.validators(url) is not None

    def due_articles(self, now: datetime, per_source: int, sources: Iterable[str] | None = None) -> list[tuple[str, str]]:
        """(url, source) of articles due for a revisit, most overdue first, at most ``per_source`` each."""
        with self.session() as session:
            rows = session.execute(select(SourceRow.id, SourceRow.name)).all()
            wanted = [(i, n) for i, n in rows if sources is None or n in set(sources)]
            due: list[tuple[str, str]] = []
            for source_id, name in wanted:
                urls = session.scalars(select(ArticleRow.url).where(
                    ArticleRow.source_id == source_id, ArticleRow.next_visit_at <= now)
                    .order_by(ArticleRow.next_visit_at).limit(per_source))
                due.extend((url, name) for url in urls)
            return due

    # -- fetches and versions ---------------------------------------------

    def record_fetch(self, record: FetchRecord) -> str:
        """Store one visit; returns its outcome."""
        return self.record_fetches([record])[0].outcome

    def record_fetches(self, records: Sequence[FetchRecord]) -> list[Stored]:
        """Store a batch of visits in one transaction (archive/visits.py: one set-based path
        for every outcome); returns what each became. A record that fails (bad data) is
        rolled back alone and stored as an ``error`` fetch naming the problem."""
        with self.engine.begin() as connection:
            return store_visits(connection, records, self.url_forms, self.policy, self._own_url, utcnow())

    def _own_url(self, url: str) -> str:
        source = source_for_url(self.sources, url)
        return source.canonical(url) if source else canonicalize_url(url)

    def save_reextraction(self, article_id: int, article: Article, captured_at: datetime) -> str:
        """A re-extraction of an archived page: 'unchanged', 'skipped' (only the generic
        fallback found text: as in a crawl, not a version of a known article), or a new
        version with cause 'reextract' (the extractor changed, not the site)."""
        with self.engine.begin() as connection:
            url = connection.scalar(select(ArticleRow.url).where(ArticleRow.id == article_id))
            latest = connection.scalar(select(ArticleVersion.content_hash).where(ArticleVersion.article_id == article_id)
                                       .order_by(ArticleVersion.version.desc()).limit(1))
            article = replace(article, url=url)
            if latest is not None and latest == fingerprint(article).content_hash:
                return "unchanged"
            if article.body_source == "generic":
                return "skipped"
            save_reextraction(connection, article_id, article, captured_at, self.url_forms, self.policy, utcnow())
            return "reextracted"

    # -- reading ------------------------------------------------------------

    @property
    def reader(self) -> Engine:
        """A second engine whose transactions begin deferred: lookups during a crawl
        never take the write lock (and never wait for it)."""
        if self._reader is None:
            self._reader = create_archive_engine(self.engine.url.render_as_string(hide_password=False), writer=False)
        return self._reader

    def validators(self, *urls: str) -> Validators | None:
        """ETag, Last-Modified and raw-body hash of the article any of ``urls`` leads to."""
        forms = tuple(dict.fromkeys(f for url in urls if url for f in self.url_forms(url)))
        return self._validators_by_forms({forms: forms}).get(forms)

    def validators_of(self, urls: Iterable[str]) -> dict[str, Validators | None]:
        """``validators()`` of many URLs in one query (a spider's batch of requests): the
        same answer per URL, without a round trip per URL."""
        return self._validators_by_forms({url: self.url_forms(url) for url in dict.fromkeys(urls) if url})

    def _validators_by_forms(self, forms_of: dict[Any, Sequence[str]]) -> dict[Any, Validators | None]:
        """Per key, the article one of its URL forms leads to: one whose own URL is among
        the forms (the canonical match) wins, then the oldest."""
        rows: dict[str, list[Row]] = {}
        wanted = list(dict.fromkeys(f for forms in forms_of.values() for f in forms))
        if wanted:
            with self.reader.connect() as connection:
                for row in connection.execute(VALIDATORS_QUERY, {"forms": wanted}):
                    rows.setdefault(row.form, []).append(row)
        found: dict[Any, Validators | None] = {}
        for key, forms in forms_of.items():
            best = pick_article(forms, [row._mapping for form in forms for row in rows.get(form, ())])
            found[key] = Validators(*tuple(best.values())[1:]) if best is not None else None
        return found

    def article_for(self, url: str) -> ArticleRow | None:
        """The article row (with its source loaded) any of its URLs leads to."""
        with self.session() as session:
            row = _find_article(session, url, sources=self.sources)
            if row is not None:
                row.source  # noqa: B018 - load it before the session closes
            return row

    def versions_of(self, url: str) -> list[ArticleVersion]:
        """All versions of the article any of its URLs leads to, oldest first."""
        with self.session() as session:
            row = _find_article(session, url, sources=self.sources)
            if row is None:
                return []
            return list(session.scalars(select(ArticleVersion).where(ArticleVersion.article_id == row.id)
                                        .order_by(ArticleVersion.version)))

    def links_of(self, url: str) -> list[ArticleLink]:
        with self.session() as session:
            row = _find_article(session, url, sources=self.sources)
            if row is None:
                return []
            return list(session.scalars(select(ArticleLink).where(
                (ArticleLink.from_article_id == row.id) | (ArticleLink.to_article_id == row.id))))

    def count(self, model: type) -> int:
        with self.session() as session:
            return session.scalar(select(func.count()).select_from(model))


# Built once. Each row carries the URL form it matched; _validators_by_forms picks per URL.
VALIDATORS_QUERY = (
    select(ArticleUrl.url.label("form"), ArticleRow.id, ArticleRow.url, ArticleRow.etag, ArticleRow.last_modified,
           ArticleRow.raw_hash, ArticleRow.capture_record_id, ArticleRow.capture_url, ArticleRow.capture_date,
           ArticleRow.capture_digest)
    .join(ArticleUrl, ArticleUrl.article_id == ArticleRow.id)
    .where(ArticleUrl.url.in_(bindparam("forms", expanding=True))))


def display_name(engine: Engine) -> str:
    """How messages name an archive: its file, or its URL without the password."""
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database:
        return url.database
    return url.render_as_string(hide_password=True)


def _find_article(session: Session, *urls: str, sources: dict[str, Source] | None = None) -> ArticleRow | None:
    """The article any of these URLs is known under: as given, canonical, or canonical by
    the owning source's rules (zingnews.vn -> znews.vn). A canonical match wins."""
    candidates = list(dict.fromkeys(u for url in urls if url for u in _url_forms(url, sources or {})))
    if not candidates:
        return None
    return session.scalar(select(ArticleRow).join(ArticleUrl, ArticleUrl.article_id == ArticleRow.id)
                          .where(ArticleUrl.url.in_(candidates))
                          .order_by(ArticleRow.url.in_(candidates).desc(), ArticleRow.id).limit(1))


def _url_forms(url: str, sources: dict[str, Source]) -> list[str]:
    source = source_for_url(sources, url)
    return [url, canonicalize_url(url)] + ([source.canonical(url)] if source else [])
