"""Links between articles: near-duplicates (SimHash band index, never a table scan),
citations and translations. Called by the store inside its transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Callable
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..dedup import hamming, simhash_bands
from ..dedup.fingerprint import NEAR_DUPLICATE_BITS
from .models import ArticleLink, ArticleRow, ArticleUrl, ArticleVersion, Citation, SimhashBand


def link_article(session: Session, row: ArticleRow, version: ArticleVersion, now: datetime,
                 find: Callable[[str], ArticleRow | None]) -> None:
    """Link a new version's article to its near-duplicates, to what it cites, and the
    articles archived earlier that cite it. ``find`` resolves a URL to an archived article."""
    for other_id, distance in near_duplicates(session, row.id, version.simhash):
        first, second = sorted((row, session.get(ArticleRow, other_id)), key=lambda a: (a.first_seen_at, a.id))
        _add_link(session, second.id, first.id, "duplicate_of", 1 - distance / 64, now)
    session.flush()
    for cited_url in session.scalars(select(Citation.url).where(Citation.version_id == version.id,
                                                                Citation.url.is_not(None))):
        cited = find(cited_url)
        if cited is not None and cited.id != row.id:
            _add_link(session, row.id, cited.id, _citation_kind(session, version, cited), 1.0, now)
    urls = select(ArticleUrl.url).where(ArticleUrl.article_id == row.id)
    for citing in session.scalars(select(ArticleVersion).join(Citation, Citation.version_id == ArticleVersion.id)
                                  .where(Citation.url.in_(urls))):
        if citing.article_id != row.id:
            _add_link(session, citing.article_id, row.id, _citation_kind(session, citing, row), 1.0, now)


def citation_row(value: str, version_id: int, article_id: int) -> Citation:
    if value.startswith(("http://", "https://")):
        return Citation(version_id=version_id, article_id=article_id, url=value, host=urlsplit(value).hostname)
    return Citation(version_id=version_id, article_id=article_id, name=value)


def near_duplicates(session: Session, article_id: int, fingerprint: int) -> list[tuple[int, int]]:
    """Other articles with a version within NEAR_DUPLICATE_BITS, found through the band index."""
    if fingerprint == 0:
        return []
    bands = simhash_bands(fingerprint)
    clauses = [(SimhashBand.band == band) & (SimhashBand.value == value) for band, value in enumerate(bands)]
    query = (select(SimhashBand.article_id, ArticleVersion.simhash).join(ArticleVersion, ArticleVersion.id == SimhashBand.version_id)
             .where(SimhashBand.article_id != article_id).where(clauses[0] | clauses[1] | clauses[2] | clauses[3]))
    best: dict[int, int] = {}
    for other_id, other in session.execute(query):
        distance = hamming(fingerprint, other)
        if distance <= NEAR_DUPLICATE_BITS and distance < best.get(other_id, 65):
            best[other_id] = distance
    return sorted(best.items())


def _citation_kind(session: Session, citing: ArticleVersion, cited: ArticleRow) -> str:
    cited_latest = _newest(session, cited.id)
    if cited_latest and citing.language and cited_latest.language and citing.language != cited_latest.language:
        return "translation_of"
    return "cites"


def _add_link(session: Session, from_id: int, to_id: int, kind: str, score: float, now: datetime) -> None:
    exists = session.scalar(select(ArticleLink.id).where(
        ArticleLink.from_article_id == from_id, ArticleLink.to_article_id == to_id, ArticleLink.kind == kind))
    if exists is None:
        session.add(ArticleLink(from_article_id=from_id, to_article_id=to_id, kind=kind, score=score, detected_at=now))


def _newest(session: Session, article_id: int) -> ArticleVersion | None:
    return session.scalar(select(ArticleVersion).where(ArticleVersion.article_id == article_id)
                          .order_by(ArticleVersion.version.desc()).limit(1))
