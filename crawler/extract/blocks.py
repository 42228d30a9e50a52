"""A page as text blocks, and the elements that hold its article.

One walk over the tree cuts the text into blocks (paragraphs, list items, cells,
headings, ...: the innermost block element around each piece of text) and measures
each: characters, characters inside links. A block is *prose* when it is long and
mostly not links — what readability and trafilatura both count as evidence of an
article. An element scores its prose minus everything else it holds, so a teaser
card (little prose) and the whole page (much else) both lose to the article's own
element.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lxml import etree
from lxml.html import HtmlElement

from .text import clean_line

BLOCK_TAGS = frozenset({
    "p", "div", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "figcaption", "td", "th",
    "pre", "section", "article", "main", "table", "tr", "ul", "ol", "dl", "dt", "dd", "header",
    "footer", "aside", "nav", "figure", "body", "form", "address", "center", "details", "summary",
})
# Whole subtrees whose text is never article text (trafilatura drops them too).
NON_TEXT_TAGS = ("script", "style", "noscript", "template", "svg", "math", "select", "option", "button",
                 "textarea", "iframe", "object", "embed", "canvas", "video", "audio", "head", "input")
CONTAINER_TAGS = frozenset({"div", "article", "section", "main", "td", "body", "form", "center", "span", "font"})
# Prose: a block at least this long whose link text is under this share. Set on the AEB
# (bench/quality.py, issue 10): 50 characters keeps one-sentence paragraphs and drops
# menus, bylines and most captions.
PROSE_MIN_CHARS = 50
PROSE_MAX_LINK_DENSITY = 0.3
# How much a character of non-prose costs an element against a character of prose.
NON_PROSE_WEIGHT = 1.0


@dataclass
class Block:
    element: HtmlElement
    parts: list[str]
    link_chars: int = 0
    chars: int = 0

    @property
    def link_density(self) -> float:
        return self.link_chars / self.chars if self.chars else 0.0

    @property
    def is_prose(self) -> bool:
        return self.chars >= PROSE_MIN_CHARS and self.link_density < PROSE_MAX_LINK_DENSITY

    @property
    def text(self) -> str:
        """The block's lines, cleaned (<br> breaks kept)."""
        return "\n".join(filter(None, (clean_line(line) for line in "".join(self.parts).split("\n"))))


@dataclass
class Layout:
    """The blocks of a page, in document order, and each element's score."""

    root: HtmlElement
    blocks: list[Block]
    scores: dict[HtmlElement, float] = field(default_factory=dict)

    def best(self, elements) -> HtmlElement | None:
        """The highest-scoring of these elements that holds any prose."""
        scored = [(self.scores.get(e, 0.0), i, e) for i, e in enumerate(elements)]
        scored = [s for s in scored if s[0] > 0]
        return max(scored, key=lambda s: (s[0], -s[1]))[2] if scored else None

    def best_container(self) -> HtmlElement | None:
        return self.best(e for e in self.scores if e.tag in CONTAINER_TAGS)

    def within(self, element: HtmlElement) -> list[Block]:
        inside = set(element.iter())
        return [b for b in self.blocks if b.element in inside]


def strip_non_text(root: HtmlElement) -> None:
    """Remove scripts, styles, media, form controls and comments (their tails stay)."""
    etree.strip_elements(root, *NON_TEXT_TAGS, etree.Comment, etree.ProcessingInstruction, with_tail=False)


def layout(root: HtmlElement) -> Layout:
    """Cut root (stripped of non-text first) into blocks and score every element.

    One pass in document order: each element's text goes to its own block or its
    nearest block ancestor's; once its subtree is done, its tail goes to its parent's.
    Scores then add up in reverse order, children before parents.
    """
    blocks: list[Block] = []
    block_of: dict[HtmlElement, Block] = {}
    in_link: dict[HtmlElement, bool] = {}
    order: list[tuple[HtmlElement, HtmlElement | None]] = []
    open_elements: list[tuple[HtmlElement, HtmlElement | None]] = []  # the current path from root
    for element in root.iter():
        parent = element.getparent() if element is not root else None
        while open_elements and open_elements[-1][0] is not parent:
            _close(*open_elements.pop(), block_of, in_link)
        open_elements.append((element, parent))
        order.append((element, parent))
        linked = element.tag == "a" or (parent is not None and in_link[parent])
        in_link[element] = linked
        if element.tag in BLOCK_TAGS or parent is None:
            block = block_of[element] = Block(element, [])
            blocks.append(block)
        else:
            block = block_of[element] = block_of[parent]
        if element.text:
            _add(block, element.text, linked)
        elif element.tag == "br":
            block.parts.append("\n")
    while open_elements:
        _close(*open_elements.pop(), block_of, in_link)
    for block in blocks:
        block.chars = len(" ".join("".join(block.parts).split()))
    blocks = [b for b in blocks if b.chars]
    return Layout(root, blocks, _scores(order, blocks))


def _close(element: HtmlElement, parent: HtmlElement | None, block_of: dict, in_link: dict) -> None:
    """An element's subtree is done: its tail text follows, in its parent's block."""
    if element.tail and parent is not None:
        _add(block_of[parent], element.tail, in_link[parent])


def _add(block: Block, text: str, in_link: bool) -> None:
    block.parts.append(text)
    if in_link:
        block.link_chars += len(" ".join(text.split()))


def _scores(order: list[tuple[HtmlElement, HtmlElement | None]], blocks: list[Block]) -> dict[HtmlElement, float]:
    """Per element: prose characters minus weighted other characters, its descendants' included."""
    totals: dict[HtmlElement, float] = {}
    for block in blocks:
        value = block.chars if block.is_prose else -NON_PROSE_WEIGHT * block.chars
        totals[block.element] = totals.get(block.element, 0.0) + value
    for element, parent in reversed(order):
        if parent is not None:
            totals[parent] = totals.get(parent, 0.0) + totals.get(element, 0.0)
    return totals
