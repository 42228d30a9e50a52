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
from dataclasses import dataclass, field, replace
from functools import lru_cache
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterable, Sequence

from sqlalchemy import Engine, Row, bindparam, func, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, aliased, sessionmaker

from ..dedup import change_size, hamming, simhash, simhash_bands, version_hash
from ..dedup.fingerprint import NEAR_DUPLICATE_BITS
from ..diskfull import is_out_of_space
from ..extract import Article
from ..lock import Process
from ..urls import canonicalize_url
from ..sources import Source, load_sources, source_for_url
from .db import create_archive_engine, create_readonly_engine, default_warc_dir
from .migrate import check_current, upgrade
from ..schedule import RevisitPolicy
from .links import link_article, citation_row
from .records import DiscoveryRecord, FetchRecord
from .revisits import is_quiet, record_quiet_visits
from .models import (
    ArticleLink, ArticleRow, ArticleUrl, ArticleVersion, CrawlRun, Discovery, Fetch, SimhashBand, SourceRow,
)

logger = logging.getLogger(__name__)
GONE_STATUSES = (404, 410)


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


@dataclass(frozen=True)
class Stored:
    """What the archive made of one visit: its outcome, the version it created or matched
    (none when nothing was extracted), the article's URL, the ``fetches.error`` note, and
    the versioning rule that decided, if one of the junk rules did (a stat name)."""

    outcome: str
    version: int | None = None
    article_url: str | None = None
    error: str | None = None
    rule: str | None = None


@dataclass(frozen=True)
class _Verdict:
    """Which article a visit's extracted text belongs to, and whether it may be a version."""

    row: ArticleRow | None
    trusted: bool = True
    note: str | None = None
    rule: str | None = None
    url: str | None = None  # the URL a new article is archived under (default: the page's canonical)


@dataclass
class _Batch:
    session: Session
    source_ids: dict[str, int]
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


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
        """Store a batch of visits in one transaction, one savepoint each; returns what
        each became.

        A record that fails (bad data) is rolled back alone and stored as an
        ``error`` fetch naming the problem, so the rest of the batch is kept.
        """
        outcomes: dict[int, Stored] = {}
        with self.session.begin() as session:
            batch = _Batch(session, dict(session.execute(select(SourceRow.name, SourceRow.id)).all()))
            quiet = [i for i, r in enumerate(records) if is_quiet(r)]
            if quiet:
                stored = record_quiet_visits(session.connection(), [records[i] for i in quiet],
                                             self.url_forms, self.policy)
                outcomes.update({quiet[i]: Stored(outcome) for i, outcome in stored.items()})
            for index, record in enumerate(records):
                if index in outcomes:
                    continue
                try:
                    with session.begin_nested():
                        outcomes[index] = self._store(batch, record)
                except (SQLAlchemyError, ValueError, TypeError, KeyError) as exc:
                    if is_out_of_space(exc):
                        raise  # not this record's fault: nothing more can be written, the batch rolls back
                    exc = getattr(exc, "orig", None) or exc  # the cause, not the SQL statement
                    logger.error("archive: could not store %s: %s", record.url, exc)
                    error = f"archive rejected the extracted article: {exc}"
                    with session.begin_nested():
                        session.add(Fetch(
                            crawl_run_id=record.crawl_run_id, url=record.url, fetched_at=record.fetched_at,
                            http_status=record.http_status, outcome="error", error=error))
                    outcomes[index] = Stored("error", error=error)
        return [outcomes[i] for i in range(len(records))]

    def _store(self, batch: _Batch, record: FetchRecord) -> Stored:
        session = batch.session
        fetch = Fetch(crawl_run_id=record.crawl_run_id, url=record.url, fetched_at=record.fetched_at,
                      http_status=record.http_status, error=record.error, **record.warc_columns())
        verdict, version = _Verdict(None), None
        if record.article is not None:
            verdict = self._judge(batch, record)
            row, fetch.error = verdict.row, verdict.note
            if verdict.trusted:
                row = self._article_row(batch, record, row, verdict.url)
                fetch.outcome, version = self._save_version(batch, row, record)
                fetch.version_id = version.id
            else:
                fetch.outcome = "skipped"
        else:
            row = _find_article(session, record.url, *record.urls, sources=self.sources)
            fetch.outcome = self._visit_without_article(session, row, record, fetch)
        if row is not None:
            fetch.article_id = row.id
            if fetch.outcome not in ("error", "skipped"):
                row.last_fetched_at = max(row.last_fetched_at, record.fetched_at)
            self._schedule(session, row, fetch.outcome, record.fetched_at)
        session.add(fetch)
        return Stored(fetch.outcome, version=version.version if version else None,
                      article_url=row.url if row is not None else None, error=fetch.error, rule=verdict.rule)

    def _judge(self, batch: _Batch, record: FetchRecord) -> _Verdict:
        """The article an extracted page belongs to, and whether its text may be a version of
        it (README "Versioning rules": junk never becomes a version of a known article).

        The page's own URLs decide which article it is; its canonical link only when they
        are unknown, and only for a page whose text is that article's (a CMS that points
        every page at one canonical must not turn article B into article A's next version).
        """
        session, article = batch.session, record.article
        fetched = (record.url, *record.urls)
        row = _find_article(session, *fetched, sources=self.sources)
        notes, rule, url = [], None, None
        # (a page's canonical is mostly its own URL: then there is nothing more to ask)
        if row is None and not set(self.url_forms(article.url)) <= {f for u in fetched for f in self.url_forms(u)}:
            row = _find_article(session, article.url, sources=self.sources)
            if row is not None and not _is_same_article(session, row, article):
                url = self._own_url(record.url)
                notes.append(f"canonical {article.url} points at a different article; kept separately as {url}")
                rule, row = "canonical_conflict", None
        if row is not None and article.body_source == "generic":
            return _Verdict(row, False, f"body selectors matched nothing; {len(article.text)} chars of generic "
                                        "text not trusted for a known article", "untrusted_generic_text")
        if record.short_body:
            if row is None:  # never a new article: the extractor's reason stands
                return _Verdict(None, False, record.error, rule or "short_body_skipped")
            notes.append(f"short body: {len(article.text)} characters in the source's body element; kept as a "
                         "version of an archived article (retracted or emptied?)")
            rule = "short_body_version"
        return _Verdict(row, True, "; ".join(notes) or None, rule, url)

    def _own_url(self, url: str) -> str:
        source = source_for_url(self.sources, url)
        return source.canonical(url) if source else canonicalize_url(url)

    def _schedule(self, session: Session, row: ArticleRow, outcome: str, now: datetime) -> None:
        latest = _latest_version(session, row.id)
        born_at = (latest.published_at if latest else None) or row.first_seen_at
        row.revisit_step, row.next_visit_at = self.policy.next_visit(now, row.revisit_step or 0, outcome, born_at)

    def _visit_without_article(self, session: Session, row: ArticleRow | None, record: FetchRecord,
                               fetch: Fetch) -> str:
        if row is not None and record.http_status in GONE_STATUSES:
            row.gone_at = row.gone_at or record.fetched_at
            return "gone"
        # visits of known articles that need no extraction took the bulk path (revisits.py)
        if record.outcome in ("not_modified", "unchanged"):
            fetch.error = f"{record.outcome} reported for {record.url}, which is not in the archive"
            return "error"
        return record.outcome or "error"

    def _article_row(self, batch: _Batch, record: FetchRecord, row: ArticleRow | None,
                     url: str | None = None) -> ArticleRow:
        """``row`` (the article the visit belongs to, if known) or a new article under
        ``url`` (default: the page's canonical), with the visit's validators and URLs."""
        session, article = batch.session, record.article
        if record.source not in batch.source_ids:
            raise KeyError(f"unknown source {record.source!r}; sources are {sorted(batch.source_ids)}")
        if row is None:
            row = _same_text_elsewhere_in_source(session, batch.source_ids[record.source], article)
        if row is None:
            row = ArticleRow(source_id=batch.source_ids[record.source], url=url or article.url,
                             first_seen_at=record.fetched_at, last_changed_at=record.fetched_at,
                             last_fetched_at=record.fetched_at)
            session.add(row)
            session.flush()
        claimed = (record.url, *record.urls) if url else (article.url, record.url, *record.urls)
        _remember_urls(session, row, claimed, record.fetched_at)
        row.etag, row.last_modified = record.etag, record.last_modified
        row.raw_hash = record.raw_hash or row.raw_hash
        if record.warc and record.warc["record_type"] == "response":
            row.capture_record_id, row.capture_url = record.warc["record_id"], record.url
            row.capture_date, row.capture_digest = record.warc["date"], record.warc["payload_digest"]
        row.gone_at = None
        return row

    def _save_version(self, batch: _Batch, row: ArticleRow, record: FetchRecord) -> tuple[str, ArticleVersion]:
        """The outcome and the version: a new one, or the newest when nothing changed."""
        session, article = batch.session, record.article
        latest = _latest_version(session, row.id)
        digest = version_hash(article)
        if latest is not None and latest.content_hash == digest:
            return "unchanged", latest
        size = change_size(latest.text if latest else None, article.text)
        earlier = session.scalar(select(ArticleVersion.version).where(
            ArticleVersion.article_id == row.id, ArticleVersion.content_hash == digest)
            .order_by(ArticleVersion.version).limit(1))
        fingerprint = simhash(article.text)
        version = ArticleVersion(
            article_id=row.id, version=(latest.version if latest else 0) + 1, fetched_at=record.fetched_at,
            title=article.title, authors=list(article.authors), published_at=article.published_at,
            modified_at=article.modified_at, language=article.language, section=article.section,
            tags=list(article.tags), summary=article.summary, text=article.text, cited_url=article.cited_url,
            content_hash=digest, same_as_version=earlier, simhash=fingerprint, extractor_version=article.extractor,
            cause=record.cause,
            chars_added=size.chars_added, chars_removed=size.chars_removed,
            words_added=size.words_added, words_removed=size.words_removed)
        session.add(version)
        session.flush()
        session.add_all(SimhashBand(band=band, value=value, version_id=version.id, article_id=row.id)
                        for band, value in enumerate(simhash_bands(fingerprint)))
        session.add_all(citation_row(value, version.id, row.id)
                        for value in dict.fromkeys(filter(None, (article.cited_url, *article.citations))))
        row.last_changed_at = record.fetched_at
        link_article(session, row, version, batch.now, lambda url: _find_article(session, url, sources=self.sources))
        return ("changed" if latest else "new"), version

    def save_reextraction(self, article_id: int, article: Article, captured_at: datetime) -> str:
        """A re-extraction of an archived page: 'unchanged', 'skipped' (only the generic
        fallback found text: as in a crawl, not a version of a known article), or a new
        version with cause 'reextract' (the extractor changed, not the site)."""
        with self.session.begin() as session:
            row = session.get(ArticleRow, article_id)
            latest = _latest_version(session, article_id)
            article = replace(article, url=row.url)
            if latest is not None and latest.content_hash == version_hash(article):
                return "unchanged"
            if article.body_source == "generic":
                return "skipped"
            batch = _Batch(session, dict(session.execute(select(SourceRow.name, SourceRow.id)).all()))
            record = FetchRecord(url=row.url, source=row.source.name, fetched_at=captured_at, article=article,
                                 cause="reextract")
            self._save_version(batch, row, record)
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
            candidates = [row for form in forms for row in rows.get(form, ())]
            best = min(candidates, key=lambda row: (row.url not in forms, row.id), default=None)
            found[key] = Validators(*best[1:]) if best is not None else None
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


def _remember_urls(session: Session, row: ArticleRow, urls: Iterable[str], seen_at: datetime) -> None:
    for url in dict.fromkeys(urls):
        if session.scalar(select(ArticleUrl.id).where(ArticleUrl.url == url)) is None:
            session.add(ArticleUrl(article_id=row.id, url=url, first_seen_at=seen_at))


def _is_same_article(session: Session, row: ArticleRow, article: Article) -> bool:
    """Whether ``article`` is one of ``row``'s versions, or nearly (SimHash within
    NEAR_DUPLICATE_BITS: what the archive calls a near-duplicate)."""
    digest, fingerprint = version_hash(article), simhash(article.text)
    versions = session.execute(select(ArticleVersion.content_hash, ArticleVersion.simhash)
                               .where(ArticleVersion.article_id == row.id))
    return any(content_hash == digest or hamming(fingerprint, other) <= NEAR_DUPLICATE_BITS
               for content_hash, other in versions)


def _same_text_elsewhere_in_source(session: Session, source_id: int, article: Article) -> ArticleRow | None:
    """The same source serving the identical article under another URL is one article."""
    later = aliased(ArticleVersion)
    newest = select(func.max(later.version)).where(later.article_id == ArticleRow.id).scalar_subquery()
    return session.scalar(select(ArticleRow).join(ArticleVersion).where(
        ArticleRow.source_id == source_id, ArticleVersion.content_hash == version_hash(article),
        ArticleVersion.version == newest).limit(1))


def _latest_version(session: Session, article_id: int) -> ArticleVersion | None:
    return session.scalar(select(ArticleVersion).where(ArticleVersion.article_id == article_id)
                          .order_by(ArticleVersion.version.desc()).limit(1))
