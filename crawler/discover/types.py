from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Announced:
    """An article URL as a feed, sitemap or listing announced it."""

    url: str
    published_at: datetime | None = None
    guid: str | None = None
    title: str | None = None
