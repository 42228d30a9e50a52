"""FRONTIER_URL switches the crawl to the shared frontier: a Scrapy add-on (ADDONS in
settings.py), so that one setting changes the scheduler and the duplicate filter, which
settings.py cannot make depend on another setting. HostSlotMiddleware is always listed and
turns itself off without FRONTIER_URL."""

from __future__ import annotations

from scrapy.settings import BaseSettings

SCHEDULER = "crawler.frontier.scheduler.FrontierScheduler"
DUPEFILTER = "scrapy_redis.dupefilter.RFPDupeFilter"


class FrontierAddon:
    def update_settings(self, settings: BaseSettings) -> None:
        if settings.get("FRONTIER_URL"):
            settings.set("SCHEDULER", SCHEDULER, priority="addon")
            settings.set("DUPEFILTER_CLASS", DUPEFILTER, priority="addon")

