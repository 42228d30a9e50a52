"""The article's text: the staged extraction behind extract_article.

Stages, each tried only when the one before found nothing:
  1. site: the source's ``body`` selectors. Every element they match is a candidate;
     the best one (most prose, fewest other characters) is read, and a selector whose
     matches hold no prose falls through to the next, then to stage 2.
  2. generic: trafilatura over the whole pruned page.
Then a scored choice between candidate texts (see ``_choose``): trafilatura's reading
of the element, completed with the prose paragraphs it dropped, or the element's own
prose when trafilatura kept nothing or dumped the page's menus.

Before any stage the page is pruned: the source's ``prune`` selectors (never an
element that holds most of the page's text: a whole-page ``<form>`` is a layout
wrapper, as trafilatura also treats it) and related-link blocks (related.py).
After: title lines at the top are dropped (the title is its own field), then the
source's ``drop_lines``.
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
from .blocks import BLOCK_TAGS, Block, Layout, layout, strip_non_text
from .related import labels_of, prune_related_links
from .selectors import compile_selectors
from .text import clean_text

# A prune match holding more than this share of the page's text is a layout wrapper.
PRUNE_MAX_SHARE = 0.5
# trafilatura's text counts as a dump of the page (menus and all) when it has at least
# DUMP_MIN_LINES lines and more than DUMP_SHORT_SHARE of its characters are in lines
# shorter than SHORT_LINE_CHARS (see _looks_like_dump).
DUMP_MIN_LINES = 30
DUMP_SHORT_SHARE = 0.6
SHORT_LINE_CHARS = 40
# Prose paragraphs trafilatura dropped are put back when they add at least this share
# to its text: below it, a dropped paragraph is more often a teaser than article text.
MIN_RESCUED_SHARE = 0.2
# Chunks of one article share an ancestor at most this many levels above them.
CHUNK_LEVELS = 3
# The start of a paragraph looked for in the page, to find the element that holds it.
HOLDER_NEEDLE_CHARS = 30
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
        text, stage = _choose(_trafilatura(_document(site.element), url, recall=True), site.blocks.blocks, trusted=True)
        body = Body(text, "site", f"site {stage}", site.where)
    else:
        body = _generic_body(page, url, rules)
        if site is not None and _short_site_text_holds(site, body.text, rules.min_text_chars):
            body = Body(_blocks_text(site.blocks.blocks), "site", "site blocks (a short body)", site.where)
    text = drop_lines(drop_title_lines(body.text, titles), rules.drop_lines)
    return Body(text, body.source, body.stage, body.where)


def _generic_body(page: HtmlElement, url: str, rules: ExtractionRules) -> Body:
    extracted = _trafilatura(page, url, recall=False)
    scope = _chunks(page, extracted[0]) if extracted[0] else _best_container_blocks(page)
    text, stage = _choose(extracted, scope, trusted=False)
    where = "whole page" + (f" (no prose in the matches of body selectors {list(rules.body)})" if rules.body else "")
    return Body(text, "generic", f"generic {stage}", where)


def _short_site_text_holds(site: SiteBody, generic_text: str, article_chars: int) -> bool:
    """A site match without prose is still the body when the generic reading finds no
    article besides it (fewer than ``article_chars`` more): a short article, a correction
    notice, not a template change that left the selector on a caption or a teaser."""
    text = _blocks_text(site.blocks.blocks)
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
            return SiteBody(best.root, best, True, where.format(_describe(best.root)))
        longest = max(layouts, key=lambda b: sum(block.chars for block in b.blocks), default=None)
        if short is None and longest is not None and longest.blocks:
            short = SiteBody(longest.root, longest, False, where.format(_describe(longest.root)))
    return short


@lru_cache(maxsize=512)
def _css(selector: str) -> etree.XPath:
    return etree.XPath(css2xpath(selector))


def _best_container_blocks(page: HtmlElement) -> list[Block]:
    """The blocks of the page's best container, for a page trafilatura found nothing in."""
    blocks = layout(page)
    container = blocks.best_container()
    return blocks.within(container) if container is not None else []


def _chunks(page: HtmlElement, extracted: str) -> list[Block]:
    """The blocks of the elements like the one that holds trafilatura's longest paragraph:
    same tag and classes, under a common ancestor a few levels up (an article cut into
    chunks by adverts: wired.com's div.body per section). [] when there is no second one."""
    holder = _holder(page, extracted)
    kind = _kind(holder)
    if holder is None or kind is None:
        return []
    ancestor = holder
    for _ in range(CHUNK_LEVELS):
        ancestor = ancestor.getparent() if ancestor.getparent() is not None else ancestor
    chunks = [e for e in ancestor.iter(holder.tag) if _kind(e) == kind]
    if len(chunks) < 2:
        return []
    return [block for chunk in chunks for block in layout(chunk).blocks]


def _holder(page: HtmlElement, extracted: str) -> HtmlElement | None:
    """The element whose children hold trafilatura's longest paragraph."""
    for line in sorted(extracted.split("\n"), key=len, reverse=True)[:3]:
        needle = line[:HOLDER_NEEDLE_CHARS]
        if len(needle) < HOLDER_NEEDLE_CHARS:
            continue
        for text in _TEXT_CONTAINING(page, needle=needle):
            element = text.getparent()
            if text.is_tail:
                element = element.getparent()
            while element is not None and element.tag not in BLOCK_TAGS:
                element = element.getparent()
            if element is not None and element.getparent() is not None:
                return element.getparent()
    return None


_TEXT_CONTAINING = etree.XPath("//text()[contains(normalize-space(.), $needle)]")


def _document(element: HtmlElement) -> HtmlElement:
    """The element alone in a page of its own, for trafilatura."""
    from lxml.html import Element

    html = Element("html")
    body = Element("body")
    html.append(body)
    body.append(deepcopy(element))
    return html


def _trafilatura(tree: HtmlElement, url: str, recall: bool) -> tuple[str, str]:
    """trafilatura's text of the tree and how it was read.

    Fast mode first: no readability/justext comparison. On the AEB it scores higher than
    the default (F1 0.962 vs 0.960) in 3/4 of the time (bench/README.md, issue 10). When
    its text is mostly short lines, fast mode has fallen back to the whole page (menus
    and all): the default mode, with its comparisons, reads such a page again.
    """
    text = _trafilatura_run(tree, url, recall, fast=True)
    if not _looks_like_dump(text):
        return text, "trafilatura"
    return _trafilatura_run(tree, url, recall, fast=False), "trafilatura (full mode: fast mode dumped the page)"


def _trafilatura_run(tree: HtmlElement, url: str, recall: bool, fast: bool) -> str:
    import trafilatura  # here, not at module level: a crawl of 304s never extracts (bench/recrawl.py)

    text = trafilatura.extract(
        tree, url=url, output_format="txt", include_comments=False, include_tables=True,
        include_images=False, include_links=False, favor_recall=recall, fast=fast, deduplicate=False,
        with_metadata=False,
    )
    return clean_text(text or "")


def _looks_like_dump(text: str) -> bool:
    """Most of the text in short lines: a page's menus, not an article. AEB (issue 10): the
    one dump is 89 % short lines; the next page, a real article, 31 %."""
    lines = text.split("\n")
    total = sum(len(line) for line in lines)
    short = sum(len(line) for line in lines if len(line) < SHORT_LINE_CHARS)
    return len(lines) >= DUMP_MIN_LINES and short > DUMP_SHORT_SHARE * total


def _choose(extracted: tuple[str, str], scope: list[Block], trusted: bool) -> tuple[str, str]:
    """A scored choice between trafilatura's text and the prose blocks of the scope.

    The scope's prose blocks are the evidence. trafilatura's text wins unless it is
    empty; then the scope's own blocks are the text. Prose lines of the scope it
    dropped are put back when they add enough. In generic mode only lines of blocks
    that sit in the same kind of element as the ones it kept come back (an article
    cut into chunks by adverts), never a neighbouring teaser or comment.
    """
    extracted, how = extracted
    if not extracted:
        return _blocks_text(scope), "blocks (trafilatura kept nothing)"
    flat = _flat(extracted)
    prose = [(b, [(line, _found(line, flat)) for line in b.text.split("\n")]) for b in scope if b.is_prose]
    kept = [b for b, lines in prose if any(found for _, found in lines)]
    if not trusted:
        kinds = {_kind(b.element.getparent()) for b in kept} - {None}
        prose = [(b, lines) for b, lines in prose if _kind(b.element.getparent()) in kinds]
    if sum(len(line) for _, lines in prose for line, found in lines if not found) < MIN_RESCUED_SHARE * len(flat):
        return extracted, how
    return _merge(extracted, prose), f"{how} + dropped prose"


def _found(line: str, flat: str) -> bool:
    return _flat(line)[:60] in flat


def _flat(text: str) -> str:
    return " ".join(text.split())


def _kind(element: HtmlElement | None) -> tuple[str, str] | None:
    """An element's tag and classes; None when it has no class to tell it from others."""
    classes = " ".join(sorted((element.get("class") or "").split())) if element is not None else ""
    return (element.tag, classes) if classes else None


def _blocks_text(scope: list[Block]) -> str:
    return clean_text("\n".join(b.text for b in scope if b.link_density < 0.5))


def _merge(extracted: str, prose: list[tuple[Block, list[tuple[str, bool]]]]) -> str:
    """trafilatura's lines with the missing ones put back after the found line before them."""
    lines = extracted.split("\n")
    after: dict[int, list[str]] = {}
    anchor = -1  # index in lines of the last found line, in document order
    for _, block_lines in prose:
        for line, found in block_lines:
            if found:
                head = _flat(line)[:60]
                anchor = next((i for i in range(max(anchor, 0), len(lines)) if head in _flat(lines[i])), anchor)
            else:
                after.setdefault(anchor, []).append(line)
    merged = after.get(-1, [])[:]
    for i, line in enumerate(lines):
        merged.append(line)
        merged.extend(after.get(i, []))
    return clean_text("\n".join(merged))


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
