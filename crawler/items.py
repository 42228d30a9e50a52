"""What a spider hands to the pipelines: one visited page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .archive.records import DiscoveryRecord
from .extract import Article


@dataclass
class PageItem:
    """One visit. ``html`` is the decoded page (Scrapy's ``response.text``, so a
    wrong charset declaration is already corrected); ExtractPipeline fills ``article``
    or sets ``outcome``/``error`` when the page holds no article."""

    url: str
    source: str
    fetched_at: datetime
    http_status: int | None = None
    html: str | None = None
    article: Article | None = None
    outcome: str | None = None
    error: str | None = None
    # every URL that led here: the requested one and any redirect hops
    urls: tuple[str, ...] = ()
    etag: str | None = None
    last_modified: str | None = None
    raw_hash: str | None = None
    # raw-body hash of the archived article at this URL, when there is one
    known_raw_hash: str | None = None
    # where the exchange's WARC record lies (crawler.warc.RecordRef as a dict)
    warc: dict | None = None



# A discovery is archived as it is found: the item is the archive's own record.
DiscoveryItem = DiscoveryRecord
