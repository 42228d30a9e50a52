"""The archive's tables. The database file is a user interface: see README "Archive schema".

Every timestamp is UTC. On SQLite it is stored as 'YYYY-MM-DD HH:MM:SS.ffffff'
text (sortable, readable by SQLite's date functions); on PostgreSQL as timestamptz.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import (
    JSON, BigInteger, CheckConstraint, DateTime, Float, ForeignKey, Index, Integer, MetaData, SmallInteger,
    String, Text, TypeDecorator, UniqueConstraint, text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

# SQLite can only alter tables by copying them (Alembic batch mode), which needs
# every constraint to have a name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

FETCH_OUTCOMES = ("new", "changed", "unchanged", "not_modified", "gone", "error", "skipped")
RUN_STATUSES = ("running", "finished", "failed", "interrupted")
LINK_KINDS = ("duplicate_of", "cites", "translation_of")
DISCOVERY_METHODS = ("feed", "sitemap", "listing", "cited", "start")


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; naive values are refused."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: the archive stores aware UTC times only")
        value = value.astimezone(timezone.utc)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON, list[str]: JSON}


class SourceRow(Base):
    """One configured source (seeds/sources.toml), refreshed at every crawl start."""

    __tablename__ = "sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    description: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str] = mapped_column(String(8))
    timezone: Mapped[str] = mapped_column(String(64))
    domains: Mapped[list[str]]


class CrawlRun(Base):
    """One spider run: its arguments, outcome, stats and the process that ran it."""

    __tablename__ = "crawl_runs"
    __table_args__ = (CheckConstraint(f"status IN {RUN_STATUSES}", name="status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    spider: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16), default="running")
    args: Mapped[dict[str, Any] | None]
    stats: Mapped[dict[str, Any] | None]
    # why a run failed or was interrupted, in one line
    reason: Mapped[str | None] = mapped_column(Text)
    # the process that ran it (crawler.lock.Process): the next run on this host marks the
    # run interrupted when that process is gone, and never while it lives
    host: Mapped[str | None] = mapped_column(String(255))
    pid: Mapped[int | None]
    pid_start: Mapped[int | None] = mapped_column(BigInteger)
    # the WARC directory the run wrote to, on ``host`` (migration 0009): where its fetches'
    # warc_filename lives when hosts do not share one WARC_DIR path
    warc_dir: Mapped[str | None] = mapped_column(Text)
    # what the run did per source, written when it ends (crawler/archive/reports.py; README
    # "Run reports"): outcome counts, bytes, health measures, errors by reason, slowest URLs
    report: Mapped[dict[str, Any] | None]


class ArticleRow(Base):
    """One article, keyed by its canonical URL."""

    __tablename__ = "articles"
    # migration 0006 (bench/query.py): partial, so "WHERE gone_at IS NOT NULL" takes it
    __table_args__ = (Index("ix_articles_gone_at", "gone_at", sqlite_where=text("gone_at IS NOT NULL"),
                            postgresql_where=text("gone_at IS NOT NULL")),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"), index=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    first_seen_at: Mapped[datetime]
    last_fetched_at: Mapped[datetime]
    last_changed_at: Mapped[datetime]
    # HTTP validators and the raw body's SHA-256 from the last 200, for conditional re-fetch
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    raw_hash: Mapped[str | None] = mapped_column(String(64))
    # set when the page answered 404/410; cleared when it comes back
    gone_at: Mapped[datetime | None]
    # revisit schedule (crawler/schedule.py): position in REVISIT_INTERVALS and next due time
    revisit_step: Mapped[int] = mapped_column(default=0)
    next_visit_at: Mapped[datetime | None] = mapped_column(index=True)
    # the last full WARC response record of this article: what revisit records refer to
    capture_record_id: Mapped[str | None] = mapped_column(Text)
    capture_url: Mapped[str | None] = mapped_column(Text)
    capture_date: Mapped[str | None] = mapped_column(Text)
    capture_digest: Mapped[str | None] = mapped_column(Text)

    source: Mapped[SourceRow] = relationship()
    versions: Mapped[list[ArticleVersion]] = relationship(
        back_populates="article", order_by="ArticleVersion.version")


class ArticleVersion(Base):
    """One state of an article as extracted; a new row only when the content changed."""

    __tablename__ = "article_versions"
    __table_args__ = (
        UniqueConstraint("article_id", "version"),
        # migration 0006: the README's example queries at 1M versions (bench/query.py)
        Index("ix_article_versions_published_at", "published_at"),
        Index("ix_article_versions_fetched_at", "fetched_at", "version", "same_as_version", "article_id",
              "words_added", "words_removed"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    version: Mapped[int] = mapped_column(Integer)
    fetched_at: Mapped[datetime]
    title: Mapped[str] = mapped_column(Text)
    authors: Mapped[list[str]]
    published_at: Mapped[datetime | None]
    modified_at: Mapped[datetime | None]
    language: Mapped[str | None] = mapped_column(String(8))
    section: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]]
    summary: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    cited_url: Mapped[str | None] = mapped_column(Text, index=True)
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    # which extractor and rules produced it; "reextract" when a re-run of a newer
    # extractor over the archived page made it, not a change by the site
    extractor_version: Mapped[str | None] = mapped_column(Text)
    cause: Mapped[str] = mapped_column(String(16), default="crawl", server_default="crawl")  # crawl | reextract
    # A return to an earlier state (A -> B -> A) is a new version pointing at the identical one.
    same_as_version: Mapped[int | None]
    # Size of the change from the previous version (version 1: everything added).
    chars_added: Mapped[int] = mapped_column(default=0)
    chars_removed: Mapped[int] = mapped_column(default=0)
    words_added: Mapped[int] = mapped_column(default=0)
    words_removed: Mapped[int] = mapped_column(default=0)
    simhash: Mapped[int] = mapped_column(BigInteger, default=0)

    article: Mapped[ArticleRow] = relationship(back_populates="versions")


class Fetch(Base):
    """One visit of one URL, whatever came of it."""

    __tablename__ = "fetches"
    __table_args__ = (
        CheckConstraint(f"outcome IN {FETCH_OUTCOMES}", name="outcome"),
        Index("ix_fetches_url_fetched_at", "url", "fetched_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    article_id: Mapped[int | None] = mapped_column(ForeignKey("articles.id"), index=True)
    version_id: Mapped[int | None] = mapped_column(ForeignKey("article_versions.id"))
    fetched_at: Mapped[datetime]
    http_status: Mapped[int | None]
    outcome: Mapped[str] = mapped_column(String(16))
    error: Mapped[str | None] = mapped_column(Text)
    # the WARC record of this exchange (response, or revisit for 304s and identical bodies)
    warc_filename: Mapped[str | None] = mapped_column(Text)
    warc_offset: Mapped[int | None] = mapped_column(BigInteger)
    warc_length: Mapped[int | None] = mapped_column(BigInteger)
    warc_record_id: Mapped[str | None] = mapped_column(Text)  # no index: nothing reads by it (0012)
    warc_record_type: Mapped[str | None] = mapped_column(String(16))
    # the source the visit was for (migration 0008: backfilled from the article, else the host)
    source_id: Mapped[int | None] = mapped_column(ForeignKey("sources.id"))
    # "site" when the source's own body selectors found the text, "generic" when only the
    # generic stages did (a renamed body container shows here first); NULL: not extracted
    body_source: Mapped[str | None] = mapped_column(String(16))


class ArticleUrl(Base):
    """Every URL that led to an article (requested, redirected to, canonical)."""

    __tablename__ = "article_urls"

    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    url: Mapped[str] = mapped_column(Text, unique=True)
    first_seen_at: Mapped[datetime]


class ArticleLink(Base):
    """A relation between two articles: a duplicate, a citation, a translation."""

    __tablename__ = "article_links"
    __table_args__ = (
        UniqueConstraint("from_article_id", "to_article_id", "kind"),
        CheckConstraint(f"kind IN {LINK_KINDS}", name="kind"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    from_article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))
    to_article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    score: Mapped[float] = mapped_column(Float)
    detected_at: Mapped[datetime]


class SimhashBand(Base):
    """The banded index of version SimHashes: near-duplicate candidates by equality lookups.
    WITHOUT ROWID on SQLite (0010): the primary key's b-tree is the table."""

    __tablename__ = "simhash_bands"
    __table_args__ = {"sqlite_with_rowid": False}

    band: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    value: Mapped[int] = mapped_column(Integer, primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("article_versions.id", ondelete="CASCADE"), primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"))


class VersionAuthor(Base):
    """One author of one version, in byline order: ``article_versions.authors`` as rows, so
    "articles by X" is an index lookup (a value inside a JSON array has no index; migration
    0007, bench/query.py: 1.3 s -> ms on 1M versions). Written with the version, never changed.
    WITHOUT ROWID on SQLite (0010)."""

    __tablename__ = "version_authors"
    __table_args__ = (Index("ix_version_authors_name", "name", "version_id"), {"sqlite_with_rowid": False})

    version_id: Mapped[int] = mapped_column(ForeignKey("article_versions.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(SmallInteger, primary_key=True)  # 0: the first name of the byline
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(Text)


class Discovery(Base):
    """Where an article URL was found (feed, sitemap, listing, citation), with what that
    place said about it (its date, guid, title)."""

    __tablename__ = "discoveries"
    __table_args__ = (
        UniqueConstraint("url", "found_on"),
        CheckConstraint(f"method IN {DISCOVERY_METHODS}", name="method"),
        Index("ix_discoveries_method_found_on", "method", "found_on"),  # migration 0006: bench/query.py
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    url: Mapped[str] = mapped_column(Text, index=True)
    method: Mapped[str] = mapped_column(String(16))
    found_on: Mapped[str] = mapped_column(Text)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    crawl_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    published_at: Mapped[datetime | None]
    guid: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(Text)


class Citation(Base):
    """A source a version names as its origin: a URL ("Source : https://…") or a name
    ("Theo Reuters", "Sources : Bloomberg"). Only URLs on configured sources are crawled."""

    __tablename__ = "citations"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("article_versions.id", ondelete="CASCADE"), index=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id", ondelete="CASCADE"), index=True)
    name: Mapped[str | None] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text, index=True)
    host: Mapped[str | None] = mapped_column(Text)


class HealthAlarm(Base):
    """A source whose extraction departed from its baseline in a run (crawler/archive/health.py):
    the measure, its value in the run, and its baseline over the source's recent runs."""

    __tablename__ = "health_alarms"

    id: Mapped[int] = mapped_column(primary_key=True)
    crawl_run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("sources.id"))
    measure: Mapped[str] = mapped_column(String(32))
    value: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float] = mapped_column(Float)
    # how many earlier runs the baseline is the median of, and the pages the value is over
    baseline_runs: Mapped[int]
    pages: Mapped[int]
