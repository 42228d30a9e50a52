"""Parse a page, whatever state it is in, into an lxml HTML tree."""

from __future__ import annotations

from lxml.html import HtmlElement


def parse_html(html: str) -> HtmlElement | None:
    """The page as an HTML tree, or None when it is not HTML at all.

    trafilatura's loader, so both read the same tree: it drops control characters
    (which lxml refuses), parses XHTML served with an ``<?xml …?>`` declaration as HTML
    (parsel would switch to XML mode and lose the HTML element API), repairs broken
    doctypes and refuses what does not look like HTML. libxml2 stops nesting at 255
    levels: text deeper than that is not in the tree (see ``deepest_level``).
    """
    from trafilatura.utils import load_html  # here: a crawl of 304s never extracts

    return load_html(html)


def deepest_level(root: HtmlElement) -> int:
    """How many levels deep the tree nests (counted without recursion)."""
    from lxml import etree

    depth = deepest = 0
    for event, _ in etree.iterwalk(root, events=("start", "end")):
        depth += 1 if event == "start" else -1
        deepest = max(deepest, depth)
    return deepest
