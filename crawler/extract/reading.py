"""trafilatura's reading of a page or of one element, and how to tell it read a dump."""

from __future__ import annotations

from copy import deepcopy

from lxml.html import Element, HtmlElement

from .text import clean_text

# trafilatura's text counts as a dump of the page (menus and all) when it has at least
# DUMP_MIN_LINES lines and more than DUMP_SHORT_SHARE of its characters are in lines
# shorter than SHORT_LINE_CHARS (see looks_like_dump).
DUMP_MIN_LINES = 30
DUMP_SHORT_SHARE = 0.6
SHORT_LINE_CHARS = 40


def as_document(element: HtmlElement) -> HtmlElement:
    """The element alone in a page of its own, for trafilatura."""
    html = Element("html")
    body = Element("body")
    html.append(body)
    body.append(deepcopy(element))
    return html


def read(tree: HtmlElement, url: str, recall: bool) -> tuple[str, str]:
    """trafilatura's text of the tree and how it was read.

    Fast mode first: no readability/justext comparison. On the AEB it scores higher than
    the default (F1 0.962 vs 0.960) in 3/4 of the time (bench/README.md, issue 10). When
    its text is mostly short lines, fast mode has fallen back to the whole page (menus
    and all): the default mode, with its comparisons, reads such a page again.
    """
    text = _trafilatura_run(tree, url, recall, fast=True)
    if not looks_like_dump(text):
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


def looks_like_dump(text: str) -> bool:
    """Most of the text in short lines: a page's menus, not an article. AEB (issue 10): the
    one dump is 89 % short lines; the next page, a real article, 31 %."""
    lines = text.split("\n")
    total = sum(len(line) for line in lines)
    short = sum(len(line) for line in lines if len(line) < SHORT_LINE_CHARS)
    return len(lines) >= DUMP_MIN_LINES and short > DUMP_SHORT_SHARE * total
