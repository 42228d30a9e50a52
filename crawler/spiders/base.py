"""What every spider shares: source selection, the article request and its parsing,
and the per-run limits on what discovery may fetch."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime, timezone
from functools import cached_property
from typing import Any, Iterable, Iterator

from dateutil import parser as dateutil_parser
from scrapy import Request, Spider
from scrapy.crawler import Crawler
from scrapy.exceptions import IgnoreRequest, UsageError
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from ..archive.validators import validators_of
from ..extensions.archive import archive_of, is_unreachable, writer_of
from ..middlewares.conditional import KNOWN, KNOWN_RAW_HASH
from ..discover import Announced
from ..failures import RedirectRefused, describe_failure, failure_kind
from ..items import DiscoveryItem, PageItem
from ..middlewares.failures import REPORTED, count_failure, report_failure
from ..sources import Source, source_for_url, sources_from_settings
from .limits import ELSEWHERE, GRANTED, OVER_LIMIT, UNANSWERED, ProcessLimits

# the stat of a discovered article a run's limits did not grant
VERDICT_STATS = {OVER_LIMIT: "discover/over_limit", UNANSWERED: "discover/limits_unanswered",
                 ELSEWHERE: "discover/elsewhere"}

logger = logging.getLogger(__name__)


class ArticleSpider(Spider):
    """Base of all spiders. Arguments: ``-a sources=a,b``, ``-a max_articles=N`` (new
    articles fetched per run), ``-a since=2025-06-01`` (skip announced articles older)."""

    # the -a arguments a spider takes; any other is refused (a typo must not crawl everything)
    arguments: tuple[str, ...] = ("sources", "max_articles", "since")

    def __init__(self, *args: Any, sources: str | None = None, max_articles: str | None = None,
                 since: str | None = None, **kwargs: Any):
        unknown = [f"-a {name}" for name in kwargs]
        if unknown:
            raise UsageError(f"unknown argument {', '.join(unknown)} of spider {self.name}; "
                             f"it takes: {', '.join(f'-a {a}' for a in self.arguments)}")
        super().__init__(*args)
        self.source_filter = split_list(sources)
        self.max_articles = _positive_int("max_articles", max_articles)
        self.since = _since(since)
        self.requested: set[str] = set()  # new articles this process requested or saw requested

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> ArticleSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.configure(sources_from_settings(crawler.settings))
        # read once: the limits are asked per discovered URL and per listing page
        spider.max_per_source = crawler.settings.getint("DISCOVER_MAX_PER_SOURCE")
        spider.max_pages = crawler.settings.getint("DISCOVER_MAX_PAGES")
        return spider

    @classmethod
    def check_arguments(cls, all_sources: dict[str, Source], **kwargs: str) -> None:
        """Raise UsageError, as a crawl would at its start, for arguments it cannot run with."""
        cls(**kwargs).configure(all_sources)

    def configure(self, all_sources: dict[str, Source]) -> None:
        unknown = [name for name in self.source_filter if name not in all_sources]
        if unknown:
            raise UsageError(f"-a sources: unknown source(s) {', '.join(unknown)}; "
                             f"configured: {', '.join(all_sources)}")
        self.all_sources = all_sources
        self.sources = {n: s for n, s in all_sources.items() if not self.source_filter or n in self.source_filter}
        # cited originals may be on any configured source, so all of them are on-site
        self.allowed_domains = sorted({d for s in all_sources.values() for d in s.domains})

    def run_args(self) -> dict[str, Any]:
        args = {"sources": self.source_filter, "max_articles": self.max_articles,
                "since": self.since.isoformat() if self.since else None}
        return {k: v for k, v in args.items() if v}

    # -- the article ---------------------------------------------------------------

    def article_request(self, url: str, source: Source, **meta: Any) -> Request:
        # Every status reaches parse_article, so a 304 or 404 is archived as a fetch too;
        # redirects are still followed (middlewares/redirect.py).
        return Request(url, callback=self.parse_article, errback=self.fetch_failed,
                       meta={"source": source.name, "handle_httpstatus_all": True, **meta})

    def parse_article(self, response: Response) -> PageItem:
        item = PageItem(url=response.url, source=self._source_name(response.request), fetched_at=utcnow(),
                        http_status=response.status, urls=_urls(response.request, response.url),
                        article_id=_article_id(response.meta), known_raw_hash=response.meta.get(KNOWN_RAW_HASH),
                        warc=response.meta.get("warc"))
        if response.status == 304:
            item.outcome = "not_modified"
        elif response.status >= 400:
            item.outcome, item.error = "error", f"HTTP {response.status} for {response.url}"
        elif response.status >= 300:  # a redirect would have been followed or refused
            location = _header(response, b"Location") or "none"
            item.outcome = "error"
            item.error = f"{response.url}: HTTP {response.status} not followed (Location: {location})"
        elif reason := not_html(response):
            item.outcome, item.error = "skipped", f"{response.url}: {reason}"
        else:
            item.html = response.text
            item.raw_hash = hashlib.sha256(response.body).hexdigest()
            item.etag = _header(response, b"ETag")
            item.last_modified = _header(response, b"Last-Modified")
        return item

    def fetch_failed(self, failure: Failure) -> PageItem | None:
        request = failure.request
        if "source" not in request.meta:
            return None
        # robots.txt and the offsite filter refuse (skipped); a refused redirect is a page
        # asked for and not obtained (error)
        skipped = failure.check(IgnoreRequest) and not failure.check(RedirectRefused)
        error = describe_failure(failure, request.url)
        if skipped or not request.meta.get(REPORTED):
            # FailuresMiddleware logged and counted what reached it; a middleware nearer the
            # downloader may refuse a response past it (a body cut short)
            logger.log(logging.INFO if skipped else logging.WARNING, "fetch: %s", error)
            if not skipped:
                count_failure(self.crawler.stats, failure_kind(failure, error, request.url))
        return PageItem(url=request.url, source=self._source_name(request), fetched_at=utcnow(),
                        urls=_urls(request, request.url), outcome="skipped" if skipped else "error", error=error)

    def _source_name(self, request: Request) -> str:
        """The source of the URL a request ended at: a redirect may lead to another configured source."""
        source = source_for_url(self.all_sources, request.url)
        return source.name if source else request.meta["source"]

    # -- discovery -------------------------------------------------------------------

    def announced(self, entries: list[Announced], source: Source, method: str, found_on: str) -> Iterator[Any]:
        """Discovery items for the source's article URLs among ``entries``, and requests for
        the new ones within this run's limits."""
        pattern = re.compile(source.article_pattern) if source.article_pattern else None
        wanted = [(entry, url) for entry in entries if (url := source.canonical(entry.url)) and source.owns(url)
                  and not (pattern and not pattern.search(url))]
        # Which of them are archived: one query per listing, and the answer rides with the
        # request (meta KNOWN), so nothing downstream asks again.
        known = self._known((url for _, url in wanted if url not in self.requested))
        new = [url for entry, url in wanted if not self._too_old(entry) and url not in self.requested
               and known.get(url) is None]
        verdicts = self.limits.grant(source.name, list(dict.fromkeys(new)))  # one ask for the page
        for entry, url in wanted:
            yield DiscoveryItem(url=url, source=source.name, method=method, found_on=found_on, found_at=utcnow(),
                                published_at=entry.published_at, guid=entry.guid, title=entry.title)
            if self._too_old(entry):
                self.crawler.stats.inc_value("discover/too_old")
                continue
            if url in self.requested or known.get(url) is not None:
                continue
            verdict = verdicts[url]
            self.crawler.stats.inc_value(f"discover/{method}_article" if verdict == GRANTED else VERDICT_STATS[verdict])
            if verdict in (OVER_LIMIT, UNANSWERED):
                continue
            self.requested.add(url)
            # ELSEWHERE: counted once, and requested again all the same: the run's duplicate filter
            # drops it if the member that found it first queued it, not if that one died first
            yield self.article_request(url, source, **{KNOWN: (url, None)})

    def _too_old(self, entry: Announced) -> bool:
        return bool(self.since and entry.published_at and entry.published_at < self.since)

    @cached_property
    def limits(self) -> ProcessLimits:
        """The run's limits on new articles: counted with the other processes of its run on the
        shared frontier (whose scheduler offers them), else in this process."""
        engine = getattr(self.crawler, "engine", None)
        shared = getattr(engine.scheduler if engine else None, "run_limits", None)
        return (shared and shared(self.max_articles, self.max_per_source)) or \
            ProcessLimits(self.max_articles, self.max_per_source)

    def _known(self, urls: Iterable[str]) -> dict[str, Any]:
        """validators_of the archive; none known while its database does not answer: those
        requests go out unconditional, and an unchanged page is stored ``unchanged``."""
        try:
            return validators_of(archive_of(self.crawler), urls)
        except Exception as exc:
            if not is_unreachable(exc):
                raise
            writer_of(self.crawler).outage.failed(exc)
            return {}

    def unreadable(self, response: Response, what: str) -> None:
        """A feed, sitemap or listing page that answered but cannot be read (a maintenance
        page, a cut body): a failed request of this run, with its ``fetches`` row."""
        report_failure(self.crawler, self.all_sources, response.request, f"{response.url}: {what}", "unreadable",
                       response.status, counted=True)

    def limit_reached(self) -> bool:
        return self.limits.reached()


def split_list(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").split(",") if part.strip()]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _positive_int(name: str, value: str | None) -> int | None:
    if value is None:
        return None
    if not value.isdigit() or int(value) < 1:
        raise UsageError(f"-a {name}={value}: expected a whole number of 1 or more")
    return int(value)


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = dateutil_parser.isoparse(value)
    except ValueError:
        raise UsageError(f"-a since={value}: expected a date such as 2025-06-01 or 2025-06-01T08:00+07:00") from None
    return parsed.replace(tzinfo=parsed.tzinfo or timezone.utc).astimezone(timezone.utc)


def _urls(request: Request | None, final_url: str) -> tuple[str, ...]:
    hops = request.meta.get("redirect_urls", []) if request is not None else []
    return tuple(dict.fromkeys([*hops, final_url]))


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


HTML_TYPES = ("text/html", "application/xhtml+xml")
# Types that say nothing of the content: the body decides.
VAGUE_TYPES = ("", "application/octet-stream", "binary/octet-stream", "text/plain", "application/unknown")
# A body's first bytes -> what it is, for a server that calls anything text/html.
SIGNATURES = ((b"%PDF-", "a PDF document"), (b"\x89PNG\r\n\x1a\n", "a PNG image"), (b"\xff\xd8\xff", "a JPEG image"),
              (b"GIF87a", "a GIF image"), (b"GIF89a", "a GIF image"), (b"PK\x03\x04", "a ZIP archive"),
              (b"\x1f\x8b", "gzip data"), (b"OggS", "an Ogg file"), (b"ID3", "an MP3 file"))


def not_html(response: Response) -> str | None:
    """Why the response is not an HTML page, or None when it is one."""
    content_type = _header(response, b"Content-Type") or ""
    media_type = content_type.partition(";")[0].strip().lower()
    shown = content_type or "none"
    if media_type not in HTML_TYPES + VAGUE_TYPES:
        return f"not an HTML page (Content-Type: {shown})"
    if what := sniff(response.body):
        return f"not an HTML page (Content-Type: {shown}; the body is {what})"
    markup = response.body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"<"
    if (media_type in VAGUE_TYPES and not markup) or not isinstance(response, TextResponse):
        return f"not an HTML page (Content-Type: {shown})"
    return None


def sniff(body: bytes) -> str | None:
    """What a body is by its first bytes (a PDF, an image, ...), when it is plainly not markup."""
    head = body[:16]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "a WebP image"
    if head[4:8] == b"ftyp":  # ISO media: MP4, AVIF, HEIC
        return "an MP4, AVIF or HEIC file"
    return next((what for magic, what in SIGNATURES if head.startswith(magic)), None)


def _article_id(meta: dict) -> int | None:
    """The archived article the request was resolved to (middlewares/conditional.py)."""
    known = meta.get(KNOWN)
    return known[1].article_id if known and known[1] is not None else None
