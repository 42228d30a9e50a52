"""Listing (category) pages: the article links they show and the next page."""

from __future__ import annotations

import re
from urllib.parse import urljoin

from parsel import Selector

from .types import Announced

NEXT_SELECTORS = ("link[rel='next']::attr(href)", "a[rel='next']::attr(href)", "a.next::attr(href)",
                  "a.next-page::attr(href)", ".pagination a.next::attr(href)")


def parse_listing(html: str, url: str, article_pattern: str | None, link_selectors: tuple[str, ...] = (),
                  next_selectors: tuple[str, ...] = ()) -> tuple[list[Announced], str | None]:
    """Article URLs on the page (from the listing's own items when ``link_selectors`` name
    them, matching the source's pattern, first-seen order) and the next page."""
    page = Selector(text=html)
    pattern = re.compile(article_pattern) if article_pattern else None
    hrefs = [h for s in link_selectors for h in page.css(s).getall()] or page.css("a::attr(href)").getall()
    links = []
    for href in hrefs:
        absolute = urljoin(url, href.strip()).split("#", 1)[0]
        if absolute.startswith("http") and (pattern is None or pattern.search(absolute)):
            links.append(absolute)
    next_url = None
    for selector in (*next_selectors, *NEXT_SELECTORS):
        value = page.css(selector).get()
        if value:
            next_url = urljoin(url, value.strip())
            break
    return [Announced(u) for u in dict.fromkeys(links)], next_url
