"""The generic layers: where any news page keeps its metadata, in the order they are read.

A source's own selectors are tried first; when they find nothing, these follow, so a
template variant degrades to what any page offers instead of to an empty field. The
order is the standards' first, heuristics last: JSON-LD (``@graph``, ``@id``
references resolved), Open Graph and ``article:*`` meta, other meta conventions,
microdata, hCard and WordPress bylines, then trafilatura's byline and title
heuristics; for the publication date, a date in the URL, then htmldate.
"""

from __future__ import annotations

from ..sources import ExtractionRules


def _meta(*keys: str) -> tuple[str, ...]:
    """``property=og:title`` -> ``meta[property='og:title']::attr(content)``."""
    return tuple(f"meta[{k.split('=', 1)[0]}='{k.split('=', 1)[1]}']::attr(content)" for k in keys)


GENERIC = ExtractionRules(
    title=("jsonld:headline", *_meta("property=og:title", "name=twitter:title"), "[itemprop='headline']",
           "h1", "title::text", "trafilatura:title"),
    authors=(
        "jsonld:author", *_meta("name=author", "property=article:author", "name=dc.creator"),
        "[itemprop='author'] [itemprop='name']", "[itemprop='author']",
        ".author.vcard .fn", ".vcard .fn", "a[rel='author']", "[rel='author']", ".byline",
        "trafilatura:author",
    ),
    published=(
        "jsonld:datePublished",
        *_meta("property=article:published_time", "property=og:published_time", "name=pubdate",
               "name=publishdate", "name=publish-date", "name=dc.date.issued", "name=dc.date", "name=date",
               "itemprop=datePublished"),
        "[itemprop='datePublished']::attr(datetime)", "[itemprop='datePublished']::attr(content)",
        "[itemprop='datePublished']", "url:date", "htmldate:published",
    ),
    modified=(
        "jsonld:dateModified",
        *_meta("property=article:modified_time", "property=og:updated_time", "name=lastmod",
               "itemprop=dateModified"),
        "[itemprop='dateModified']::attr(datetime)", "[itemprop='dateModified']::attr(content)",
    ),
    section=("jsonld:articleSection", *_meta("property=article:section", "itemprop=articleSection"),
             "[itemprop='articleSection']"),
    tags=(*_meta("property=article:tag"), "jsonld:keywords", *_meta("name=news_keywords", "name=keywords")),
    summary=("jsonld:description", *_meta("property=og:description", "name=description", "name=twitter:description")),
    canonical=("link[rel='canonical']::attr(href)",),
)

# A page's own declaration of its language, in the order trusted.
LANGUAGE = ("html::attr(lang)", *_meta("http-equiv=content-language", "name=language"), "jsonld:inLanguage",
            *_meta("property=og:locale"))
