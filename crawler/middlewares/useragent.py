"""An identifying User-Agent: USER_AGENT with ``{contact}`` filled from CONTACT_URL, so
a site's operator can reach whoever runs this archive."""

from __future__ import annotations

from scrapy.crawler import Crawler
from scrapy.downloadermiddlewares.useragent import UserAgentMiddleware


class ContactUserAgentMiddleware(UserAgentMiddleware):
    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ContactUserAgentMiddleware:
        template = crawler.settings.get("USER_AGENT")
        return cls(template.replace("{contact}", crawler.settings.get("CONTACT_URL") or "no contact given"))
