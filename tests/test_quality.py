"""Quality floors (tests/quality_floors.json): a change may raise a floor, never lower it silently.

- The AEB (../shared/aeb, 181 real pages; skipped when absent) in generic mode, scored as
  bench/quality.py scores it (the benchmark's README): F1, precision, recall, pages left
  empty, share of pages with a publication date and a language.
- Per site, the share of expected fields right on our pages of that site: the mirror's
  (tests/expected/*.json) and the template variants (tests/pages/variants.json).
"""

from __future__ import annotations

import importlib.util
import json
import sys
from datetime import datetime
from pathlib import Path

import pytest
from w3lib.encoding import html_to_unicode

from crawler.cli import seed_defaults
from crawler.extract import NotAnArticle, extract_article
from crawler.mirror import BUNDLED_WEB
from crawler.sources import DEFAULT_SEEDS_PATH, load_sources
from tests.conftest import EXPECTED_DIR, PROJECT_ROOT

FLOORS = json.loads((Path(__file__).parent / "quality_floors.json").read_text(encoding="utf-8"))
AEB = PROJECT_ROOT.parent / "shared" / "aeb"
PAGES_DIR = Path(__file__).parent / "pages"
SOURCES = load_sources()


def bench_quality():
    spec = importlib.util.spec_from_file_location("bench_quality", PROJECT_ROOT / "bench" / "quality.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


# -- the AEB ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def aeb_results():
    if not (AEB / "ground-truth.json").is_file():
        pytest.skip("../shared/aeb is not present beside the checkout")
    quality = bench_quality()
    rules = seed_defaults(DEFAULT_SEEDS_PATH)
    results = []
    for page in quality.load_pages(AEB):
        try:
            article = extract_article(page.html, page.url, rules)
        except NotAnArticle:
            article = None
        results.append((page, article))
    scores = quality.corpus_scores([quality.page_scores(p.truth, a.text if a else "") for p, a in results])
    return results, scores


@pytest.mark.parametrize("measure", ["f1", "precision", "recall"])
def test_aeb_scores_hold_their_floor(aeb_results, measure):
    _, scores = aeb_results
    assert scores[measure] >= FLOORS["aeb"][measure], f"AEB {measure} {scores[measure]:.4f} below its floor"


def test_aeb_every_page_has_a_body(aeb_results):
    results, _ = aeb_results
    empty = [page.url for page, article in results if article is None or not article.text]
    assert len(empty) <= FLOORS["aeb"]["max_empty_pages"], empty


@pytest.mark.parametrize("field", ["published_at", "language"])
def test_aeb_metadata_coverage_holds_its_floor(aeb_results, field):
    results, _ = aeb_results
    found = [getattr(article, field) is not None for _, article in results if article is not None]
    assert sum(found) / len(results) >= FLOORS["aeb"][f"{field}_share"]


# -- our sites -------------------------------------------------------------------------


def site_pages() -> list[tuple[dict, str]]:
    """(expectation, decoded page) for the mirror's pages and the template variants."""
    pages = []
    for path in sorted(EXPECTED_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        pages += [(page, _mirror_page(page["url"])) for page in data] if isinstance(data, list) else []
    for page in json.loads((PAGES_DIR / "variants.json").read_text(encoding="utf-8")):
        pages.append((page, (PAGES_DIR / page["file"]).read_text(encoding="utf-8")))
    return pages


def _mirror_page(url: str) -> str:
    host, _, path = url.split("://", 1)[1].partition("/")
    file = BUNDLED_WEB / host / (path + "index.html" if path.endswith("/") or not path else path)
    sidecar = file.with_name(file.name + ".headers")
    content_type = next((line.split(":", 1)[1].strip() for line in sidecar.read_text().splitlines()
                         if line.lower().startswith("content-type:")), None) if sidecar.is_file() else None
    return html_to_unicode(content_type, file.read_bytes())[1]


def field_checks(article, expected: dict) -> list[tuple[str, bool]]:
    """(what, right?) for each field the expectation names."""
    checks = [("title", article.title == expected["title"]),
              ("authors", list(article.authors) == expected["authors"]),
              ("published_at", article.published_at == _date(expected["published_at"])),
              ("language", article.language == expected["language"])]
    for name in ("section", "cited_url", "body_source"):
        if name in expected:
            checks.append((name, getattr(article, name) == expected[name]))
    if expected.get("tags"):
        checks.append(("tags", list(article.tags) == expected["tags"]))
    if expected.get("summary_startswith"):
        checks.append(("summary", (article.summary or "").startswith(expected["summary_startswith"])))
    checks += [(f"body has {s!r}", s in article.text) for s in expected["body_contains"]]
    checks += [(f"body lacks {s!r}", s not in article.text) for s in expected["boilerplate_absent"]]
    return checks


def _date(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def test_each_site_holds_its_field_accuracy_floor():
    by_site: dict[str, list[bool]] = {}
    for expected, html in site_pages():
        article = extract_article(html, expected["url"], SOURCES[expected["source"]].rules)
        by_site.setdefault(expected["source"], []).extend(ok for _, ok in field_checks(article, expected))
    assert set(by_site) == set(FLOORS["site_field_accuracy"])
    for site, results in by_site.items():
        accuracy = sum(results) / len(results)
        assert accuracy >= FLOORS["site_field_accuracy"][site], f"{site}: field accuracy {accuracy:.3f} below its floor"
