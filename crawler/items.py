"""What a spider hands to the pipelines: one visited page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

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
