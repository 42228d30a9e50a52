"""Related-link blocks: "Lire aussi", "Xem thêm", "Tin liên quan", "Read more" and their like.

A list or paragraph of links to *other* articles is not the article, wherever it sits:
a box after the body (dantri's "Tin liên quan"), a paragraph inside it (01net's
``<p class="lire-aussi"><strong>Lire aussi</strong> : <a>…</a></p>``), or a run of
links after a label in the body's own flow (developpez's ``<b>Voir aussi :</b><br>``
then one link per line). Such a block is found by its label — a short text that is
one of the phrases below, alone or before a colon — and is removed only when what
follows the label is links: a label before prose ("Et vous ?" and its questions,
a subheading named "Related") stays.
"""

from __future__ import annotations

import re

from lxml.html import HtmlElement

# The labels, lowercase; matched whole at the start of a short text, before ":" or its end.
PHRASES = (
    # French
    "lire aussi", "à lire aussi", "a lire aussi", "lire également", "à lire également", "à lire",
    "voir aussi", "voir également", "à voir aussi", "à voir également", "à voir", "sur le même sujet",
    "dans la même rubrique", "articles similaires", "articles liés", "articles connexes",
    "à découvrir aussi", "à découvrir", "découvrez aussi", "vous aimerez aussi", "vous aimerez aussi lire",
    "pour aller plus loin", "les plus lus", "lire la suite", "nos articles sur le sujet", "notre sélection",
    # Vietnamese
    "xem thêm", "đọc thêm", "tin liên quan", "bài liên quan", "bài viết liên quan", "tin cùng chuyên mục",
    "cùng chuyên mục", "có thể bạn quan tâm", "bạn có thể quan tâm", "tin khác", "tin mới", "xem tiếp",
    "đọc tiếp", "đọc nhiều", "xem nhiều", "tin nổi bật", "tin hay",
    # English
    "related", "related articles", "related stories", "related posts", "related content", "related coverage",
    "related news", "related reading", "related links", "read more", "read also", "also read", "read next",
    "see also", "see more", "more from", "more on this", "more on this story", "more stories", "more",
    "also", "you may also like", "you might also like", "you may like", "recommended", "recommended for you",
    "further reading", "most popular", "most read", "trending", "trending now", "popular now", "don't miss",
    # Portuguese, Spanish, Italian, German
    "leia também", "leia mais", "veja também", "lee también", "ver también", "te puede interesar",
    "leggi anche", "vedi anche", "lesen sie auch", "mehr zum thema", "auch interessant",
)
_ALTERNATIVES = "|".join(sorted((re.escape(p) for p in PHRASES), key=len, reverse=True))
# Bullets or arrows may precede the label; a colon, dash or arrow may follow it.
LABEL = re.compile(rf"^[\W_]*(?:{_ALTERNATIVES})\s*(?:[:：\-–—»›>|…]+\s*)?$", re.IGNORECASE)
LABEL_MAX_CHARS = 40
# Between the links of a run: nothing, punctuation or bullets.
BLANK = re.compile(r"^[\s:：\-–—•·|»›>*,;./]*$")
# A container is a related block when at least this share of its text, label aside, is links.
MIN_LINK_SHARE = 0.6
# Elements a run of related links is made of.
RUN_TAGS = frozenset({"a", "br", "img", "ul", "ol", "li", "p", "div", "span", "strong", "b", "em", "i",
                      "figure", "picture", "h2", "h3", "h4", "h5", "h6", "article", "section", "dl", "dt", "dd"})
TOP_TAGS = frozenset({"html", "body"})


def prune_related_links(root: HtmlElement, labels: list[tuple[HtmlElement, bool]] | None = None) -> int:
    """Remove the related-link blocks under root; returns how many were removed. ``labels``:
    what ``labels_of`` found on a walk of root already made (else root is walked here)."""
    removed = 0
    if labels is None:
        labels = [label for element in root.iter() for label in labels_of(element)]
    for label, on_tail in labels:
        if _is_detached(label, root):
            continue
        container = None if on_tail else _related_container(label)
        if container is not None:
            container.drop_tree()
            removed += 1
        elif _remove_link_run(label, on_tail):
            removed += 1
    return removed


def labels_of(element: HtmlElement) -> list[tuple[HtmlElement, bool]]:
    """(element, on_tail) when the element's text is a label, or its tail is one."""
    found = []
    text, tail = element.text, element.tail
    if text and len(text) <= LABEL_MAX_CHARS and isinstance(element.tag, str) and LABEL.match(text.strip()) \
            and _own_text_is_label(element):
        found.append((element, False))
    if tail and len(tail) <= LABEL_MAX_CHARS and LABEL.match(tail.strip()):
        found.append((element, True))
    return found


def _own_text_is_label(element: HtmlElement) -> bool:
    """The whole text of the element is the label (not a label that starts a long text)."""
    return len(" ".join(element.text_content().split())) <= LABEL_MAX_CHARS


def _related_container(label: HtmlElement) -> HtmlElement | None:
    """The largest element the label opens whose other text is mostly links."""
    label_text = " ".join(label.text_content().split())
    label_in_link = _in_link(label)
    best = None
    element = label
    while element is not None and element.tag not in TOP_TAGS:
        if element is not label and not _starts_with(element, label_text):
            break
        if _mostly_links(element, len(label_text), label_in_link):
            best = element
        element = element.getparent()
    return best


def _starts_with(element: HtmlElement, label_text: str) -> bool:
    """The element's text begins with the label (read only as far as the label's length)."""
    seen = ""
    for text in element.itertext():
        seen = " ".join((seen + " " + text).split())
        if len(seen) >= len(label_text):
            break
    return seen.startswith(label_text)


def _in_link(element: HtmlElement) -> bool:
    return element.tag == "a" or any(a.tag == "a" for a in element.iterancestors())


def _mostly_links(element: HtmlElement, label_chars: int, label_in_link: bool) -> bool:
    total = len(" ".join(element.text_content().split())) - label_chars
    if total <= 0:
        return False
    links = [element] if _in_link(element) else list(element.iter("a"))
    link_chars = sum(len(" ".join(a.text_content().split())) for a in links) - (label_chars if label_in_link else 0)
    return link_chars > 0 and link_chars >= MIN_LINK_SHARE * total


def _remove_link_run(label: HtmlElement, on_tail: bool) -> bool:
    """Remove the label and the links that follow it in its parent's flow. Text between
    the links means they are part of a sentence ("Also <a>Reuters</a> reported that…"):
    nothing is removed then."""
    run = []
    sibling = label.getnext()
    if not on_tail and label.tail and not BLANK.match(label.tail):
        return False
    while sibling is not None and _is_run_item(sibling):
        if sibling.tail and not BLANK.match(sibling.tail):
            return False
        run.append(sibling)
        sibling = sibling.getnext()
    if not any(e.tag == "a" or e.find(".//a") is not None for e in run):
        return False
    for element in run:
        element.getparent().remove(element)  # with its tail: blank by construction
    if on_tail:
        label.tail = None
    else:
        label.tail = None
        label.drop_tree()
    return True


def _is_run_item(element: HtmlElement) -> bool:
    if not isinstance(element.tag, str) or element.tag not in RUN_TAGS:
        return False
    text = " ".join(element.text_content().split())
    if not text:
        return element.tag in ("br", "img", "figure", "picture")
    link_chars = len(text) if element.tag == "a" else sum(
        len(" ".join(a.text_content().split())) for a in element.iter("a"))
    return link_chars >= 0.8 * len(text)


def _is_detached(element: HtmlElement, root: HtmlElement) -> bool:
    """An element removed with an earlier block no longer hangs from root."""
    for ancestor in element.iterancestors():
        if ancestor is root:
            return False
    return element is not root
