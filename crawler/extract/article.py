"""extract_article(html, url, rules) -> Article: a pure function of the page text.

Nothing here imports Scrapy, so the same code runs in the spider's pipeline, in a
process pool, or later over archived raw pages.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from importlib import metadata
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urljoin, urlsplit

from parsel import Selector

from ..sources import ExtractionRules
from .body import extract_body
from .dates import parse_datetime
from .page import parse_html
from .metadata import jsonld_article, select_all, select_first
from .text import clean_line
from ..urls import canonicalize_url

# Bump when a change here alters what is extracted from the same page; with the
# trafilatura release and a digest of the source's rules it names the extractor.
EXTRACTOR_REVISION = 1


@lru_cache(maxsize=64)
def extractor_version(rules: ExtractionRules) -> str:
    rules_digest = hashlib.sha256(repr(rules).encode("utf-8")).hexdigest()[:10]
    return f"crawler-{EXTRACTOR_REVISION}/trafilatura-{metadata.version('trafilatura')}/rules-{rules_digest}"


# Generic mode: a page with no source rules at all.
GENERIC_RULES = ExtractionRules()
LANGUAGE_SELECTORS = ("html::attr(lang)", "meta[property='og:locale']::attr(content)",
                      "meta[http-equiv='content-language']::attr(content)", "jsonld:inLanguage")
# Byline words that are not part of a name: "par Alex", "Theo Minh Anh", "By Jo".
BYLINE_PREFIX = re.compile(r"^(?:par|by|de|theo|bởi|tác giả|auteur)\s*:?\s+", re.IGNORECASE)
VISIBLE_TEXT = "//body//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)]"
NAME_SEPARATORS = re.compile(r"\s*(?:,|;|\bet\b|\band\b|\bvà\b|&)\s*", re.IGNORECASE)
AUTHOR_SEPARATORS = re.compile(r"\s*(?:,|;|\bet\b|\band\b|\bvà\b|&)\s*", re.IGNORECASE)


class NotAnArticle(ValueError):
    """The page holds no article body; the message says why."""


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
    # which extractor and rules made this (see extractor_version)
    extractor: str | None = None
    # where the text came from: "site" (the source's body selectors matched) or "generic"
    # (no site selector matched; whole-page or generic candidates). A known article's
    # generic-only text is not trusted as a new version (README "Versioning rules").
    body_source: str = "site"
    # which extraction stage produced the text (bench/quality.py counts them)
    body_stage: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def extract_article(html: str, url: str, rules: ExtractionRules | None = None) -> Article:
    """Extract one article from decoded HTML, or raise NotAnArticle with the reason.

    Without rules (or with a source's rules that find nothing) the generic layers
    decide: the page's best text container and its standard metadata.
    """
    rules = rules or GENERIC_RULES
    if not html or not html.strip():
        raise NotAnArticle("empty page")
    root = parse_html(html)
    if root is None:
        raise NotAnArticle("not an HTML document")
    page = Selector(root=root)
    jsonld = jsonld_article(page)
    title = _title(page, jsonld, rules)
    body = extract_body(root, url, rules, tuple(t for t in (title,) if t))
    if len(body.text) < rules.min_text_chars:
        raise NotAnArticle(f"no article body: {len(body.text)} characters of text in {body.where}, "
                           f"fewer than min_text_chars={rules.min_text_chars}")
    text = body.text
    if not title:
        raise NotAnArticle("no title found")
    return Article(
        url=_canonical_url(page, url, rules),
        title=title,
        authors=_authors(page, jsonld, rules),
        published_at=_date(page, jsonld, rules.published, rules),
        modified_at=_date(page, jsonld, rules.modified, rules),
        language=_language(page, jsonld, rules),
        section=select_first(page, rules.section, jsonld),
        tags=_tags(page, jsonld, rules),
        summary=_strip(select_first(page, rules.summary, jsonld), rules.summary_strip),
        text=text,
        cited_url=_cited_url(page, text, url, rules),
        citations=_citations(page, text, url, rules),
        extractor=extractor_version(rules),
        body_source=body.source,
        body_stage=body.stage,
    )


def _title(page: Selector, jsonld: dict, rules: ExtractionRules) -> str | None:
    return _strip(select_first(page, rules.title, jsonld), rules.title_strip)


def _strip(value: str | None, pattern: str | None) -> str | None:
    if value and pattern:
        value = clean_line(re.sub(pattern, "", value))
    return value or None


def _authors(page: Selector, jsonld: dict, rules: ExtractionRules) -> tuple[str, ...]:
    names: list[str] = []
    for value in select_all(page, rules.authors, jsonld):
        for name in AUTHOR_SEPARATORS.split(BYLINE_PREFIX.sub("", value)):
            name = clean_line(BYLINE_PREFIX.sub("", name))
            if name and name not in names and len(name) <= 80:
                names.append(name)
    return tuple(names)


def _tags(page: Selector, jsonld: dict, rules: ExtractionRules) -> tuple[str, ...]:
    values = select_all(page, rules.tags, jsonld)
    if len(values) == 1 and "," in values[0]:  # meta keywords / JSON-LD keywords as one string
        values = values[0].split(",")
    tags: list[str] = []
    for tag in (clean_line(v) for v in values):
        if tag and tag.casefold() not in (t.casefold() for t in tags):
            tags.append(tag)
    return tuple(tags)


def _date(page: Selector, jsonld: dict, selectors: tuple[str, ...], rules: ExtractionRules) -> datetime | None:
    for selector in selectors:
        for value in select_all(page, (selector,), jsonld):
            parsed = parse_datetime(value, rules.timezone, rules.date_patterns, rules.dayfirst)
            if parsed is not None:
                return parsed
    return None


def _language(page: Selector, jsonld: dict, rules: ExtractionRules) -> str | None:
    value = select_first(page, LANGUAGE_SELECTORS, jsonld)
    code = re.match(r"[A-Za-z]{2}(?![A-Za-z])", value or "")
    return code.group(0).lower() if code else rules.language


def _canonical_url(page: Selector, url: str, rules: ExtractionRules) -> str:
    declared = select_first(page, rules.canonical, {})
    if declared:
        candidate = urljoin(url, declared)
        if urlsplit(candidate).scheme in ("http", "https") and _same_site(url, candidate):
            return canonicalize_url(candidate, rules.host_aliases, rules.trailing_slash)
    return canonicalize_url(url, rules.host_aliases, rules.trailing_slash)


def _same_site(a: str, b: str) -> bool:
    """Hosts equal up to www./amp./m., or one a subdomain of the other."""
    def bare(u: str) -> str:
        return re.sub(r"^(?:www|amp|m)\.", "", (urlsplit(u).hostname or "").lower())
    ha, hb = bare(a), bare(b)
    return ha == hb or ha.endswith("." + hb) or hb.endswith("." + ha)


def _cited_url(page: Selector, text: str, url: str, rules: ExtractionRules) -> str | None:
    """The original a republisher cites: searched in the body, then in the page's
    visible text (vietnam.vn prints "Source : https://…" just after the body)."""
    if not rules.cited:
        return None
    for haystack in (text, lambda: " ".join(page.xpath(VISIBLE_TEXT).getall())):
        haystack = haystack() if callable(haystack) else haystack
        for pattern in rules.cited:
            found = re.search(pattern, haystack)
            if found:
                cited = found.group(1) if found.groups() else found.group(0)
                return canonicalize_url(urljoin(url, cited.rstrip(".,;)")))
    return None


def _citations(page: Selector, text: str, url: str, rules: ExtractionRules) -> tuple[str, ...]:
    """Names and URLs the article gives as its origins, from source lines."""
    lines = text.split("\n") + [clean_line(" ".join(n.xpath("string()").getall()))
                                for s in rules.citation_selectors for n in page.css(s)]
    found: list[str] = []
    for line in lines:
        for pattern in rules.citation_patterns:
            match = re.fullmatch(pattern, line, flags=re.IGNORECASE)
            if match:
                value = match.group(1).strip()
                found.extend([canonicalize_url(urljoin(url, value.rstrip(".,;)")))] if re.match(r"https?://", value)
                             else [n.strip(" .") for n in NAME_SEPARATORS.split(value) if n.strip(" .")])
                break
    return tuple(dict.fromkeys(found))
