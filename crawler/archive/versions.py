"""Writing one version of an article: its ``article_versions`` row (change size against the
newest version; ``same_as_version`` when it returns to an earlier state), its simhash_bands,
citations and version_authors rows, and its links (links.py). Functions over the caller's
connection; what a batch knows of versions is a ``VersionBatch`` the caller owns and passes in."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Callable, Iterable, Sequence

from sqlalchemy import Connection, func, insert, select

from ..dedup import change_size, simhash_bands
from ..dedup.fingerprint import fingerprint
from ..extract import Article

# called as links.f(), never imported by name: bench/store_scaling.py times them there
from . import links
from .models import ArticleRow, ArticleVersion, Citation, SimhashBand, VersionAuthor

LATEST_COLUMNS = ("id", "version", "content_hash", "text", "published_at")


@dataclass
class VersionBatch:
    """What one batch knows of versions: read before its pages are stored, extended as
    each new version is written, its author rows written at the end (``write_authors``)."""

    url_forms: Callable[[str], Sequence[str]]  # a URL's lookup forms: which archived articles a version cites
    now: datetime  # when the batch's links were detected
    latest: dict[int, dict] = field(default_factory=dict)  # article id -> its newest version
    citing: dict[str, list] = field(default_factory=dict)  # cited URL -> [(citing article id, language)]
    same_text: dict[tuple[int, str], int] = field(default_factory=dict)  # (source id, newest text hash) -> id
    authors: list[dict] = field(default_factory=list)  # version_authors rows of the batch's new versions

    def copy(self) -> VersionBatch:
        """A copy to go back to when a page's savepoint is rolled back."""
        return replace(self, latest=dict(self.latest), citing={url: list(c) for url, c in self.citing.items()},
                       same_text=dict(self.same_text), authors=list(self.authors))


def digest(article: Article) -> str:
    """The article's content hash (computed once, by the extraction worker in a crawl)."""
    return fingerprint(article).content_hash


def save_version(connection: Connection, batch: VersionBatch, state: dict, article: Article, fetched_at: datetime,
                 cause: str, by_url: dict[str, dict]) -> tuple[str, dict]:
    """The outcome and the version: a new one ('new', 'changed'; the article's ``state``
    gets its ``last_changed_at``, for the caller to write), or the newest ('unchanged').
    ``by_url`` (archived URL -> article state) says which URLs are this article's: the
    articles citing them are linked to it."""
    latest, content_hash = batch.latest.get(state["id"]), digest(article)
    if latest is not None and latest["content_hash"] == content_hash:
        return "unchanged", latest
    earlier = None
    if latest is not None:  # a return to an earlier state points at it
        earlier = connection.scalar(select(func.min(ArticleVersion.version)).where(
            ArticleVersion.article_id == state["id"], ArticleVersion.content_hash == content_hash))
    size = change_size(latest["text"] if latest else None, article.text)
    simhash = fingerprint(article).simhash
    version = {"version": (latest["version"] if latest else 0) + 1, "content_hash": content_hash,
               "text": article.text, "published_at": article.published_at}
    # parameters of one constant statement, not .values(): SQLAlchemy then reuses its compiled form
    version["id"] = connection.execute(insert(ArticleVersion), dict(
        article_id=state["id"], version=version["version"], fetched_at=fetched_at, title=article.title,
        authors=list(article.authors), published_at=article.published_at, modified_at=article.modified_at,
        language=article.language, section=article.section, tags=list(article.tags), summary=article.summary,
        text=article.text, cited_url=article.cited_url, content_hash=content_hash, same_as_version=earlier,
        simhash=simhash, extractor_version=article.extractor_version, cause=cause,
        chars_added=size.chars_added, chars_removed=size.chars_removed, words_added=size.words_added,
        words_removed=size.words_removed)).inserted_primary_key[0]
    cites = _write_rows(connection, batch, state, version["id"], article, simhash)
    batch.same_text[(state["source_id"], content_hash)] = state["id"]
    batch.latest[state["id"]] = version
    state["last_changed_at"] = fetched_at
    cited_by = {c for url, a in by_url.items() if a is state for c in batch.citing.get(url, ())}
    links.link_version(connection, state, simhash, article.language, cites, cited_by, batch.url_forms, batch.now)
    return ("changed" if latest else "new"), version


def _write_rows(connection: Connection, batch: VersionBatch, state: dict, version_id: int, article: Article,
                simhash: int) -> list[str]:
    """A new version's simhash_bands and citations (its authors wait for ``write_authors``);
    returns the URLs it cites."""
    connection.execute(insert(SimhashBand), [
        {"band": band, "value": value, "version_id": version_id, "article_id": state["id"]}
        for band, value in enumerate(simhash_bands(simhash))])
    batch.authors += [{"version_id": version_id, "position": position, "article_id": state["id"], "name": name}
                      for position, name in enumerate(article.authors)]
    citations = [dict(c, version_id=version_id, article_id=state["id"]) for c in links.citation_values(article)]
    if citations:
        connection.execute(insert(Citation), citations)
    for citation in citations:
        if citation["url"]:
            batch.citing.setdefault(citation["url"], []).append((state["id"], article.language))
    return [c["url"] for c in citations if c["url"]]


def write_authors(connection: Connection, batch: VersionBatch) -> None:
    """The batch's version_authors rows: one executemany."""
    if batch.authors:
        connection.execute(insert(VersionAuthor), batch.authors)
    batch.authors = []


# -- what a batch reads before storing its pages ----------------------------------

def load_latest(connection: Connection, batch: VersionBatch, ids: Iterable[int]) -> None:
    """The newest version of each of these articles the batch does not know yet."""
    ids = set(ids) - set(batch.latest)
    if not ids:
        return
    newest = (select(ArticleVersion.article_id, func.max(ArticleVersion.version).label("version"))
              .where(ArticleVersion.article_id.in_(ids)).group_by(ArticleVersion.article_id).subquery())
    rows = connection.execute(
        select(ArticleVersion.article_id, *(getattr(ArticleVersion, c) for c in LATEST_COLUMNS))
        .join(newest, (newest.c.article_id == ArticleVersion.article_id)
              & (newest.c.version == ArticleVersion.version)))
    for row in rows.mappings():
        batch.latest[row["article_id"]] = {c: row[c] for c in LATEST_COLUMNS}


def load_citing(connection: Connection, batch: VersionBatch, forms: Sequence[str]) -> None:
    """Versions already archived that cite one of the batch's URLs (links for the
    articles this batch archives; those it archives itself are added as they are)."""
    for url, article_id, language in links.citing_versions(connection, forms):
        batch.citing.setdefault(url, []).append((article_id, language))


def load_same_text(connection: Connection, batch: VersionBatch, digests: set[str]) -> None:
    """Articles whose newest version has one of the batch's texts: the same source
    serving the identical article under another URL is one article."""
    newest = (select(func.max(ArticleVersion.version)).where(ArticleVersion.article_id == ArticleRow.id)
              .correlate(ArticleRow).scalar_subquery())
    rows = connection.execute(
        select(ArticleRow.source_id, ArticleVersion.content_hash, func.min(ArticleRow.id))
        .join(ArticleVersion).where(ArticleVersion.content_hash.in_(digests), ArticleVersion.version == newest)
        .group_by(ArticleRow.source_id, ArticleVersion.content_hash))
    batch.same_text.update({(source_id, content_hash): article_id for source_id, content_hash, article_id in rows})
