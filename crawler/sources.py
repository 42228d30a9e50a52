"""Load the source definitions in ``seeds/*.toml`` into frozen dataclasses.

A seeds file has a ``[defaults]`` table and one ``[sources.<name>]`` table per
source. A source's keys override the defaults, except ``prune``, which extends
them (the generic boilerplate selectors apply to every site). Unknown keys, wrong types,
bad CSS selectors and bad regular expressions are rejected at start-up with the file, entry,
key and value named.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cssselect import SelectorError
from parsel.csstranslator import HTMLTranslator

from .urls import canonicalize_url

DEFAULT_SEEDS_PATH = Path(__file__).resolve().parent.parent / "seeds" / "sources.toml"
SOURCE_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
CSS = HTMLTranslator()


class SourcesError(ValueError):
    """A seeds file is malformed; the message names file, entry and key."""


@dataclass(frozen=True)
class ExtractionRules:
    """Where a site keeps each field. Selectors are parsel CSS (``::attr()``,
    ``::text``) or ``jsonld:<key>`` for the page's schema.org NewsArticle."""

    body: tuple[str, ...] = ()
    prune: tuple[str, ...] = ()
    title: tuple[str, ...] = ()
    title_strip: str | None = None
    authors: tuple[str, ...] = ()
    published: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    section: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    summary: tuple[str, ...] = ()
    summary_strip: str | None = None
    canonical: tuple[str, ...] = ()
    cited: tuple[str, ...] = ()
    # Origins an article names: regexes over its lines (group 1 = name(s) or URL) and
    # selectors of source lines ("Theo Forbes", "Sources : Bloomberg, The Information").
    citation_patterns: tuple[str, ...] = ()
    citation_selectors: tuple[str, ...] = ()
    date_patterns: tuple[str, ...] = ()
    # Lines of body text dropped whole: counters, reading times, relative dates.
    drop_lines: tuple[str, ...] = ()
    # Old and AMP hosts -> main host, as (alias, host) pairs.
    host_aliases: tuple[tuple[str, str], ...] = ()
    trailing_slash: str = "keep"
    dayfirst: bool = True
    timezone: str = "UTC"
    language: str | None = None
    min_text_chars: int = 200


@dataclass(frozen=True)
class Source:
    name: str
    domains: tuple[str, ...]
    language: str
    timezone: str
    start_urls: tuple[str, ...] = ()
    feeds: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    listings: tuple[str, ...] = ()
    # selectors of article links on listing pages (default: every link matching article_pattern)
    listing_links: tuple[str, ...] = ()
    article_pattern: str | None = None
    description: str | None = None
    rules: ExtractionRules = ExtractionRules()

    def owns(self, url: str) -> bool:
        return any(_host_in(url, domain) for domain in self.domains)

    def canonical(self, url: str) -> str:
        """The URL as this source's articles are stored under (host aliases, slashes, trackers)."""
        return canonicalize_url(url, self.rules.host_aliases, self.rules.trailing_slash)


SOURCE_KEYS = {f.name for f in fields(Source)} - {"name", "rules"}
RULE_KEYS = {f.name for f in fields(ExtractionRules)} - {"timezone", "language"}
LIST_KEYS = {"domains", "start_urls", "feeds", "sitemaps", "listings", "listing_links"} | {
    f.name for f in fields(ExtractionRules) if f.type.startswith("tuple")
} - {"host_aliases"}
# parsel CSS selectors (or jsonld:<key>), translated to XPath at load so a typo stops the start
CSS_KEYS = {"body", "prune", "title", "authors", "published", "modified", "section", "tags", "summary", "canonical",
            "citation_selectors", "listing_links"}
REGEX_KEYS = {"title_strip", "summary_strip", "cited", "date_patterns", "article_pattern", "drop_lines",
              "citation_patterns"}
TRAILING_SLASH_MODES = ("keep", "strip", "add")


def sources_from_settings(settings) -> dict[str, Source]:  # noqa: ANN001 - a Scrapy Settings
    """The sources of SOURCES_FILE (default: this project's seeds), read once per file version:
    the spider, the pipelines and the archive all ask at start-up."""
    path = Path(settings.get("SOURCES_FILE") or DEFAULT_SEEDS_PATH).resolve()
    return _load_cached(path, path.stat().st_mtime_ns if path.exists() else 0)


@lru_cache(maxsize=8)
def _load_cached(path: Path, _mtime: int) -> dict[str, Source]:
    return load_sources(path)


def load_sources(path: str | Path = DEFAULT_SEEDS_PATH) -> dict[str, Source]:
    """Read a seeds file and return its sources by name, in file order."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SourcesError(f"{path}: sources file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise SourcesError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - {"defaults", "sources"}
    if unknown:
        raise SourcesError(f"{path}: unknown top-level table(s) {sorted(unknown)}; expected [defaults] and [sources.<name>]")
    defaults = data.get("defaults", {})
    _check_entry(path, "defaults", defaults, allowed=RULE_KEYS)
    entries = data.get("sources", {})
    if not entries:
        raise SourcesError(f"{path}: no [sources.<name>] entries")
    return {name: _build_source(path, name, entry, defaults) for name, entry in entries.items()}


def _build_source(path: Path, name: str, entry: dict[str, Any], defaults: dict[str, Any]) -> Source:
    where = f"sources.{name}"
    if not SOURCE_NAME.match(name):
        raise SourcesError(f"{path}: [{where}]: source name must be lowercase letters, digits, '-' or '_'")
    _check_entry(path, where, entry, allowed=SOURCE_KEYS | RULE_KEYS)
    for key in ("domains", "language", "timezone"):
        if key not in entry:
            raise SourcesError(f"{path}: [{where}]: missing required key '{key}'")
    try:
        ZoneInfo(entry["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise SourcesError(f"{path}: [{where}] timezone: unknown IANA zone {entry['timezone']!r}") from None
    if not re.fullmatch(r"[a-z]{2}", entry["language"]):
        raise SourcesError(f"{path}: [{where}] language: {entry['language']!r} is not an ISO 639-1 code such as 'fr'")
    rule_values = {k: v for k, v in defaults.items()}
    for key, value in entry.items():
        if key in RULE_KEYS:
            rule_values[key] = [*defaults.get("prune", []), *value] if key == "prune" else value
    if "host_aliases" in rule_values:
        rule_values["host_aliases"] = tuple(sorted((a.lower(), h.lower()) for a, h in rule_values["host_aliases"].items()))
    rules = ExtractionRules(
        **{k: tuple(v) if k in LIST_KEYS else v for k, v in rule_values.items()},
        timezone=entry["timezone"],
        language=entry["language"],
    )
    source_values = {k: tuple(v) if k in LIST_KEYS else v for k, v in entry.items() if k in SOURCE_KEYS}
    source_values["domains"] = tuple(d.lower() for d in source_values["domains"])
    for url in source_values.get("start_urls", ()):
        if not any(_host_in(url, d) for d in source_values["domains"]):
            raise SourcesError(f"{path}: [{where}] start_urls: {url} is outside the source's domains")
    return Source(name=name, rules=rules, **source_values)


def _host_in(url: str, domain: str) -> bool:
    return _host_matches((urlsplit(url).hostname or "").lower(), domain)


def _host_matches(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _check_entry(path: Path, where: str, entry: dict[str, Any], allowed: set[str]) -> None:
    for key, value in entry.items():
        if key not in allowed:
            raise SourcesError(f"{path}: [{where}]: unknown key '{key}' (allowed: {', '.join(sorted(allowed))})")
        _check_type(path, where, key, value)


def _check_type(path: Path, where: str, key: str, value: Any) -> None:
    expected: type | tuple[type, ...] = str
    if key == "host_aliases":
        if not isinstance(value, dict) or not all(isinstance(v, str) for v in value.values()):
            raise SourcesError(f"{path}: [{where}] {key}: expected a table of host = main host, got {value!r}")
        return
    if key in LIST_KEYS:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise SourcesError(f"{path}: [{where}] {key}: expected a list of strings, got {value!r}")
    elif key == "dayfirst":
        expected = bool
    elif key == "min_text_chars":
        expected = int
    elif key == "trailing_slash" and value not in TRAILING_SLASH_MODES:
        raise SourcesError(f"{path}: [{where}] {key}: expected one of {', '.join(TRAILING_SLASH_MODES)}, got {value!r}")
    if key not in LIST_KEYS and not isinstance(value, expected):
        raise SourcesError(f"{path}: [{where}] {key}: expected {expected.__name__}, got {value!r}")
    if key in REGEX_KEYS:
        for pattern in value if isinstance(value, list) else [value]:
            try:
                re.compile(pattern)
            except re.error as exc:
                raise SourcesError(f"{path}: [{where}] {key}: bad regular expression {pattern!r}: {exc}") from None
    if key in CSS_KEYS:
        for selector in value:
            if not selector.startswith("jsonld:"):
                _check_css(path, where, key, selector)


def _check_css(path: Path, where: str, key: str, selector: str) -> None:
    try:
        CSS.css_to_xpath(selector)  # what parsel's Selector.css() does with it for an HTML page
    except SelectorError as exc:
        raise SourcesError(f"{path}: [{where}] {key}: bad CSS selector {selector!r}: {exc}") from None


def source_for_url(sources: dict[str, Source], url: str) -> Source | None:
    """The source whose domains cover the URL's host, preferring the longest match."""
    host = (urlsplit(url).hostname or "").lower()  # once: several lookups per crawled page
    best: tuple[int, Source] | None = None
    for source in sources.values():
        for domain in source.domains:
            if _host_matches(host, domain) and (best is None or len(domain) > best[0]):
                best = (len(domain), source)
    return best[1] if best else None
