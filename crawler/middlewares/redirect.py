"""Redirects, followed for article requests too, and only where the crawler may go.

Article requests take every status as it comes (``handle_httpstatus_all``: a 304, 404 or
410 is a visit to record), which also switches Scrapy's redirects off: a moved article was
"empty page" and its new address never fetched (issue 9, item 8). This is Scrapy's
RedirectMiddleware (Location parsing, REDIRECT_MAX_TIMES, ``redirect_urls``) that also
follows 301/302/303/307/308 for article requests, and refuses with a reason, so the visit
is an ``error`` instead of a request that silently vanishes:

- a hop that comes back to a URL of the chain (a loop),
- a host outside the configured sources' domains (unless the request is ``allow_offsite``,
  as robots.txt is),
- an IP address, ``localhost``, or any private, loopback or link-local address.

The same checks apply to ``<meta http-equiv="refresh">`` redirects. Every hop's exchange is
in WARC: WarcMiddleware sits below, next to the downloader.
"""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urldefrag, urlsplit

from scrapy import Request
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.http import HtmlResponse, Response
from scrapy.utils.response import get_meta_refresh
from scrapy.utils.url import url_is_from_any_domain

from ..failures import RedirectRefused

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class GuardedRedirects:
    """The checks every hop passes, for RedirectMiddleware and MetaRefreshMiddleware alike."""

    crawler: Any
    max_redirect_times: int

    def _redirect(self, redirected: Request, request: Request, reason: Any) -> Request:
        chain = [*request.meta.get("redirect_urls", []), request.url]
        if redirected.url in chain:
            refusal = "redirect loop: " + " -> ".join([*chain, redirected.url])
        elif len(chain) > self.max_redirect_times:
            refusal = (f"more than {self.max_redirect_times} redirects (REDIRECT_MAX_TIMES): "
                       + " -> ".join([*chain, redirected.url]))
        else:
            where = off_limits(redirected.url, getattr(self.crawler.spider, "allowed_domains", None) or (),
                               bool(request.meta.get("allow_offsite")))
            refusal = f"redirect to {redirected.url} {where}" if where else None
        if refusal:
            self.crawler.stats.inc_value("redirect/refused")
            raise RedirectRefused(refusal)
        followed = super()._redirect(redirected, request, reason)  # type: ignore[misc]
        if is_article(request):
            # every article request ends in a visit: the dupe filter would drop a hop to a URL
            # seen earlier in the run without a word (loops are refused above)
            followed.dont_filter = True
        return followed


class SourceRedirectMiddleware(GuardedRedirects, RedirectMiddleware):
    def process_response(self, request: Request, response: Response) -> Request | Response:
        if not (is_article(request) and response.status in REDIRECT_STATUSES):
            return super().process_response(request, response)
        # Scrapy skips requests that take every status; ask it as if this one did not.
        asked = request.replace(meta={**request.meta, "handle_httpstatus_all": False})
        followed = super().process_response(asked, response)
        if not isinstance(followed, Request):
            return response
        followed.meta["handle_httpstatus_all"] = True
        return followed


class SourceMetaRefreshMiddleware(GuardedRedirects, MetaRefreshMiddleware):
    """Scrapy's ``<meta http-equiv="refresh">`` redirects, through the same checks."""

    def process_response(self, request: Request, response: Response) -> Request | Response:
        if is_article(request) and not 200 <= response.status < 300:
            return response  # a 404 page that moves on to the home page still says the article is gone
        if isinstance(response, HtmlResponse):
            _, url = get_meta_refresh(response, ignore_tags=self._ignore_tags)  # cached per response
            if url and urldefrag(url)[0] == urldefrag(request.url)[0]:
                return response  # a page that reloads itself (a live blog) is a page, not a loop
        return super().process_response(request, response)


def off_limits(url: str, domains: tuple[str, ...] | list[str], allow_offsite: bool = False) -> str | None:
    """Why a redirect may not go to ``url``, or None when it may."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return "refused: localhost"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        if not address.is_global:
            return f"refused: {host} is a private, loopback, link-local or reserved address"
        return f"refused: {host} is an IP address, not a configured source's host"
    if domains and not allow_offsite and not url_is_from_any_domain(url, domains):
        return "leaves the configured sources"
    return None


def is_article(request: Request) -> bool:
    return "source" in request.meta
