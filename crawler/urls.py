"""Canonical URLs: the one key an article is stored under.

Every URL that led to an article is kept separately (``article_urls``); this decides
which one is *the* URL. Trackers go (courlan's list: utm_*, fbclid, gclid, xtor, …),
fragments go, AMP and old hosts map to the main host, http becomes https, and the
query is sorted (w3lib).
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import urlsplit, urlunsplit

from courlan import normalize_url
from w3lib.url import canonicalize_url as w3lib_canonicalize

# AMP copies: amp.example.com/x, example.com/amp/x, example.com/x/amp, ?amp=1, ?outputType=amp
AMP_HOST = re.compile(r"^amp\.")
AMP_PATH = re.compile(r"^/amp(?=/)|/amp/?$")
AMP_QUERY = re.compile(r"(^|&)(?:amp(?:=1|=true)?|outputType=amp)(?=&|$)")


@lru_cache(maxsize=65536)  # pure, and the same URL is canonicalised at each stage of a fetch
def canonicalize_url(url: str, host_aliases: tuple[tuple[str, str], ...] = (), trailing_slash: str = "keep") -> str:
    """The canonical form of an article URL.

    ``host_aliases`` maps old or mirror hosts to the site's main host (zingnews.vn ->
    znews.vn); ``trailing_slash`` is "keep", "strip" or "add" for sites that treat
    /x and /x/ as one page.
    """
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return w3lib_canonicalize(url, keep_fragments=False)
    host = parts.hostname.lower()
    host = dict(host_aliases).get(host, host)
    is_amp = bool(AMP_HOST.match(host))
    host = AMP_HOST.sub("", host) if is_amp else host
    host = dict(host_aliases).get(host, host)
    path = AMP_PATH.sub("", parts.path) or "/"
    query = AMP_QUERY.sub("", parts.query).lstrip("&")
    netloc = host + (f":{parts.port}" if parts.port and parts.port not in (80, 443) else "")
    cleaned = normalize_url(urlunsplit(("https", netloc, path, query, "")))
    cleaned = _trailing_slash(cleaned, trailing_slash)
    return w3lib_canonicalize(cleaned, keep_fragments=False)


def _trailing_slash(url: str, mode: str) -> str:
    parts = urlsplit(url)
    path = parts.path
    if mode == "strip" and len(path) > 1:
        path = path.rstrip("/") or "/"
    elif mode == "add" and not path.endswith("/") and "." not in path.rsplit("/", 1)[-1]:
        path += "/"
    return urlunsplit(parts._replace(path=path))
