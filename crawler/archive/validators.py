"""What a conditional re-fetch of an archived article needs (its ETag, Last-Modified,
raw-body hash and last full capture), looked up by any of the URLs it is known under.
Read on the archive's reader engine: lookups during a crawl never wait for the writer."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Sequence

from sqlalchemy import Row, bindparam, select

from .models import ArticleRow, ArticleUrl
from .store import Archive, pick_article


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


# Built once. Each row carries the URL form it matched; _validators_by_forms picks per URL.
VALIDATORS_QUERY = (
    select(ArticleUrl.url.label("form"), ArticleRow.id, ArticleRow.url, ArticleRow.etag, ArticleRow.last_modified,
           ArticleRow.raw_hash, ArticleRow.capture_record_id, ArticleRow.capture_url, ArticleRow.capture_date,
           ArticleRow.capture_digest)
    .join(ArticleUrl, ArticleUrl.article_id == ArticleRow.id)
    .where(ArticleUrl.url.in_(bindparam("forms", expanding=True))))


def validators(archive: Archive, *urls: str) -> Validators | None:
    """ETag, Last-Modified and raw-body hash of the article any of ``urls`` leads to."""
    forms = tuple(dict.fromkeys(f for url in urls if url for f in archive.url_forms(url)))
    return _validators_by_forms(archive, {forms: forms}).get(forms)


def validators_of(archive: Archive, urls: Iterable[str]) -> dict[str, Validators | None]:
    """``validators()`` of many URLs in one query (a spider's batch of requests): the
    same answer per URL, without a round trip per URL."""
    return _validators_by_forms(archive, {url: archive.url_forms(url) for url in dict.fromkeys(urls) if url})


def _validators_by_forms(archive: Archive, forms_of: dict[Any, Sequence[str]]) -> dict[Any, Validators | None]:
    """Per key, the article one of its URL forms leads to: one whose own URL is among
    the forms (the canonical match) wins, then the oldest."""
    rows: dict[str, list[Row]] = {}
    wanted = list(dict.fromkeys(f for forms in forms_of.values() for f in forms))
    if wanted:
        with archive.reader.connect() as connection:
            for row in connection.execute(VALIDATORS_QUERY, {"forms": wanted}):
                rows.setdefault(row.form, []).append(row)
    found: dict[Any, Validators | None] = {}
    for key, forms in forms_of.items():
        best = pick_article(forms, [row._mapping for form in forms for row in rows.get(form, ())])
        found[key] = Validators(*tuple(best.values())[1:]) if best is not None else None
    return found
