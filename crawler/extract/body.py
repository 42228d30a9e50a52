"""The article's text: the staged extraction behind extract_article.

First the page is cleaned: scripts and media stripped, the source's ``prune`` selectors
removed (never an element holding most of the page's text: a whole-page ``<form>`` is a
layout wrapper, as trafilatura also treats it), related-link blocks removed (related.py).

1. site: the source's ``body`` selectors, in order. Every match is a candidate and the
   best one (most prose, fewest other characters: blocks.py) is read by trafilatura,
   completed with the prose it dropped (choice.py). A selector whose matches hold no
   prose falls through to the next, then to stage 2.
2. generic: trafilatura over the whole page (reading.py), completed with the chunks of
   an article cut by adverts; the page's best text container when trafilatura finds
   nothing. A site match without prose is still the body when this stage finds no
   article besides it (a short article).

After: the title repeated at the top of the text is dropped (it is its own field), then
the source's ``drop_lines``.
"""

from __future__ import annotations

import re
from copy import deepcopy
from dataclasses import dataclass
from functools import lru_cache

from lxml import etree
from lxml.html import HtmlElement
from parsel.csstranslator import css2xpath

from ..sources import ExtractionRules
from .blocks import Layout, layout, strip_non_text
from .choice import best_container_blocks, blocks_text, choose, chunks
from .reading import as_document, read
from .related import labels_of, prune_related_links
from .selectors import compile_selectors

# A prune match holding more than this share of the page's text is a layout wrapper.
PRUNE_MAX_SHARE = 0.5
# Lines at the top of the text compared with the page's titles.
TITLE_LINES = 3
WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Body:
    text: str
    # "site" when the source's own body selectors found the text, else "generic"
    source: str
    # which stage and candidate produced the text (bench/quality.py counts them)
    stage: str
    # where the text was looked for, for NotAnArticle messages
    where: str


def extract_body(root: HtmlElement, url: str, rules: ExtractionRules, titles: tuple[str, ...] = ()) -> Body:
    """The article text of a parsed page (root is not modified)."""
    page = deepcopy(root)
    _clean(page, rules.prune)
    site = _site_body(page, rules.body)
    if site is not None and site.has_prose:
        text, stage = choose(read(as_document(site.element), url, recall=True), site.blocks.blocks, trusted=True)
        body = Body(text, "site", f"site {stage}", site.where)
    else:
        body = _generic_body(page, url, rules)
        if site is not None and (site.inside_later_match or _short_site_text_holds(site, body.text, rules.min_text_chars)):
            body = Body(blocks_text(site.blocks.blocks), "site", "site blocks (a short body)", site.where)
    text = drop_lines(drop_title_lines(body.text, titles), rules.drop_lines)
    return Body(text, body.source, body.stage, body.where)


def _generic_body(page: HtmlElement, url: str, rules: ExtractionRules) -> Body:
    extracted = read(page, url, recall=False)
    scope = chunks(page, extracted[0]) if extracted[0] else best_container_blocks(page)
    text, stage = choose(extracted, scope, trusted=False)
    where = "whole page" + (f" (no prose in the matches of body selectors {list(rules.body)})" if rules.body else "")
    return Body(text, "generic", f"generic {stage}", where)


def _short_site_text_holds(site: SiteBody, generic_text: str, article_chars: int) -> bool:
    """A site match without prose is still the body when the generic reading finds no
    article besides it (fewer than ``article_chars`` more): a short article, a correction
    notice, not a template change that left the selector on a caption or a teaser."""
    text = blocks_text(site.blocks.blocks)
    return bool(text) and len(generic_text) - len(text) < article_chars


def _clean(page: HtmlElement, prune: tuple[str, ...]) -> None:
    """Strip non-text, then in one walk find what the prune selectors match and the
    related-link labels; remove the first (never an element holding most of the page's
    text), then the related blocks."""
    strip_non_text(page)
    matcher = compile_selectors(prune) if prune else None
    matches, labels = [], []
    for element in page.iter():
        if matcher is not None and matcher.matches(element):
            matches.append(element)
        labels.extend(labels_of(element))
    if matcher is not None:
        _prune(page, matcher.merge(page, matches))
    prune_related_links(page, labels)


def _prune(root: HtmlElement, matches: list[HtmlElement]) -> None:
    """Remove the matches, except an element holding most of the page's text."""
    if not matches:
        return
    total = len(root.text_content())
    for element in matches:
        if element is root or _is_detached(element, root):
            continue
        if len(element.text_content()) > PRUNE_MAX_SHARE * total:
            continue
        element.drop_tree()  # keeps the tail text


def _is_detached(element: HtmlElement, root: HtmlElement) -> bool:
    """Removed with an earlier match: it no longer hangs from root."""
    for ancestor in element.iterancestors():
        if ancestor is root:
            return False
    return True


@dataclass(frozen=True)
class SiteBody:
    element: HtmlElement
    blocks: Layout
    has_prose: bool
    where: str
    # a short match inside a later selector's match (the body element inside its article
    # wrapper): the site says the body is this, however short — a retraction, not a template change
    inside_later_match: bool = False


def _site_body(page: HtmlElement, selectors: tuple[str, ...]) -> SiteBody | None:
    """The best element of the first body selector whose matches hold prose; else the
    match with most text (a short body), else None."""
    short = None
    for selector in selectors:
        matches = [e for e in _css(selector)(page) if isinstance(e, HtmlElement)]
        layouts = [layout(e) for e in matches]
        scored = [(b.scores.get(b.root, 0.0), -i, b) for i, b in enumerate(layouts)]
        score, _, best = max(scored, key=lambda s: s[:2], default=(0.0, 0, None))
        where = f"body element {{}} ({selector})"
        if score > 0:
            if short is not None and _is_ancestor(best.root, short.element):
                return SiteBody(short.element, short.blocks, False, short.where, inside_later_match=True)
            return SiteBody(best.root, best, True, where.format(_describe(best.root)))
        longest = max(layouts, key=lambda b: sum(block.chars for block in b.blocks), default=None)
        # an empty match counts too: an article emptied by its publisher
        if short is None and longest is not None:
            short = SiteBody(longest.root, longest, False, where.format(_describe(longest.root)))
    return short


def _is_ancestor(element: HtmlElement, descendant: HtmlElement) -> bool:
    return any(parent is element for parent in descendant.iterancestors())


@lru_cache(maxsize=512)
def _css(selector: str) -> etree.XPath:
    return etree.XPath(css2xpath(selector))


def drop_title_lines(text: str, titles: tuple[str, ...]) -> str:
    """Drop the page's title where it opens the text: it is the article's title field."""
    lines = text.split("\n")
    title_words = [WORD.findall(t.lower()) for t in titles if t]
    head = [i for i, line in enumerate(lines[:TITLE_LINES]) if _is_title(line, title_words)]
    return "\n".join(line for i, line in enumerate(lines) if i not in head)


def _is_title(line: str, titles: list[list[str]]) -> bool:
    words = WORD.findall(line.lower())
    if not words:
        return False
    for title in titles:
        if title and (words == title or (len(words) >= 3 and _contains(title, words))):
            return True
    return False


def _contains(haystack: list[str], needle: list[str]) -> bool:
    n = len(needle)
    return any(haystack[i:i + n] == needle for i in range(len(haystack) - n + 1))


def drop_lines(text: str, patterns: tuple[str, ...]) -> str:
    """Remove whole lines of volatile page noise (counters, reading times, relative dates)."""
    if not patterns:
        return text
    noise = re.compile("|".join(f"(?:{p})" for p in patterns), re.IGNORECASE)
    return "\n".join(line for line in text.split("\n") if not noise.fullmatch(line))


def _describe(element: HtmlElement) -> str:
    classes = ".".join((element.get("class") or "").split())
    return element.tag + (f"#{element.get('id')}" if element.get("id") else "") + (f".{classes}" if classes else "")
