"""robots.txt, read once per host and run, answering every request that waited for it.

Scrapy 2.19's RobotsTxtMiddleware lets the requests that arrive while robots.txt downloads
await one Deferred; only the first gets the parser, the others get None and pass unchecked
(issue 9: four start URLs on one host, and the disallowed one was archived). Here each
waiter has its own Deferred, fired with the host's rules.

What robots.txt answered decides (RFC 9309 §2.3.1): 2xx, its rules, including Crawl-delay
(Protego reads it, Scrapy does not apply it); 4xx, "unavailable": everything allowed;
5xx or no answer at all, "unreachable": the whole host is disallowed for this run. 429 counts
as unreachable: the server asks us to slow down. Nothing is cached across runs, so the
next run asks again.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import RobotParser
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.misc import build_from_crawler, load_object
from twisted.internet.defer import Deferred

from ..failures import RobotsTxtRefused, describe_failure
from .politeness import slow_down

logger = logging.getLogger(__name__)

# A host's rules: a parser, None (everything allowed) or why the whole host is refused.
Rules = RobotParser | None | RobotsTxtRefused


class RobotsTxtMiddleware:
    DOWNLOAD_PRIORITY = 1000

    def __init__(self, crawler: Crawler, parser_class: type[RobotParser], useragent: str, max_crawl_delay: float):
        self.crawler = crawler
        self.parser_class = parser_class
        self.useragent = useragent
        self.max_crawl_delay = max_crawl_delay
        self.rules: dict[str, Rules] = {}
        self.waiting: dict[str, list[Deferred[Rules]]] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RobotsTxtMiddleware:
        settings = crawler.settings
        if not settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured("ROBOTSTXT_OBEY is off")
        useragent = settings.get("ROBOTSTXT_USER_AGENT") or settings.get("USER_AGENT")
        return cls(crawler, load_object(settings.get("ROBOTSTXT_PARSER")), useragent,
                   settings.getfloat("ROBOTSTXT_MAX_CRAWL_DELAY"))

    async def process_request(self, request: Request) -> None:
        if request.meta.get("dont_obey_robotstxt") or urlsplit(request.url).scheme not in ("http", "https"):
            return
        rules = await self.rules_for(request)
        if isinstance(rules, RobotsTxtRefused):
            raise RobotsTxtRefused(str(rules))
        if rules is None:
            return
        if not rules.allowed(request.url, self.useragent):
            self.crawler.stats.inc_value("robotstxt/forbidden")
            raise RobotsTxtRefused(f"disallowed by {robots_url(request.url)}")
        delay = rules.crawl_delay(self.useragent)
        if delay:
            request.meta["autothrottle_dont_adjust_delay"] = True
            slow_down(self.crawler, request, min(delay, self.max_crawl_delay), "robots.txt Crawl-delay")

    async def rules_for(self, request: Request) -> Rules:
        host = urlsplit(request.url).netloc
        if host in self.rules:
            return self.rules[host]
        if host in self.waiting:  # robots.txt is on its way: wait for it, like the first request
            waiter: Deferred[Rules] = Deferred()
            self.waiting[host].append(waiter)
            return await maybe_deferred_to_future(waiter)
        self.waiting[host] = []
        rules: Rules = None
        try:
            rules = self.rules[host] = await self._fetch(request)
        finally:  # whatever happened, no waiter waits for ever
            for waiter in self.waiting.pop(host):
                waiter.callback(rules)
        return rules

    async def _fetch(self, request: Request) -> Rules:
        url = robots_url(request.url)
        # allow_offsite: RFC 9309 §2.3.1.2 lets robots.txt redirect to another host
        robots = Request(url, priority=self.DOWNLOAD_PRIORITY, callback=NO_CALLBACK,
                         meta={"dont_obey_robotstxt": True, "allow_offsite": True})
        self.crawler.stats.inc_value("robotstxt/request_count")
        try:
            response = await self.crawler.engine.download_async(robots)
        except IgnoreRequest as exc:  # a refused redirect: unavailable, as after too many (§2.3.1.2)
            logger.info("robots.txt: %s; everything allowed", describe_failure(exc, url))
            return None
        except Exception as exc:  # noqa: BLE001 - any network error: unreachable
            self.crawler.stats.inc_value(f"robotstxt/exception_count/{type(exc).__name__}")
            what = describe_failure(exc, url).removeprefix(f"{url}: ")
            return self._unreachable(url, f"could not be fetched ({what})")
        self.crawler.stats.inc_value(f"robotstxt/response_status_count/{response.status}")
        if response.status >= 500 or response.status == 429:
            return self._unreachable(url, f"answered HTTP {response.status}")
        if not 200 <= response.status < 300:  # 4xx, or a redirect not followed: unavailable
            return None
        parser = build_from_crawler(self.parser_class, self.crawler, response.body)
        await self.crawler.signals.send_catch_log_async(signal=signals.robots_parsed, robotparser=parser,
                                                        request=request)
        return parser

    def _unreachable(self, url: str, what: str) -> RobotsTxtRefused:
        reason = f"{url} {what}: the host counts as disallowed for this run (RFC 9309)"
        logger.warning("robots.txt: %s", reason)
        self.crawler.stats.inc_value("robotstxt/host_disallowed")
        return RobotsTxtRefused(reason)


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"
