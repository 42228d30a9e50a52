"""What the crawl hands the archive, as plain data (no SQLAlchemy, no Scrapy): the
spiders and pipelines build these, archive/store.py stores them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..extract import Article


@dataclass(frozen=True)
class FetchRecord:
    """What one visit produced, as plain data: the pipeline's input to the archive."""

    url: str
    source: str
    fetched_at: datetime
    http_status: int | None = None
    article: Article | None = None
    outcome: str | None = None  # for visits without an article: error, skipped, not_modified, unchanged
    error: str | None = None
    crawl_run_id: int | None = None
    # every URL that led here (requested, redirected); the article's canonical URL is added
    urls: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    raw_hash: str | None = None
    # the exchange's WARC record: crawler.warc.RecordRef as a dict
    warc: dict[str, Any] | None = None
    # "reextract" for a version made by re-running extraction over an archived page
    cause: str = "crawl"
    # the source's body selectors found fewer than min_text_chars characters (``error``
    # says so): a version of an archived article (a retraction), never a new article
    short_body: bool = False

    def warc_columns(self) -> dict[str, Any]:
        warc = self.warc or {}
        return {"warc_filename": warc.get("filename"), "warc_offset": warc.get("offset"),
                "warc_length": warc.get("length"), "warc_record_id": warc.get("record_id"),
                "warc_record_type": warc.get("record_type")}


@dataclass(frozen=True)
class DiscoveryRecord:
    """An article URL found on a feed, sitemap, listing or citing page."""

    url: str
    source: str
    method: str
    found_on: str
    found_at: datetime
    published_at: datetime | None = None
    guid: str | None = None
    title: str | None = None
    crawl_run_id: int | None = None
