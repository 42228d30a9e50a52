"""Politeness the stock middlewares leave out: backing off as a server asks (Retry-After
on 429/503, RFC 9110 §10.2.3) or exponentially, and the slot delay that robots.txt
Crawl-delay (middlewares/robots.py) also sets."""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.http import Response
from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)


def slow_down(crawler, request: Request, delay: float, why: str) -> None:  # noqa: ANN001
    """Raise the download slot's delay for the request's site to at least ``delay``."""
    downloader = crawler.engine.downloader
    slot = downloader.slots.get(downloader.get_slot_key(request))
    if slot is not None and slot.delay < delay:
        logger.info("politeness: %s for %s: waiting %.1f s between requests", why, request.url, delay)
        slot.delay, slot.jitter = delay, 0.0


class BackoffRetryMiddleware(RetryMiddleware):
    """Scrapy's retries, waiting as the server asks (Retry-After) or 2^n × RETRY_BACKOFF_BASE
    seconds before retrying a 429 or 503, capped by RETRY_BACKOFF_MAX."""

    def __init__(self, settings: BaseSettings):
        super().__init__(settings)
        self.backoff_base = settings.getfloat("RETRY_BACKOFF_BASE")
        self.backoff_max = settings.getfloat("RETRY_BACKOFF_MAX")

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if response.status in (429, 503) and not request.meta.get("dont_retry"):
            tries = request.meta.get("retry_times", 0)
            delay = retry_after(response) or self.backoff_base * 2 ** tries
            slow_down(self.crawler, request, min(delay, self.backoff_max), f"HTTP {response.status}")
        return super().process_response(request, response)


def retry_after(response: Response) -> float | None:
    """Seconds the server asked us to wait: delta-seconds or an HTTP-date."""
    value = (response.headers.get(b"Retry-After") or b"").decode("latin-1").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(timezone.utc)).total_seconds())
    except (TypeError, ValueError):
        return None
