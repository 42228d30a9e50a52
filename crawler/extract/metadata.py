"""Read metadata fields through a source's selector lists.

A selector is parsel CSS (``meta[property='og:title']::attr(content)``, ``h1``,
``p.tags a::text``) or ``jsonld:<key>`` for the page's schema.org article object.
An element selector without ``::text``/``::attr`` yields the element's whole text.
"""

from __future__ import annotations

import json
from typing import Any, Iterator

from parsel import Selector

from .text import clean_line

ARTICLE_TYPES = {"NewsArticle", "Article", "ReportageNewsArticle", "AnalysisNewsArticle",
                 "BlogPosting", "WebPage", "LiveBlogPosting", "VideoObject"}


def select_all(page: Selector, selectors: tuple[str, ...], jsonld: dict[str, Any]) -> list[str]:
    """Values of the first selector that yields anything, cleaned, in page order."""
    for selector in selectors:
        values = [v for v in (clean_line(x) for x in _evaluate(page, selector, jsonld)) if v]
        if values:
            return values
    return []


def select_first(page: Selector, selectors: tuple[str, ...], jsonld: dict[str, Any]) -> str | None:
    values = select_all(page, selectors, jsonld)
    return values[0] if values else None


def _evaluate(page: Selector, selector: str, jsonld: dict[str, Any]) -> Iterator[str]:
    if selector.startswith("jsonld:"):
        yield from _jsonld_values(jsonld.get(selector.removeprefix("jsonld:")))
    elif "::" in selector:
        yield from page.css(selector).getall()
    else:
        for node in page.css(selector):
            yield " ".join(node.xpath("string()").getall())


def _jsonld_values(value: Any) -> Iterator[str]:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            yield from _jsonld_values(item)
    elif isinstance(value, dict):
        name = value.get("name") or value.get("@value")
        if isinstance(name, str):
            yield name
    elif isinstance(value, str):
        yield value
    elif isinstance(value, (int, float)):
        yield str(value)


def jsonld_article(page: Selector) -> dict[str, Any]:
    """The first schema.org article object in the page's JSON-LD blocks (or {})."""
    for raw in page.css('script[type="application/ld+json"]::text').getall():
        try:
            data = json.loads(raw)
        except ValueError:
            continue  # sites ship broken JSON-LD often enough; the other selectors remain
        for node in _walk(data):
            kinds = node.get("@type")
            kinds = set(kinds) if isinstance(kinds, list) else {kinds}
            if kinds & ARTICLE_TYPES and (node.get("headline") or node.get("datePublished")):
                return node
    return {}


def _walk(data: Any) -> Iterator[dict[str, Any]]:
    if isinstance(data, list):
        for item in data:
            yield from _walk(item)
    elif isinstance(data, dict):
        yield data
        yield from _walk(data.get("@graph", []))
