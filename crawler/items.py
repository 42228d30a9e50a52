"""What a spider hands to the pipelines (one visited page), and what leaves them: the
archived record, plain data that Scrapy's feed exports (``-O out.jsonl``) write."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from .archive.records import DiscoveryRecord, FetchRecord
from .archive.visits import Stored


# One visit: the spider's item is the archive's record (no copy between the layers).
PageItem = FetchRecord


@dataclass
class ArchivedVisit:
    """One visit as the archive recorded it: what leaves the pipelines, so what every feed
    exporter writes. The archive's own names (``fetches`` and ``article_versions``
    columns); dates are ISO 8601 strings, authors and tags lists. The article's fields are
    filled when the visit created or matched a version (``version`` is set), else empty.
    Never the page's HTML."""

    url: str
    source: str
    outcome: str
    http_status: int | None
    fetched_at: str
    article_url: str | None = None
    version: int | None = None
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published_at: str | None = None
    modified_at: str | None = None
    language: str | None = None
    section: str | None = None
    tags: list[str] = field(default_factory=list)
    summary: str | None = None
    text: str | None = None
    cited_url: str | None = None
    error: str | None = None

    @classmethod
    def of(cls, item: PageItem, stored: Stored) -> ArchivedVisit:
        visit = cls(url=item.url, source=item.source, outcome=stored.outcome, http_status=item.http_status,
                    fetched_at=_iso(item.fetched_at), article_url=stored.article_url, version=stored.version,
                    error=stored.error)
        article = item.article
        if article is not None and stored.version is not None:
            visit.title, visit.authors, visit.tags = article.title, list(article.authors), list(article.tags)
            visit.published_at, visit.modified_at = _iso(article.published_at), _iso(article.modified_at)
            visit.language, visit.section, visit.summary = article.language, article.section, article.summary
            visit.text, visit.cited_url = article.text, article.cited_url
        return visit


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


# A discovery is archived as it is found: the item is the archive's own record.
DiscoveryItem = DiscoveryRecord
