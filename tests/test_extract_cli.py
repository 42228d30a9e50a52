"""`archive extract FILE --url URL`: what we would archive from one saved page."""

from __future__ import annotations

import json

from crawler.cli import main
from crawler.mirror import BUNDLED_WEB

DEVELOPPEZ = ("www.developpez.com/actu/373655/Les-developpeurs-passent-pres-d-un-tiers-de-leur-temps-a-corriger-du-"
              "code-genere-par-l-IA-selon-une-enquete-qui-met-le-doigt-sur-le-coeur-du-probleme/")


def test_a_known_sources_page_uses_its_rules(capsys):
    assert main(["extract", str(BUNDLED_WEB / DEVELOPPEZ / "index.html"), "--url", f"https://{DEVELOPPEZ}"]) == 0
    out = capsys.readouterr().out
    assert "source:       developpez (its rules, then the generic layers)" in out
    assert "body:         site (" in out and "authors:      Anthony" in out
    # the page is cp1252 bytes declared ISO-8859-1: decoded as browsers and Scrapy do
    assert "Une enquête menée auprès de 1 200 développeurs européens" in out


def test_an_unknown_host_gets_generic_mode_and_json(capsys):
    code = main(["extract", str(BUNDLED_WEB / DEVELOPPEZ / "index.html"), "--url", "https://example.org/a.html", "--json"])
    assert code == 0
    article = json.loads(capsys.readouterr().out)
    assert article["source"] is None and article["body_source"] == "generic"
    assert article["title"].startswith("Les développeurs passent près d’un tiers") and article["language"] == "fr"


def test_not_an_article_says_why(tmp_path, capsys):
    page = tmp_path / "short.html"
    page.write_text("<html><head><title>T</title></head><body><p>Short.</p></body></html>", encoding="utf-8")
    assert main(["extract", str(page), "--url", "https://example.org/short.html"]) == 1
    assert "not an article: no article body" in capsys.readouterr().err


def test_a_missing_file_is_named(tmp_path, capsys):
    assert main(["extract", str(tmp_path / "nope.html"), "--url", "https://example.org/x"]) == 1
    err = capsys.readouterr().err
    assert "cannot read" in err and "nope.html" in err
