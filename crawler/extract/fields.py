"""The article's fields besides its text: the source's selectors first, then the generic layers."""

from __future__ import annotations

import re
from datetime import datetime
from urllib.parse import urljoin, urlsplit

from ..sources import ExtractionRules
from ..urls import canonicalize_url
from .dates import parse_datetime
from .generic import GENERIC, LANGUAGE
from .language import detect_language
from .metadata import PageData, select_all, select_first, union_values
from .text import clean_line

# Byline words that are not part of a name: "par Alex", "Theo Minh Anh", "By Jo".
BYLINE_PREFIX = re.compile(r"^(?:par|by|de|theo|bởi|tác giả|auteur|written by|posted by)\s*:?\s+", re.IGNORECASE)
NAME_SEPARATORS = re.compile(r"\s*(?:,|;|\bet\b|\band\b|\bvà\b|&)\s*", re.IGNORECASE)
AUTHOR_SEPARATORS = re.compile(r"\s*(?:,|;|\||\bet\b|\band\b|\bvà\b|&)\s*", re.IGNORECASE)
# Where a byline stops naming people: "Jo Doe Published 3:10 PM", "Par Alex, mis à jour le 2/3".
BYLINE_END = re.compile(r"\b(?:published|updated|posted|publié|mis à jour|cập nhật)\b.*$", re.IGNORECASE)
# "en-US", "fr_FR", "vi": the ISO 639-1 code in front.
LANGUAGE_CODE = re.compile(r"^([A-Za-z]{2})(?:$|[-_])")
VISIBLE_TEXT = "//body//text()[not(ancestor::script) and not(ancestor::style) and not(ancestor::noscript)]"


def title(page: PageData, rules: ExtractionRules) -> str | None:
    return strip(select_first(page, rules.title, GENERIC.title), rules.title_strip)


def summary(page: PageData, rules: ExtractionRules) -> str | None:
    return strip(select_first(page, rules.summary, GENERIC.summary), rules.summary_strip)


def section(page: PageData, rules: ExtractionRules) -> str | None:
    return select_first(page, rules.section, GENERIC.section)


def strip(value: str | None, pattern: str | None) -> str | None:
    if value and pattern:
        value = clean_line(re.sub(pattern, "", value))
    return value or None


def authors(page: PageData, rules: ExtractionRules) -> tuple[str, ...]:
    """People's names: bylines split at commas and "and"/"et"/"và", "By"/"par"/"Theo" dropped.
    A value that is a URL (article:author often is a profile page) is not a name."""
    names: list[str] = []
    for value in select_all(page, rules.authors, GENERIC.authors):
        if re.match(r"https?://", value):
            continue
        for name in AUTHOR_SEPARATORS.split(BYLINE_END.sub("", BYLINE_PREFIX.sub("", value))):
            name = clean_line(BYLINE_PREFIX.sub("", name))
            if name and name not in names and len(name) <= 80:
                names.append(name)
    return tuple(names)


def tags(page: PageData, rules: ExtractionRules) -> tuple[str, ...]:
    values = select_all(page, rules.tags, GENERIC.tags)
    if len(values) == 1 and "," in values[0]:  # meta keywords / JSON-LD keywords as one string
        values = values[0].split(",")
    found: list[str] = []
    for tag in (clean_line(v) for v in values):
        if tag and tag.casefold() not in (t.casefold() for t in found):
            found.append(tag)
    return tuple(found)


def published(page: PageData, rules: ExtractionRules) -> datetime | None:
    return _date(page, rules.published + GENERIC.published, rules)


def modified(page: PageData, rules: ExtractionRules) -> datetime | None:
    return _date(page, rules.modified + GENERIC.modified, rules)


def _date(page: PageData, selectors: tuple[str, ...], rules: ExtractionRules) -> datetime | None:
    """The first value of the selectors that parses as a date (not merely the first value)."""
    for selector in selectors:
        for value in page.values(selector):
            parsed = parse_datetime(value, rules.timezone, rules.date_patterns, rules.dayfirst)
            if parsed is not None:
                return parsed
    return None


def language(page: PageData, rules: ExtractionRules, text: str) -> str | None:
    """The page's declaration, else the source's language, else detection over the text."""
    for value in select_all(page, LANGUAGE):
        code = LANGUAGE_CODE.match(value)
        if code:
            return code.group(1).lower()
    return rules.language or detect_language(text)


def canonical_url(page: PageData, url: str, rules: ExtractionRules) -> str:
    declared = select_first(page, rules.canonical, GENERIC.canonical)
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


def cited_url(page: PageData, text: str, url: str, rules: ExtractionRules) -> str | None:
    """The original a republisher cites: searched in the body, then in the page's
    visible text (vietnam.vn prints "Source : https://…" just after the body)."""
    if not rules.cited:
        return None
    for haystack in (text, lambda: " ".join(page.root.xpath(VISIBLE_TEXT))):
        haystack = haystack() if callable(haystack) else haystack
        for pattern in rules.cited:
            found = re.search(pattern, haystack)
            if found:
                cited = found.group(1) if found.groups() else found.group(0)
                return canonicalize_url(urljoin(url, cited.rstrip(".,;)")))
    return None


def citations(page: PageData, text: str, url: str, rules: ExtractionRules) -> tuple[str, ...]:
    """Names and URLs the article gives as its origins, from source lines."""
    lines = text.split("\n") + union_values(page, rules.citation_selectors)
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
