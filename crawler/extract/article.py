"""extract_article(html, url, rules) -> Article: a pure function of the page text.

Nothing here imports Scrapy, so the same code runs in the spider's pipeline, in a
process pool, or later over archived raw pages. Without rules, or where a source's
rules find nothing, the generic layers decide (body.py, generic.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from importlib import metadata
from typing import Any

from ..sources import ExtractionRules
from . import fields
from .body import extract_body
from .metadata import PageData
from .page import deepest_level, parse_html

# Bump when a change here alters what is extracted from the same page; with the
# trafilatura release and a digest of the source's rules it names the extractor.
# 2: generic layers (issue 10): best body candidate, related-link blocks, metadata cascade.
EXTRACTOR_REVISION = 2
# Generic mode: a page with no source rules at all.
GENERIC_RULES = ExtractionRules()


@lru_cache(maxsize=64)
def extractor_version(rules: ExtractionRules) -> str:
    rules_digest = hashlib.sha256(repr(rules).encode("utf-8")).hexdigest()[:10]
    return f"crawler-{EXTRACTOR_REVISION}/trafilatura-{metadata.version('trafilatura')}/rules-{rules_digest}"


class NotAnArticle(ValueError):
    """The page holds no article body; the message says why. When a body was read but is too
    short, ``text`` and ``body_source`` say what it was and where it came from."""

    def __init__(self, reason: str, text: str = "", body_source: str | None = None):
        super().__init__(reason)
        self.text = text
        self.body_source = body_source


@dataclass(frozen=True)
class Article:
    url: str
    title: str
    authors: tuple[str, ...]
    published_at: datetime | None
    modified_at: datetime | None
    language: str | None
    section: str | None
    tags: tuple[str, ...]
    summary: str | None
    text: str
    cited_url: str | None = None
    # every origin the article names: URLs and names ("Bloomberg"), in order
    citations: tuple[str, ...] = ()
    # which extractor and rules made this (see extractor_version(); the version's column)
    extractor_version: str | None = None
    # where the text came from: "site" (the source's body selectors matched) or "generic"
    # (no site selector matched; whole-page or generic candidates). A known article's
    # generic-only text is not trusted as a new version (README "Versioning rules").
    body_source: str = "site"
    # which extraction stage produced the text (body.py; bench/quality.py counts them)
    body_stage: str | None = None
    # the archive's content hash and SimHash with the fields they were computed from
    # (crawler.dedup.fingerprint fills it, in the extraction worker during a crawl);
    # dataclasses.replace carries it along, and it is recomputed when a hashed field differs
    fingerprint_memo: tuple | None = field(default=None, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        found = asdict(self)
        del found["fingerprint_memo"]  # a cache, not something extraction found
        return found


def extract_article(html: str, url: str, rules: ExtractionRules | None = None) -> Article:
    """Extract one article from decoded HTML, or raise NotAnArticle with the reason.

    Any input gives an Article or NotAnArticle: broken markup, XHTML, control
    characters and absurd nesting included (page.py).
    """
    rules = rules or GENERIC_RULES
    if not html or not html.strip():
        raise NotAnArticle("empty page")
    root = parse_html(html)
    if root is None:
        raise NotAnArticle("not an HTML document")
    page = PageData(root, url)
    title = fields.title(page, rules)
    body = extract_body(root, url, rules, (title,) if title else ())
    if len(body.text) < rules.min_text_chars:
        raise NotAnArticle(f"no article body: {len(body.text)} characters of text in {body.where}, "
                           f"fewer than min_text_chars={rules.min_text_chars}{_depth_note(root)}",
                           text=body.text, body_source=body.source)
    if not title:
        raise NotAnArticle("no title found")
    return Article(
        url=fields.canonical_url(page, url, rules),
        title=title,
        authors=fields.authors(page, rules),
        published_at=fields.published(page, rules),
        modified_at=fields.modified(page, rules),
        language=fields.language(page, rules, body.text),
        section=fields.section(page, rules),
        tags=fields.tags(page, rules),
        summary=fields.summary(page, rules),
        text=body.text,
        cited_url=fields.cited_url(page, body.text, url, rules),
        citations=fields.citations(page, body.text, url, rules),
        extractor_version=extractor_version(rules),
        body_source=body.source,
        body_stage=body.stage,
    )


def extract_short_article(html: str, url: str, rules: ExtractionRules) -> Article | None:
    """The article whose body the source's selectors found, however short (after
    ``extract_article`` said it was too short): a retraction of an archived article is a
    version of it. The archive decides; None when not even a title is there."""
    try:
        article = extract_article(html, url, replace(rules, min_text_chars=0))
    except NotAnArticle:
        return None
    return replace(article, extractor_version=extractor_version(rules))


def _depth_note(root) -> str:  # noqa: ANN001 - an lxml element
    """Why a deeply nested page may have lost its text: the parser stops at 255 levels."""
    depth = deepest_level(root)
    return f" (the page nests {depth}+ levels deep: the HTML parser keeps nothing deeper)" if depth >= 255 else ""
