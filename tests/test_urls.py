"""Canonical URLs: trackers, fragments, AMP, old hosts, scheme and slashes."""

import pytest

from crawler.sources import load_sources
from crawler.urls import canonicalize_url

SOURCES = load_sources()


@pytest.mark.parametrize(("source", "url", "canonical"), [
    ("znews", "http://zingnews.vn/a-post1.html?utm_source=fb&utm_medium=social#comments", "https://znews.vn/a-post1.html"),
    ("znews", "https://news.zing.vn/a-post1.html", "https://znews.vn/a-post1.html"),
    ("dantri", "https://amp.dantri.com.vn/cong-nghe/x-20250702002436713.htm", "https://dantri.com.vn/cong-nghe/x-20250702002436713.htm"),
    ("dantri", "https://dantri.com.vn/cong-nghe/x.htm?fbclid=abc&gclid=1", "https://dantri.com.vn/cong-nghe/x.htm"),
    ("developpez", "https://www.developpez.com/actu/1/Slug", "https://www.developpez.com/actu/1/Slug/"),
    ("developpez", "http://developpez.com/actu/1/Slug/?xtor=RSS-1", "https://www.developpez.com/actu/1/Slug/"),
    ("vietnamvn", "https://vietnam.vn/fr/slug/", "https://www.vietnam.vn/fr/slug"),
    ("01net", "https://www.01net.com/actualites/x.html/amp/", "https://www.01net.com/actualites/x.html"),
])
def test_source_canonical_urls(source, url, canonical):
    assert SOURCES[source].canonical(url) == canonical


def test_meaningful_query_parameters_are_kept_and_sorted():
    assert canonicalize_url("https://example.com/a.php?page=2&id=7&utm_campaign=x") == "https://example.com/a.php?id=7&page=2"


def test_canonicalisation_is_idempotent():
    for source in SOURCES.values():
        for url in source.start_urls:
            assert source.canonical(source.canonical(url)) == source.canonical(url)
