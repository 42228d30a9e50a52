"""Read metadata fields through selector lists: the source's, then the generic layers.

A selector is CSS as parsel reads it (``meta[property='og:title']::attr(content)``,
``h1``, ``p.tags a::text``), ``jsonld:<key>`` for the page's schema.org article
object, ``url:date`` for a date in the page's URL, or one of the library fallbacks
``trafilatura:author``, ``trafilatura:title`` and ``htmldate:published``. An element selector without ``::text``/``::attr`` yields
the element's whole text. A list yields the values of its first selector that yields
anything.

The page is read once (``PageData``): its JSON-LD article with ``@id`` references
resolved, its ``<meta>`` tags by name (a ``meta[...]::attr(content)`` selector is a
dictionary lookup). A selector whose last step names a tag walks only the elements of
that tag (lxml filters them in C); others go through cssselect's XPath, compiled once.
"""

from __future__ import annotations

import html
import json
import re
from functools import cached_property, lru_cache
from typing import Any, Iterator

from lxml import etree
from lxml.html import HtmlElement
from parsel.csstranslator import css2xpath

from .selectors import plan, select
from .text import clean_line

# schema.org types that describe the article itself, best first.
ARTICLE_TYPES = ("NewsArticle", "ReportageNewsArticle", "AnalysisNewsArticle", "OpinionNewsArticle",
                 "BackgroundNewsArticle", "ReviewNewsArticle", "Article", "BlogPosting", "LiveBlogPosting",
                 "TechArticle", "Report", "SocialMediaPosting", "WebPage", "VideoObject")
META_SELECTOR = re.compile(r"""^meta\[(name|property|itemprop|http-equiv)\s*=\s*['"]?([^'"\]]+)['"]?\]::attr\(content\)$""")
JSONLD_SCRIPTS = etree.XPath("//script[contains(translate(@type, 'LDJSON', 'ldjson'), 'ld+json')]/text()")
# A date in a URL path: /2019/11/18/, /2019-11-18-, /20191118/ (year 1990-2099).
URL_DATE = re.compile(r"/((?:19|20)\d\d)[/-]?(0[1-9]|1[0-2])[/-]?(0[1-9]|[12]\d|3[01])(?=[/\-_.]|$)")
# What sites wrap JSON-LD in: HTML comments, CDATA markers.
JSONLD_WRAPPING = re.compile(r"^\s*(?:<!--|//\s*<!\[CDATA\[|<!\[CDATA\[)|(?:-->|//\s*\]\]>|\]\]>)\s*$")


class PageData:
    """What the metadata selectors read, taken from the tree once."""

    def __init__(self, root: HtmlElement, url: str = ""):
        self.root = root
        self.url = url

    @cached_property
    def meta(self) -> dict[str, list[str]]:
        """<meta> contents by lowercased name, property, itemprop or http-equiv, in page order
        (lowercased: ``name="Description"`` is as common as ``name="description"``)."""
        found: dict[str, list[str]] = {}
        for element in self.root.iter("meta"):
            if element.get("content") is None:
                continue
            for attribute in ("name", "property", "itemprop", "http-equiv"):
                key = element.get(attribute)
                if key:
                    found.setdefault(f"{attribute}={key.strip().lower()}", []).append(element.get("content"))
        return found

    @cached_property
    def jsonld(self) -> dict[str, Any]:
        """The page's schema.org article object, its @id references resolved (or {})."""
        nodes = list(_jsonld_nodes(self.root))
        index = {n["@id"]: n for n in nodes if isinstance(n.get("@id"), str) and len(n) > 1}
        article = _article_node(nodes)
        return _Resolved(article, index) if article else {}

    def values(self, selector: str) -> list[str]:
        """The selector's values on this page, cleaned, empty ones dropped, in page order."""
        return [v for v in (clean_line(x) for x in self._evaluate(selector)) if v]

    def _evaluate(self, selector: str) -> Iterator[str]:
        if selector.startswith("jsonld:"):
            yield from jsonld_values(self.jsonld.get(selector.removeprefix("jsonld:")))
            return
        if selector.startswith(("trafilatura:", "htmldate:", "url:")):
            yield from _derived(self, selector)
            return
        meta = META_SELECTOR.match(selector)
        if meta:
            yield from self.meta.get(f"{meta.group(1)}={meta.group(2).strip().lower()}", [])
            return
        selector_plan = plan(selector)
        if selector_plan is None or not selector_plan.steps[-1][1].tag:
            yield from _xpath_values(self.root, selector)
            return
        for element in select(self.root, selector_plan):
            if selector_plan.pseudo is None:
                yield element.text_content()
            elif selector_plan.pseudo == "text":
                yield from (t for t in (element.text, *(child.tail for child in element)) if t)
            else:
                value = element.get(selector_plan.pseudo.removeprefix("attr:"))
                if value is not None:
                    yield value


def union_values(page: PageData, selectors: tuple[str, ...]) -> list[str]:
    """Values of all the selectors together, in page order: one query for the lot."""
    if not selectors:
        return []
    return [v for v in (clean_line(x) for x in _xpath_values(page.root, ", ".join(selectors))) if v]


def select_all(page: PageData, selectors: tuple[str, ...], *fallbacks: tuple[str, ...]) -> list[str]:
    """Values of the first selector that yields anything: the source's, then each fallback list."""
    for selector in (s for group in (selectors, *fallbacks) for s in group):
        values = page.values(selector)
        if values:
            return values
    return []


def select_first(page: PageData, selectors: tuple[str, ...], *fallbacks: tuple[str, ...]) -> str | None:
    values = select_all(page, selectors, *fallbacks)
    return values[0] if values else None


def _xpath_values(root: HtmlElement, selector: str) -> Iterator[str]:
    """What cssselect's XPath of the selector yields: strings, or elements' whole text."""
    for result in _xpath(selector)(root):
        if isinstance(result, str):
            yield result
        elif isinstance(result, etree._Element):
            yield result.xpath("string()")


@lru_cache(maxsize=1024)
def _xpath(selector: str) -> etree.XPath:
    return etree.XPath(css2xpath(selector))


# -- JSON-LD -------------------------------------------------------------------------------


class _Resolved(dict):
    """A JSON-LD node whose values that are bare {"@id": …} references read as the node they
    name (Yoast and Rank Math give the author as a reference to a Person elsewhere in @graph)."""

    def __init__(self, node: dict[str, Any], index: dict[str, dict[str, Any]]):
        super().__init__(node)
        self.index = index

    def get(self, key: str, default: Any = None) -> Any:
        return _resolve(super().get(key, default), self.index, depth=0)


def _resolve(value: Any, index: dict[str, dict[str, Any]], depth: int) -> Any:
    if depth > 3:  # references may loop
        return value
    if isinstance(value, list):
        return [_resolve(v, index, depth + 1) for v in value]
    if isinstance(value, dict) and isinstance(value.get("@id"), str) and value["@id"] in index:
        return {**index[value["@id"]], **{k: v for k, v in value.items() if k != "@id"}}
    return value


def jsonld_values(value: Any) -> Iterator[str]:
    """Strings of a JSON-LD value: names of people and organisations, items of lists.
    HTML entities are decoded: WordPress writes "&#8216;" and "&amp;" into its JSON-LD."""
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            yield from jsonld_values(item)
    elif isinstance(value, dict):
        name = value.get("name") or value.get("@value")
        if isinstance(name, (str, list)):
            yield from jsonld_values(name)
    elif isinstance(value, str):
        yield html.unescape(value)
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield str(value)


def _jsonld_nodes(root: HtmlElement) -> Iterator[dict[str, Any]]:
    for raw in JSONLD_SCRIPTS(root):
        try:
            data = json.loads(JSONLD_WRAPPING.sub("", raw), strict=False)
        except ValueError:
            continue  # sites ship broken JSON-LD often enough; the other layers remain
        yield from _walk(data, depth=0)


def _walk(data: Any, depth: int) -> Iterator[dict[str, Any]]:
    if depth > 6:
        return
    if isinstance(data, list):
        for item in data:
            yield from _walk(item, depth + 1)
    elif isinstance(data, dict):
        yield data
        for key in ("@graph", "mainEntity", "mainEntityOfPage"):
            if isinstance(data.get(key), (list, dict)):
                yield from _walk(data[key], depth + 1)


def _article_node(nodes: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The node of the most specific article type that has a headline or a date."""
    best, best_rank = None, len(ARTICLE_TYPES)
    for node in nodes:
        kinds = node.get("@type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        for kind in kinds:
            if kind in ARTICLE_TYPES and ARTICLE_TYPES.index(kind) < best_rank and \
                    (node.get("headline") or node.get("datePublished") or node.get("name")):
                best, best_rank = node, ARTICLE_TYPES.index(kind)
    return best


# -- library fallbacks ---------------------------------------------------------------------


def _derived(page: PageData, selector: str) -> Iterator[str]:
    """The date in the page's URL (/2019/11/18/, -20191118-); trafilatura's byline and
    title heuristics; htmldate's publication date (YYYY-MM-DD)."""
    if selector == "url:date":
        found = URL_DATE.search(page.url)
        if found:
            yield "-".join(found.groups())
    elif selector == "trafilatura:author":
        from trafilatura.metadata import extract_author

        author = extract_author(page.root)
        if author:
            yield from author.split(";")
    elif selector == "trafilatura:title":
        from trafilatura.metadata import extract_title

        yield extract_title(page.root) or ""
    elif selector == "htmldate:published":
        from htmldate import find_date
        from trafilatura.settings import set_date_params

        # Markup first, then the text itself: on the AEB the first finds 28 of the 30 dates
        # the other layers miss, at 1.6 ms a page against 8.7 ms (issue 10).
        for extensive in (False, True):
            found = find_date(page.root, url=page.url or None, **set_date_params(extensive))
            if found:
                yield found
                return
    else:
        raise ValueError(f"unknown library selector {selector!r}")
