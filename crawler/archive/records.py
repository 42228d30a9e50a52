"""What the crawl hands the archive, as plain data (no SQLAlchemy, no Scrapy): the
spiders build these (a visit is Scrapy's item, ``crawler.items.PageItem``), the
pipelines fill them in, archive/visits.py stores them. One record per visit, one name
per value from the spider to the ``fetches`` row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..extract import Article


@dataclass
class FetchRecord:
    """One visit, as plain data. ``html`` is the decoded page (Scrapy's ``response.text``,
    so a wrong charset declaration is already corrected); ExtractPipeline fills ``article``
    or sets ``outcome``/``error`` when the page holds no article. The page is never in the
    repr: Scrapy logs an item's repr when a pipeline fails."""

    url: str
    source: str
    fetched_at: datetime
    http_status: int | None = None
    html: str | None = field(default=None, repr=False)
    article: Article | None = field(default=None, repr=False)
    outcome: str | None = None  # for visits without an article: error, skipped, not_modified, unchanged
    error: str | None = None
    crawl_run_id: int | None = None
    # every URL that led here (requested, redirected); the article's canonical URL is added
    urls: tuple[str, ...] = ()
    # the archived article the request was resolved to before it was sent (None: unknown,
    # or not resolved); the store takes it rather than asking again
    article_id: int | None = None
    etag: str | None = None
    last_modified: str | None = None
    raw_hash: str | None = None
    # raw-body hash of the archived article's last capture, when the request was for one
    known_raw_hash: str | None = None
    # the exchange's WARC record: crawler.warc.RecordRef as a dict (a future of it until
    # the archive pipeline stores the visit)
    warc: Any = field(default=None, repr=False)
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
