"""Links between articles (near-duplicates, citations, translations): which archived
articles a new version is near, cites or is cited by, and its ``article_links`` rows.
Functions over the caller's connection, inside its transaction (archive/versions.py links
each new version as it writes it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable, Iterable, Sequence
from urllib.parse import urlsplit

from sqlalchemy import Connection, bindparam, or_, select

from ..dedup import hamming, simhash_bands
from ..dedup.fingerprint import NEAR_DUPLICATE_BITS, SIMHASH_BANDS
from ..extract import Article
from .db import conflict_insert
from .models import (
    ArticleLink,
    ArticleRow,
    ArticleUrl,
    ArticleVersion,
    Citation,
    SimhashBand,
)
from .store import pick_article

# Near-duplicate candidates read per new version: a band value shared by more articles
# than this is boilerplate, not evidence (keeps the lookup's cost flat in the archive).
MAX_NEAR_DUPLICATE_CANDIDATES = 64
# Near-duplicate candidates of a new version: built once, so each call only binds values
# (building it per call was ~1 ms of SQLAlchemy per new article, more than the query).
# An OR of (band, value) pairs: SQLite searches its primary key per pair (MULTI-INDEX OR),
# where a row-value IN scans the table.
NEAR_DUPLICATES = (
    select(SimhashBand.article_id, ArticleVersion.simhash, ArticleRow.first_seen_at)
    .join(ArticleVersion, ArticleVersion.id == SimhashBand.version_id)
    .join(ArticleRow, ArticleRow.id == SimhashBand.article_id)
    .where(or_(*((SimhashBand.band == band) & (SimhashBand.value == bindparam(f"band{band}"))
                 for band in range(SIMHASH_BANDS))),
           SimhashBand.article_id != bindparam("article_id"))
    .limit(MAX_NEAR_DUPLICATE_CANDIDATES))
# The archived articles some URL forms lead to, with their newest version's language (built
# once, as NEAR_DUPLICATES: ~1 ms of SQLAlchemy per citing article when built per call).
_NEWEST_LANGUAGE = (select(ArticleVersion.language).where(ArticleVersion.article_id == ArticleRow.id)
                    .order_by(ArticleVersion.version.desc()).limit(1).correlate(ArticleRow).scalar_subquery())
CITED_ARTICLES = (
    select(ArticleUrl.url.label("form"), ArticleRow.id, ArticleRow.url, _NEWEST_LANGUAGE.label("language"))
    .join(ArticleRow, ArticleRow.id == ArticleUrl.article_id)
    .where(ArticleUrl.url.in_(bindparam("forms", expanding=True))))


def citation_values(article: Article) -> list[dict[str, Any]]:
    """The article's citations as ``citations`` rows (without their version and article):
    a URL with its host, or a name ("Theo Reuters")."""
    rows = []
    for value in dict.fromkeys(filter(None, (article.cited_url, *article.citations))):
        if value.startswith(("http://", "https://")):
            rows.append({"url": value, "host": urlsplit(value).hostname, "name": None})
        else:
            rows.append({"url": None, "host": None, "name": value})
    return rows


def insert_ignoring_duplicates(connection: Connection, model: type):  # noqa: ANN201 - a dialect's Insert
    """INSERT … ON CONFLICT DO NOTHING: a link found again (another version, another
    batch) is one row, without a lookup per link first."""
    return conflict_insert(connection.dialect.name, model).on_conflict_do_nothing()


def citing_versions(connection: Connection, forms: Sequence[str]) -> list[tuple[str, int, str | None]]:
    """(cited URL, citing article id, its language) of the archived versions that cite one
    of these URL forms: links for the articles a batch archives under them."""
    return connection.execute(
        select(Citation.url, ArticleVersion.article_id, ArticleVersion.language)
        .join(ArticleVersion, ArticleVersion.id == Citation.version_id).where(Citation.url.in_(forms))).all()


def link_version(connection: Connection, article: dict, simhash: int, language: str | None, cites: list[str],
                 cited_by: Iterable[tuple[int, str | None]], url_forms: Callable[[str], Sequence[str]],
                 now: datetime) -> None:
    """Link the article of a new version (its row as a dict) to its near-duplicates, to the
    archived articles its URLs ``cites``, and to the articles ``cited_by`` (id, language) that cite it."""
    links = [(later, earlier, "duplicate_of", 1 - distance / 64)
             for later, earlier, distance in near_duplicates(connection, article, simhash)]
    links += [(article["id"], other, citation_kind(language, other_language), 1.0)
              for other, other_language in cited_articles(connection, cites, url_forms) if other != article["id"]]
    links += [(other, article["id"], citation_kind(other_language, language), 1.0)
              for other, other_language in sorted(cited_by, key=str) if other != article["id"]]
    if links:
        rows = {(f, t, k): {"from_article_id": f, "to_article_id": t, "kind": k, "score": s, "detected_at": now}
                for f, t, k, s in links}
        connection.execute(insert_ignoring_duplicates(connection, ArticleLink), list(rows.values()))


def near_duplicates(connection: Connection, article: dict, simhash: int) -> list[tuple[int, int, int]]:
    """(later, earlier, distance) per other article with a version within
    NEAR_DUPLICATE_BITS: one lookup on the band index (its primary key), never a scan."""
    if simhash == 0:
        return []
    values = {f"band{band}": value for band, value in enumerate(simhash_bands(simhash))}
    best: dict[int, tuple[int, datetime]] = {}
    for other_id, other, seen in connection.execute(NEAR_DUPLICATES, {"article_id": article["id"], **values}):
        distance = hamming(simhash, other)
        if distance <= NEAR_DUPLICATE_BITS and distance < best.get(other_id, (65,))[0]:
            best[other_id] = (distance, seen)
    found = []
    for other, (distance, seen) in sorted(best.items()):
        earlier, later = sorted([(article["first_seen_at"], article["id"]), (seen, other)])
        found.append((later[1], earlier[1], distance))
    return found


def cited_articles(connection: Connection, urls: list[str],
                   url_forms: Callable[[str], Sequence[str]]) -> list[tuple[int, str | None]]:
    """The archived articles these URLs lead to, with their newest version's language."""
    if not urls:
        return []
    forms = {u: list(dict.fromkeys(url_forms(u))) for u in urls}
    rows = connection.execute(CITED_ARTICLES, {"forms": sorted({f for fs in forms.values() for f in fs})})
    rows = rows.mappings().all()
    found = []
    for fs in forms.values():
        best = pick_article(fs, [dict(r) for r in rows if r["form"] in fs])
        if best is not None:
            found.append((best["id"], best["language"]))
    return found


def citation_kind(citing_language: str | None, cited_language: str | None) -> str:
    if citing_language and cited_language and citing_language != cited_language:
        return "translation_of"
    return "cites"
