"""The one path that stores visits, whatever their outcome (new, changed, unchanged,
not_modified, gone, error, skipped): set-based, a batch per transaction. This module judges
each visit and writes its fetch row and article; a version's rows are versions.py's, the
links between articles links.py's.

A batch is resolved in two queries (the articles its URLs lead to, their newest
versions); each page then costs only the statements its outcome needs (a new article:
article, URLs, version, bands, near-duplicate and citation lookups), and the fetch rows
and article updates of the whole batch are written by one executemany each. The batch
runs optimistically inside one savepoint; when any page fails, that savepoint is rolled
back and the batch is stored again with a savepoint per page, so a bad page becomes an
``error`` fetch and the rest is kept (issue 11: ~37 ORM statements per new article and
two store paths before; tests/test_store_path.py pins the ceilings).

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

Several processes may store the same article at once (issue 13: crawler hosts sharing one
PostgreSQL archive). The unique keys decide — ``articles.url``, ``article_urls.url``,
``article_versions (article_id, version)`` — and the loser of a race gets a unique violation
(or a deadlock, or a serialization failure) for the whole batch: its savepoint is rolled back
and the batch is resolved and stored again, now seeing the winner's rows (READ COMMITTED:
each statement sees what is committed), so the same article is one row and the same text
one version. SQLite cannot race: a writer's BEGIN IMMEDIATE queues the others for the whole
transaction; its unique violations are retried all the same, harmlessly.
"""

from __future__ import annotations

import logging
import random
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any, Callable, Iterable, Sequence

from sqlalchemy import Connection, bindparam, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from ..dedup import hamming
from ..dedup.fingerprint import NEAR_DUPLICATE_BITS, fingerprint
from ..diskfull import is_out_of_space
from ..extract import Article
from ..schedule import RevisitPolicy

# called as versions.f(), never imported by name: bench/store_scaling.py times them there
from . import versions
from .models import ArticleRow, ArticleUrl, ArticleVersion, Fetch, SourceRow
from .records import FetchRecord
from .search import index_pending_versions
from .store import Archive, own_url, pick_article, utcnow

logger = logging.getLogger(__name__)
GONE_STATUSES = (404, 410)
QUIET_OUTCOMES = ("not_modified", "unchanged")
ARTICLE_COLUMNS = ("id", "source_id", "url", "first_seen_at", "last_fetched_at", "last_changed_at", "etag",
                   "last_modified", "raw_hash", "gone_at", "revisit_step", "next_visit_at", "capture_record_id",
                   "capture_url", "capture_date", "capture_digest")
FETCH_KEYS = ("crawl_run_id", "url", "article_id", "version_id", "fetched_at", "http_status", "outcome", "error",
              "warc_filename", "warc_offset", "warc_length", "warc_record_id", "warc_record_type")
UrlForms = Callable[[str], Sequence[str]]
STORE_ERRORS = (SQLAlchemyError, ValueError, TypeError, KeyError)
# A batch that lost a race is stored again up to this many times in all; then its pages are
# stored one by one, a page that still conflicts becoming an ``error`` fetch (never a lost batch).
MAX_STORE_ATTEMPTS = 5
# SQLSTATEs of a lost race on PostgreSQL: unique_violation, serialization_failure, deadlock_detected
POSTGRES_CONFLICTS = ("23505", "40001", "40P01")
# sqlite3's extended codes: SQLITE_CONSTRAINT_PRIMARYKEY, SQLITE_CONSTRAINT_UNIQUE
SQLITE_CONFLICTS = (1555, 2067)


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

    article: dict | None
    trusted: bool = True
    note: str | None = None
    rule: str | None = None
    url: str | None = None  # the URL a new article is archived under (default: the page's canonical)


def record_fetch(archive: Archive, record: FetchRecord) -> str:
    """Store one visit; returns its outcome."""
    return record_fetches(archive, [record])[0].outcome


def record_fetches(archive: Archive, records: Sequence[FetchRecord]) -> list[Stored]:
    """Store a batch of visits in one transaction; returns what each became. A record that
    fails (bad data) is rolled back alone and stored as an ``error`` fetch naming the problem."""
    with archive.engine.begin() as connection:
        return store_visits(connection, records, archive.url_forms, archive.policy,
                            partial(own_url, archive.sources), utcnow())


def save_reextraction(archive: Archive, article_id: int, article: Article, captured_at: datetime) -> str:
    """A re-extraction of an archived page: 'unchanged', 'skipped' (only the generic
    fallback found text: as in a crawl, not a version of a known article), or a new
    version with cause 'reextract' (the extractor changed, not the site)."""
    with archive.engine.begin() as connection:
        url = connection.scalar(select(ArticleRow.url).where(ArticleRow.id == article_id))
        latest = connection.scalar(select(ArticleVersion.content_hash).where(ArticleVersion.article_id == article_id)
                                   .order_by(ArticleVersion.version.desc()).limit(1))
        article = replace(article, url=url)
        if latest is not None and latest == fingerprint(article).content_hash:
            return "unchanged"
        if article.body_source == "generic":
            return "skipped"
        store_reextraction(connection, article_id, article, captured_at, archive.url_forms, archive.policy, utcnow())
        return "reextracted"


def store_visits(connection: Connection, records: Sequence[FetchRecord], url_forms: UrlForms,
                 policy: RevisitPolicy, own_url: Callable[[str], str], now: datetime) -> list[Stored]:
    """Store a batch of visits in the caller's transaction; returns what each became.

    First the whole batch in one savepoint; a batch that lost a race with another process
    (see the module's docstring) is resolved and stored again; one that failed otherwise is
    stored page by page, each in its own savepoint."""
    isolated, attempt = False, 0
    while True:
        attempt += 1
        retry = attempt < MAX_STORE_ATTEMPTS
        writer = _Writer(connection, records, url_forms, policy, own_url, now, retry_conflicts=retry)
        if isolated and not retry:  # the last try, as before issue 13: outside any batch savepoint
            return writer.store(isolated=True)
        savepoint = connection.begin_nested()
        try:
            stored = writer.store(isolated)
            savepoint.commit()
            return stored
        except STORE_ERRORS as exc:
            savepoint.rollback()
            if is_out_of_space(exc):
                raise  # not a page's fault: nothing more can be written, the batch rolls back
            if not is_conflict(exc):
                if isolated:
                    raise  # outside any page (reading the sources): the caller's transaction fails
                isolated = True
            elif retry:
                logger.debug("archive: another process stored some of this batch first (%s); storing it again",
                             getattr(exc, "orig", exc).__class__.__name__)
                time.sleep(random.uniform(0, 0.05 * attempt))  # two losers of one race do not meet again
            else:
                isolated = True


def is_conflict(exc: BaseException) -> bool:
    """Whether ``exc`` means another transaction got there first: a unique key taken
    meanwhile, a deadlock or a serialization failure (PostgreSQL), a unique key (SQLite)."""
    cause = getattr(exc, "orig", None) or exc
    return (getattr(cause, "sqlstate", None) in POSTGRES_CONFLICTS
            or getattr(cause, "sqlite_errorcode", None) in SQLITE_CONFLICTS)


def store_reextraction(connection: Connection, article_id: int, article: Article, captured_at: datetime,
                      url_forms: UrlForms, policy: RevisitPolicy, now: datetime) -> tuple[str, int]:
    """A version made by re-running extraction over an archived page (cause 'reextract');
    returns ('new'|'changed'|'unchanged', version number). No fetch: nothing was visited.
    A crawl numbering a version of the same article meanwhile wins; this one then comes after it."""
    attempt = 1
    while True:
        savepoint = connection.begin_nested()
        try:
            writer = _Writer(connection, [], url_forms, policy, str, now)
            state = writer.load_article(article_id)
            outcome, version = versions.save_version(connection, writer.known, state, article, captured_at,
                                                     "reextract", writer.by_url)
            if outcome != "unchanged":  # the new version set the article's last_changed_at
                writer.dirty[state["id"]] = state
            writer.flush()
            savepoint.commit()
            return outcome, version["version"]
        except STORE_ERRORS as exc:
            savepoint.rollback()
            if attempt == MAX_STORE_ATTEMPTS or not is_conflict(exc):
                raise
            attempt += 1


@dataclass
class _Writer:
    connection: Connection
    records: Sequence[FetchRecord]
    url_forms: UrlForms
    policy: RevisitPolicy
    own_url: Callable[[str], str]
    now: datetime
    articles: dict[int, dict] = field(default_factory=dict)  # article id -> its state (one dict per article)
    by_url: dict[str, dict] = field(default_factory=dict)  # archived URL -> its article's state
    fetches: list[dict] = field(default_factory=list)
    dirty: dict[int, dict] = field(default_factory=dict)  # articles to update, by id
    retry_conflicts: bool = False  # a page that lost a race fails the batch, which is stored again
    known: versions.VersionBatch = field(init=False)  # newest versions, texts, citations; author rows to write

    def __post_init__(self) -> None:
        self.known = versions.VersionBatch(self.url_forms, self.now)

    def store(self, isolated: bool) -> list[Stored]:
        self.source_ids = dict(self.connection.execute(select(SourceRow.name, SourceRow.id)).all())
        self._resolve_batch()
        if not isolated:
            stored = [self.visit(record) for record in self.records]
            self.flush()
            return stored
        return [self._visit_alone(record) for record in self.records]

    def _visit_alone(self, record: FetchRecord) -> Stored:
        """One page in its own savepoint: a failure is rolled back alone and stored as an
        ``error`` fetch naming the problem."""
        copies = {i: dict(a) for i, a in self.articles.items()}
        before = (copies, {url: copies[a["id"]] for url, a in self.by_url.items()}, self.known.copy())
        try:
            with self.connection.begin_nested():
                stored = self.visit(record)
                self.flush()
                return stored
        except STORE_ERRORS as exc:
            if is_out_of_space(exc) or (self.retry_conflicts and is_conflict(exc)):
                raise
            self.articles, self.by_url, self.known = before
            self.fetches, self.dirty, self.known.authors = [], {}, []
            exc = getattr(exc, "orig", None) or exc  # the cause, not the SQL statement
            logger.error("archive: could not store %s: %s", record.url, exc)
            error = f"archive rejected the extracted article: {exc}"
            with self.connection.begin_nested():
                self.connection.execute(insert(Fetch), [_fetch_row(record, outcome="error", error=error, warc=False,
                                                                   source_id=self.source_ids.get(record.source))])
            return Stored("error", error=error)

    # -- resolving ----------------------------------------------------------------

    def _resolve_batch(self) -> None:
        urls = {u for r in self.records for u in (r.url, *r.urls, r.article.url if r.article else None) if u}
        forms = list(dict.fromkeys(f for u in urls for f in self.url_forms(u)))
        if forms:
            rows = self.connection.execute(
                select(ArticleUrl.url.label("form"), *(getattr(ArticleRow, c) for c in ARTICLE_COLUMNS))
                .join(ArticleRow, ArticleRow.id == ArticleUrl.article_id).where(ArticleUrl.url.in_(forms)))
            for row in rows.mappings():
                self.by_url[row["form"]] = self.articles.setdefault(row["id"], {c: row[c] for c in ARTICLE_COLUMNS})
            versions.load_latest(self.connection, self.known, self.articles)
        extracted = [r for r in self.records if r.article is not None]
        if extracted:
            versions.load_citing(self.connection, self.known, forms)
            versions.load_same_text(self.connection, self.known, {versions.digest(r.article) for r in extracted})

    def resolved(self, record: FetchRecord) -> dict | None:
        """The article the visit's request was resolved to before it was sent, if it was;
        else the one its URLs lead to."""
        if record.article_id is not None:
            return self.load_article(record.article_id)
        return self.find(record.url, *record.urls)

    def find(self, *urls: str) -> dict | None:
        forms = list(dict.fromkeys(f for u in urls if u for f in self.url_forms(u)))
        found = {a["id"]: a for f in forms if (a := self.by_url.get(f)) is not None}
        return pick_article(forms, found.values())

    def load_article(self, article_id: int) -> dict:
        """An article the batch's URLs did not lead to (found by its text), as state."""
        if article_id in self.articles:
            return self.articles[article_id]
        row = self.connection.execute(select(*(getattr(ArticleRow, c) for c in ARTICLE_COLUMNS))
                                      .where(ArticleRow.id == article_id)).mappings().one()
        state = self.articles[article_id] = dict(row)
        versions.load_latest(self.connection, self.known, [article_id])
        return state

    # -- one visit ------------------------------------------------------------------

    def visit(self, record: FetchRecord) -> Stored:
        fetch = _fetch_row(record, outcome=None, error=record.error, source_id=self.source_ids.get(record.source))
        verdict, version = _Verdict(None), None
        if record.article is not None:
            verdict = self.judge(record)
            state, fetch["error"] = verdict.article, verdict.note
            if verdict.trusted:
                state = self.article_for_version(record, state, verdict.url)
                fetch["outcome"], version = versions.save_version(self.connection, self.known, state, record.article,
                                                                  record.fetched_at, record.cause, self.by_url)
                fetch["version_id"] = version["id"]
            else:
                fetch["outcome"] = "skipped"
        else:
            state = self.resolved(record)
            fetch["outcome"] = self.visit_without_article(state, record, fetch)
        if state is not None:
            fetch["article_id"] = state["id"]
            if fetch["outcome"] not in ("error", "skipped"):
                state["last_fetched_at"] = max(state["last_fetched_at"], record.fetched_at)
            latest = self.known.latest.get(state["id"])
            born_at = (latest["published_at"] if latest else None) or state["first_seen_at"]
            state["revisit_step"], state["next_visit_at"] = self.policy.next_visit(
                record.fetched_at, state["revisit_step"] or 0, fetch["outcome"], born_at)
            self.dirty[state["id"]] = state
        self.fetches.append(fetch)
        return Stored(fetch["outcome"], version=version["version"] if version else None,
                      article_url=state["url"] if state is not None else None, error=fetch["error"],
                      rule=verdict.rule)

    def visit_without_article(self, state: dict | None, record: FetchRecord, fetch: dict) -> str:
        if state is not None and record.http_status in GONE_STATUSES:
            state["gone_at"] = state["gone_at"] or record.fetched_at
            return "gone"
        if record.outcome in QUIET_OUTCOMES:
            latest = self.known.latest.get(state["id"]) if state is not None else None
            if latest is None:
                fetch["error"] = f"{record.outcome} reported for {record.url}, which is not in the archive"
                return "error"
            fetch["version_id"] = latest["id"]
            self.remember_urls(state, (record.url, *record.urls), record.fetched_at)
            _take_validators(state, record)
            state["gone_at"] = None
        return record.outcome or "error"

    def judge(self, record: FetchRecord) -> _Verdict:
        """The article an extracted page belongs to, and whether its text may be a version of
        it (README "Versioning rules": junk never becomes a version of a known article).

        The page's own URLs decide which article it is; its canonical link only when they
        are unknown, and only for a page whose text is that article's (a CMS that points
        every page at one canonical must not turn article B into article A's next version).
        """
        article, fetched = record.article, (record.url, *record.urls)
        state = self.resolved(record)
        notes, rule, url = [], None, None
        # (a page's canonical is mostly its own URL: then there is nothing more to ask)
        if state is None and not set(self.url_forms(article.url)) <= {f for u in fetched for f in self.url_forms(u)}:
            state = self.find(article.url)
            if state is not None and not self._is_same_article(state["id"], article):
                url = self.own_url(record.url)
                notes.append(f"canonical {article.url} points at a different article; kept separately as {url}")
                rule, state = "canonical_conflict", None
        if state is not None and article.body_source == "generic":
            return _Verdict(state, False, f"body selectors matched nothing; {len(article.text)} chars of generic "
                                          "text not trusted for a known article", "untrusted_generic_text")
        if record.short_body:
            if state is None:  # never a new article: the extractor's reason stands
                return _Verdict(None, False, record.error, rule or "short_body_skipped")
            notes.append(f"short body: {len(article.text)} characters in the source's body element; kept as a "
                         "version of an archived article (retracted or emptied?)")
            rule = "short_body_version"
        return _Verdict(state, True, "; ".join(notes) or None, rule, url)

    def _is_same_article(self, article_id: int, article: Article) -> bool:
        """Whether ``article`` is one of the article's versions, or nearly (SimHash within
        NEAR_DUPLICATE_BITS: what the archive calls a near-duplicate)."""
        digest, simhash = versions.digest(article), fingerprint(article).simhash
        rows = self.connection.execute(select(ArticleVersion.content_hash, ArticleVersion.simhash)
                                       .where(ArticleVersion.article_id == article_id))
        return any(content_hash == digest or hamming(simhash, other) <= NEAR_DUPLICATE_BITS
                   for content_hash, other in rows)

    def article_for_version(self, record: FetchRecord, state: dict | None, url: str | None) -> dict:
        """``state`` (the article the visit belongs to, if known) or a new article under
        ``url`` (default: the page's canonical), with the visit's validators and URLs."""
        article = record.article
        if record.source not in self.source_ids:
            raise KeyError(f"unknown source {record.source!r}; sources are {sorted(self.source_ids)}")
        source_id = self.source_ids[record.source]
        if state is None:
            state = self._same_text_elsewhere_in_source(source_id, article)
        if state is None:
            at = record.fetched_at
            state = {c: None for c in ARTICLE_COLUMNS} | {
                "source_id": source_id, "url": url or article.url, "first_seen_at": at, "last_fetched_at": at,
                "last_changed_at": at, "revisit_step": 0}
            _take_validators(state, record)
            state["id"] = self.connection.execute(
                insert(ArticleRow), {c: v for c, v in state.items() if c != "id"}).inserted_primary_key[0]
            self.articles[state["id"]] = state
        else:
            _take_validators(state, record)
            state["gone_at"] = None
        claimed = (record.url, *record.urls) if url else (article.url, record.url, *record.urls)
        self.remember_urls(state, claimed, record.fetched_at)
        return state

    def _same_text_elsewhere_in_source(self, source_id: int, article: Article) -> dict | None:
        digest = versions.digest(article)
        found = self.known.same_text.get((source_id, digest))
        if found is None:
            return None
        state = self.load_article(found)
        newest = self.known.latest.get(found)  # a later version in this batch may have moved on
        return state if newest is not None and newest["content_hash"] == digest else None

    def remember_urls(self, state: dict, urls: Iterable[str], seen_at: datetime) -> None:
        new = [u for u in dict.fromkeys(urls) if u and u not in self.by_url]
        if new:
            self.connection.execute(insert(ArticleUrl), [{"article_id": state["id"], "url": u, "first_seen_at": seen_at}
                                                         for u in new])
            self.by_url.update(dict.fromkeys(new, state))

    # -- writing what the batch decided ----------------------------------------------

    def flush(self) -> None:
        """The batch's fetch rows, authors and article updates: one executemany each; then
        its new versions join the full-text index, together."""
        if self.fetches:
            self.connection.execute(insert(Fetch), self.fetches)
        versions.write_authors(self.connection, self.known)
        if self.dirty:
            columns = [c for c in ARTICLE_COLUMNS if c not in ("id", "source_id", "url", "first_seen_at")]
            self.connection.execute(
                update(ArticleRow).where(ArticleRow.id == bindparam("b_id"))
                .values({c: bindparam(f"b_{c}") for c in columns}),
                [{"b_id": s["id"], **{f"b_{c}": s[c] for c in columns}} for s in self.dirty.values()])
        index_pending_versions(self.connection)
        self.fetches, self.dirty = [], {}


def _take_validators(state: dict, record: FetchRecord) -> None:
    """The visit's validators and capture. One rule for every outcome: what the server sent
    replaces what is stored, what it did not send is kept (a 304 need not repeat its ETag)."""
    state["etag"] = record.etag or state["etag"]
    state["last_modified"] = record.last_modified or state["last_modified"]
    state["raw_hash"] = record.raw_hash or state["raw_hash"]
    warc = record.warc
    if warc and warc.get("record_type") == "response":
        state["capture_record_id"], state["capture_url"] = warc["record_id"], record.url
        state["capture_date"], state["capture_digest"] = warc["date"], warc["capture_digest"]


def _fetch_row(record: FetchRecord, outcome: str | None, error: str | None, warc: bool = True,
               source_id: int | None = None) -> dict[str, Any]:
    # body_source: which stage found the text of a page extracted on this visit (health measures, issue 12)
    row = {"crawl_run_id": record.crawl_run_id, "url": record.url, "article_id": None, "version_id": None,
           "fetched_at": record.fetched_at, "http_status": record.http_status, "outcome": outcome, "error": error,
           "source_id": source_id, "body_source": record.article.body_source if record.article is not None else None}
    return row | (record.warc_columns() if warc else dict.fromkeys(FETCH_KEYS[8:]))
