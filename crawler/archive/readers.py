"""Reading the archive by URL: the article any of its URLs leads to, its versions, its
links; and row counts. Objects returned are detached (loaded before the session closes)."""

from __future__ import annotations

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from .models import ArticleLink, ArticleRow, ArticleUrl, ArticleVersion
from .store import Archive


def article_for(archive: Archive, url: str) -> ArticleRow | None:
    """The article row (with its source loaded) any of its URLs leads to."""
    with Session(archive.engine) as session:
        row = _find_article(session, archive, url)
        if row is not None:
            row.source  # noqa: B018 - load it before the session closes
        return row


def versions_of(archive: Archive, url: str) -> list[ArticleVersion]:
    """All versions of the article any of its URLs leads to, oldest first."""
    with Session(archive.engine) as session:
        row = _find_article(session, archive, url)
        if row is None:
            return []
        return list(session.scalars(select(ArticleVersion).where(ArticleVersion.article_id == row.id)
                                    .order_by(ArticleVersion.version)))


def links_of(archive: Archive, url: str) -> list[ArticleLink]:
    """The links (near-duplicate, citation, translation) from or to the article of ``url``."""
    with Session(archive.engine) as session:
        row = _find_article(session, archive, url)
        if row is None:
            return []
        return list(session.scalars(select(ArticleLink).where(
            (ArticleLink.from_article_id == row.id) | (ArticleLink.to_article_id == row.id))))


def count(engine: Engine, model: type) -> int:
    """Rows of one table (a model class)."""
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(model))


def _find_article(session: Session, archive: Archive, *urls: str) -> ArticleRow | None:
    """The article any of these URLs is known under: as given, canonical, or canonical by
    the owning source's rules (zingnews.vn -> znews.vn). A canonical match wins."""
    candidates = list(dict.fromkeys(u for url in urls if url for u in archive.url_forms(url)))
    if not candidates:
        return None
    return session.scalar(select(ArticleRow).join(ArticleUrl, ArticleUrl.article_id == ArticleRow.id)
                          .where(ArticleUrl.url.in_(candidates))
                          .order_by(ArticleRow.url.in_(candidates).desc(), ArticleRow.id).limit(1))
