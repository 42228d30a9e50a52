"""Template variants of our five sites (tests/pages/): replicas of markup the sites use or
may switch to, written for these tests (not copies of their pages). Each must keep its
fields and its text clean: a site rule that finds nothing falls through to the generic
layers, never to an empty field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crawler.extract import extract_article
from crawler.sources import load_sources
from tests.test_quality import field_checks

PAGES_DIR = Path(__file__).parent / "pages"
VARIANTS = json.loads((PAGES_DIR / "variants.json").read_text(encoding="utf-8"))
SOURCES = load_sources()


@pytest.mark.parametrize("expected", VARIANTS, ids=[v["file"] for v in VARIANTS])
def test_template_variant_keeps_its_fields_and_a_clean_text(expected):
    html = (PAGES_DIR / expected["file"]).read_text(encoding="utf-8")
    article = extract_article(html, expected["url"], SOURCES[expected["source"]].rules)
    wrong = [what for what, ok in field_checks(article, expected) if not ok]
    assert not wrong, f"{expected['file']} ({expected['why']}): wrong {wrong}\n{article}"


def test_renamed_body_container_reads_as_much_as_the_original():
    """The renamed container degrades to generic quality: the same paragraphs, none lost."""
    url = VARIANTS[0]["url"]
    rules = SOURCES["01net"].rules
    original = extract_article((PAGES_DIR / "01net-vcard-jsonld-ref.html").read_text(encoding="utf-8"), url, rules)
    renamed = extract_article((PAGES_DIR / "01net-renamed-body-hcard-only.html").read_text(encoding="utf-8"), url, rules)
    assert (original.body_source, renamed.body_source) == ("site", "generic")
    assert renamed.text == original.text
