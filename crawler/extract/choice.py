"""A scored choice between trafilatura's text and the prose of the page's own blocks.

The blocks (blocks.py) are the evidence: trafilatura's text wins unless it is empty, and
prose it dropped comes back when it adds enough — from the site's body element, or in
generic mode from the chunks of an article cut by adverts.
"""

from __future__ import annotations

from lxml import etree
from lxml.html import HtmlElement

from .blocks import BLOCK_TAGS, Block, layout
from .text import clean_text

# Prose paragraphs trafilatura dropped are put back when they add at least this share
# to its text: below it, a dropped paragraph is more often a teaser than article text.
MIN_RESCUED_SHARE = 0.2
# Chunks of one article share an ancestor at most this many levels above them.
CHUNK_LEVELS = 3
# The start of a paragraph looked for in the page, to find the element that holds it.
HOLDER_NEEDLE_CHARS = 30
# A block read as text when trafilatura found nothing: less than half of it links.
BLOCKS_MAX_LINK_DENSITY = 0.5


def choose(extracted: tuple[str, str], scope: list[Block], trusted: bool) -> tuple[str, str]:
    """A scored choice between trafilatura's text and the prose blocks of the scope.

    The scope's prose blocks are the evidence. trafilatura's text wins unless it is
    empty; then the scope's own blocks are the text. Prose lines of the scope it
    dropped are put back when they add enough. In generic mode only lines of blocks
    that sit in the same kind of element as the ones it kept come back (an article
    cut into chunks by adverts), never a neighbouring teaser or comment.
    """
    extracted, how = extracted
    if not extracted:
        return blocks_text(scope), "blocks (trafilatura kept nothing)"
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


def blocks_text(scope: list[Block]) -> str:
    """The blocks' own text, link lists (menus, teasers) left out."""
    return clean_text("\n".join(b.text for b in scope if b.link_density < BLOCKS_MAX_LINK_DENSITY))


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


def best_container_blocks(page: HtmlElement) -> list[Block]:
    """The blocks of the page's best container, for a page trafilatura found nothing in."""
    blocks = layout(page)
    container = blocks.best_container()
    return blocks.within(container) if container is not None else []


def chunks(page: HtmlElement, extracted: str) -> list[Block]:
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
