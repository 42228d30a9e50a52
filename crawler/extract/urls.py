"""Canonical URLs: the one key an article is stored under."""

from __future__ import annotations

from w3lib.url import canonicalize_url as w3lib_canonicalize


def canonicalize_url(url: str) -> str:
    """Lower-case host, sorted query, no fragment, percent-encoding made uniform."""
    return w3lib_canonicalize(url.strip(), keep_fragments=False)
