"""The generic layers: extract_article(html, url) with no rules, and what a source's rules
fall through to when they find nothing (issue 10). Pages are built here, small and to the point."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import lxml.html
import pytest

from crawler.extract import NotAnArticle, extract_article
from crawler.extract.reading import looks_like_dump
from crawler.extract.related import prune_related_links
from crawler.sources import ExtractionRules

URL = "https://news.example.org/2025/03/04/solar-storm.html"
PROSE = ("The storm reached the upper atmosphere on Tuesday night, and aurora were seen much "
         "further south than usual, from northern Spain to the south of Japan, forecasters said.")


def paragraphs(prefix: str, count: int = 4) -> str:
    return "".join(f"<p>{prefix} {i}: {PROSE}</p>" for i in range(count))


def page(body: str, head: str = "", lang: str = ' lang="en"', title: str = "Solar storm lights up the sky") -> str:
    return (f"<!doctype html><html{lang}><head><meta charset='utf-8'><title>{title} | Example News</title>{head}"
            f"</head><body><header><nav><a href='/'>Home</a> <a href='/science'>Science</a></nav></header>"
            f"{body}<footer><p>© 2025 Example News. All rights reserved.</p></footer></body></html>")


def jsonld(data: dict) -> str:
    return f'<script type="application/ld+json">{json.dumps(data)}</script>'


# -- body ------------------------------------------------------------------------------


def test_extract_article_works_without_rules():
    article = extract_article(page(f"<main><article><h1>Solar storm lights up the sky</h1>{paragraphs('Para')}"
                                   "</article></main>"), URL)
    assert article.body_source == "generic" and article.body_stage.startswith("generic")
    assert "Para 0: The storm reached" in article.text and "Para 3:" in article.text
    assert "All rights reserved" not in article.text and "Home" not in article.text
    assert article.title == "Solar storm lights up the sky"


def test_title_repeated_at_the_top_of_the_text_is_dropped():
    article = extract_article(page(f"<article><h1>Solar storm lights up the sky</h1>{paragraphs('Para')}</article>"),
                              URL)
    assert not article.text.startswith("Solar storm") and article.text.startswith("Para 0")


def test_site_body_selector_takes_the_best_match_not_the_first():
    teaser = "<article class='card'><a href='/other'>Another story</a><p>Short teaser.</p></article>"
    html = page(f"{teaser}<article class='story'>{paragraphs('Main')}</article>{teaser}")
    article = extract_article(html, URL, ExtractionRules(body=("article",)))
    assert article.body_source == "site" and "Main 0: The storm" in article.text
    assert "Short teaser" not in article.text


def test_site_body_selector_matching_no_prose_falls_through_to_generic():
    html = page(f"<div class='story-v2'>{paragraphs('Main')}</div><div class='body'><a href='/x'>Share</a></div>")
    article = extract_article(html, URL, ExtractionRules(body=("div.body",)))
    assert article.body_source == "generic" and "Main 3: The storm" in article.text


def test_no_prune_rule_can_empty_the_page():
    """A page wrapped whole in a <form> (ASP.NET WebForms, aljazeera) keeps its text under
    the default `form` prune: an element holding most of the page's text is a wrapper."""
    html = page(f"<form id='aspnetForm' method='post'><article>{paragraphs('Main')}</article>"
                "<input type='hidden' name='__VIEWSTATE' value='x'></form>")
    article = extract_article(html, URL, ExtractionRules(prune=("form", ".missing")))
    assert "Main 2: The storm" in article.text


def test_article_cut_into_chunks_by_adverts_is_read_whole():
    """trafilatura takes the first element of a known body class; the chunks after an
    advert are the same kind of element and come back (wired.com's layout)."""
    chunk = "<div class='grid'><div class='grid--item body article__body'>{}</div></div><div class='ad'>Advertisement</div>"
    html = page("<article><h1>Solar storm lights up the sky</h1><div class='article__chunks'>"
                + "".join(chunk.format(paragraphs(f"Chunk{i}", 3)) for i in range(3)) + "</div></article>")
    article = extract_article(html, URL)
    assert article.body_stage.endswith("+ dropped prose")
    positions = [article.text.index(f"Chunk{i} 0:") for i in range(3)]
    assert positions == sorted(positions) and "Advertisement" not in article.text


def test_a_text_of_short_lines_is_a_dump_of_the_page():
    menu = "\n".join(f"Menu entry {i}" for i in range(60))
    assert looks_like_dump(menu + "\n" + PROSE)
    assert not looks_like_dump("\n".join([PROSE] * 40 + ["Short line"] * 10))


MALFORMED = {
    "xhtml with an xml declaration": ('<?xml version="1.0" encoding="utf-8"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0'
                                      ' Strict//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">'
                                      '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>X</title></head><body>'
                                      f'<article>{paragraphs("P")}</article></body></html>'),
    "control characters": page(f"<article>{paragraphs('P')}</article>".replace("storm", "st\x00or\x0bm\x1f")),
    "broken nesting": page("<div><p>" + "text <b>bold <i>both</b> italic</i> " * 10 + "<table><tr><td><div>"
                           + paragraphs("P") + "</span></td></p></body>"),
}


@pytest.mark.parametrize("html", MALFORMED.values(), ids=MALFORMED.keys())
def test_malformed_pages_give_an_article(html):
    article = extract_article(html, URL)
    assert "P 1:" in article.text and "\x00" not in article.text


@pytest.mark.parametrize(("html", "reason"), [
    (page("<div>" * 10000 + paragraphs("P") + "</div>" * 10000), r"nests 256\+ levels deep"),
    ("just words, no markup at all", "not an HTML document"),
    ("\x00\x01\x02" * 50, "not an HTML document"),
    ("   ", "empty page"),
    (page("<p>Too short.</p>"), "no article body"),
])
def test_hopeless_pages_give_not_an_article_with_the_reason(html, reason):
    with pytest.raises(NotAnArticle, match=reason):
        extract_article(html, URL)


def test_a_too_short_body_says_what_it_read_and_where():
    html = page("<div class='body'><p>Only one short paragraph of the site's own body.</p></div>")
    with pytest.raises(NotAnArticle) as raised:
        extract_article(html, URL, ExtractionRules(body=("div.body",)))
    assert raised.value.body_source == "site" and raised.value.text == "Only one short paragraph of the site's own body."


# -- related-link blocks ---------------------------------------------------------------


@pytest.mark.parametrize(("block", "gone"), [
    ("<p class='lire-aussi'><strong>Lire aussi</strong> : <a href='/a'>Un autre article sur le sujet</a></p>",
     "Un autre article"),
    ("<b>Voir aussi :</b><br><br><img src='f.gif'> <a href='/a'>Un titre développé</a><br><img src='f.gif'> "
     "<a href='/b'>Un autre titre</a>", "Un titre développé"),
    ("<p><strong>Xem thêm:</strong> <a href='/a'>Một bài viết khác</a></p>", "Một bài viết khác"),
    ("<p><b>Đọc thêm:</b> <a href='/a'>Bài đọc thêm</a></p>", "Bài đọc thêm"),
    ("<p><a href='/a'><strong>Read more:</strong> Another story entirely</a></p>", "Another story entirely"),
])
def test_related_link_blocks_are_not_the_article(block, gone):
    html = page(f"<article><div class='content'>{paragraphs('Before', 2)}{block}{paragraphs('After', 2)}</div></article>")
    article = extract_article(html, URL, ExtractionRules(body=("div.content",)))
    assert gone not in article.text
    assert "Before 1:" in article.text and "After 1:" in article.text


@pytest.mark.parametrize(("fragment", "kept"), [
    ("<h3>À lire aussi</h3><ul><li><a href='/a'>Premier titre</a></li><li><a href='/b'>Second titre</a></li></ul>",
     ""),
    ("<div class='box'><div class='t'>Tin liên quan</div><article><h3><a href='/a'>Tin một</a></h3>"
     "<div><a href='/a'>Tóm tắt của tin một</a></div></article></div>", ""),
    ("<section><h2>Sur le même sujet :</h2><p><a href='/a'>Un titre</a></p><p><a href='/b'>Un autre</a></p></section>", ""),
    ("<b>Et vous ?</b><br><img src='f.gif'> Pensez-vous que Meta a raison ?<br>", "Et vous ? Pensez-vous que Meta a raison ?"),
    ("<h2>Related</h2><p>A subheading that happens to read Related, then prose without a link.</p>",
     "Related A subheading that happens to read Related, then prose without a link."),
    ("<p><b>Also</b> <a href='/r'>Reuters</a> reported that the talks had stalled.</p>",
     "Also Reuters reported that the talks had stalled."),
])
def test_related_block_removal_on_the_tree(fragment, kept):
    root = lxml.html.fromstring(f"<html><body><div id='body'><p>Before.</p>{fragment}<p>After.</p></div></body></html>")
    prune_related_links(root)
    text = " ".join(root.get_element_by_id("body").itertext())
    assert " ".join(text.split()) == " ".join(f"Before. {kept} After.".split())


def test_a_label_followed_by_prose_stays():
    """Only links go: developpez's "Et vous ?" questions, or a subheading before a paragraph."""
    html = page("<div class='content'>" + paragraphs("Before", 2) + "<b>Et vous ?</b><br>Qu'en pensez-vous ?<br>"
                "<h2>Voir aussi</h2><p>Une phrase écrite par l'auteur, sans lien, qui reste dans l'article.</p></div>")
    article = extract_article(html, URL, ExtractionRules(body=("div.content",)))
    assert "Qu'en pensez-vous ?" in article.text and "Une phrase écrite par l'auteur" in article.text


# -- metadata --------------------------------------------------------------------------


def body_with(extra: str = "") -> str:
    return f"<article>{extra}{paragraphs('Para')}</article>"


def test_jsonld_author_given_as_an_id_reference_in_the_graph():
    graph = {"@context": "https://schema.org", "@graph": [
        {"@type": "WebPage", "@id": URL, "name": "Page name", "datePublished": "2020-01-01T00:00:00Z"},
        {"@type": "NewsArticle", "headline": "Solar storm", "datePublished": "2025-03-04T21:00:00+01:00",
         "author": [{"@id": "#/person/1"}, {"@type": "Person", "name": "Ravi Shah"}]},
        {"@type": "Person", "@id": "#/person/1", "name": "Ana Lima"}]}
    article = extract_article(page(body_with(), jsonld(graph)), URL)
    assert article.authors == ("Ana Lima", "Ravi Shah")
    assert article.published_at == datetime(2025, 3, 4, 20, 0, tzinfo=timezone.utc)  # the article, not the WebPage
    assert article.title == "Solar storm"


def test_jsonld_html_entities_are_decoded():
    head = jsonld({"@type": "BlogPosting", "headline": "&#8216;Rock &amp; Roll&#8217; is back",
                   "datePublished": "2025-03-04", "author": {"@type": "Person", "name": "Zo&euml; Kim"}})
    article = extract_article(page(body_with(), head), URL)
    assert (article.title, article.authors) == ("‘Rock & Roll’ is back", ("Zoë Kim",))


def test_open_graph_and_article_meta():
    head = ("<meta property='og:title' content='Storm: the OG title'>"
            "<meta property='article:published_time' content='2025-03-04T08:00:00+00:00'>"
            "<meta property='article:modified_time' content='2025-03-05T08:00:00+00:00'>"
            "<meta property='article:section' content='Science'>"
            "<meta property='article:tag' content='Sun'><meta property='article:tag' content='Aurora'>"
            "<meta name='author' content='By Lee Park'><meta property='og:description' content='The lead.'>")
    article = extract_article(page(body_with(), head), URL)
    assert (article.title, article.authors, article.section, article.tags, article.summary) == \
        ("Storm: the OG title", ("Lee Park",), "Science", ("Sun", "Aurora"), "The lead.")
    assert article.published_at == datetime(2025, 3, 4, 8, tzinfo=timezone.utc)
    assert article.modified_at == datetime(2025, 3, 5, 8, tzinfo=timezone.utc)


def test_microdata():
    byline = ("<div itemprop='author' itemscope itemtype='https://schema.org/Person'>By "
              "<span itemprop='name'>Mia Wong</span></div>"
              "<time itemprop='datePublished' datetime='2025-02-01T10:00:00Z'>1 Feb</time>")
    article = extract_article(page(body_with(byline)), URL)
    assert article.authors == ("Mia Wong",)
    assert article.published_at == datetime(2025, 2, 1, 10, tzinfo=timezone.utc)


@pytest.mark.parametrize(("byline", "authors"), [
    ("<span class='byline'>Par <span class='author vcard'><a class='url fn n' href='/auteur/x/'>Claire Dumas</a></span></span>",
     ("Claire Dumas",)),
    ("<p class='byline'>By Jane Roe and John Poe</p>", ("Jane Roe", "John Poe")),
    ("<p class='byline'>By Jane Roe Published 3:10 PM ET Nov. 19, 2019</p>", ("Jane Roe",)),
    ("<a rel='author' href='/authors/sam'>Sam Diaz</a>", ("Sam Diaz",)),
    ("<div class='journalist-name'>Marie Curie</div>", ("Marie Curie",)),  # trafilatura's byline heuristics
])
def test_bylines_when_no_structured_author(byline, authors):
    assert extract_article(page(body_with(byline)), "https://news.example.org/x.html").authors == authors


def test_source_selectors_come_first_and_generic_layers_fill_what_they_miss():
    head = jsonld({"@type": "NewsArticle", "headline": "Solar storm", "author": {"name": "From JSON-LD"}})
    html = page(body_with("<p class='credit'>From the credit line</p>"), head)
    assert extract_article(html, URL, ExtractionRules(authors=("p.credit",))).authors == ("From the credit line",)
    assert extract_article(html, URL, ExtractionRules(authors=("p.gone",))).authors == ("From JSON-LD",)


def test_publication_date_from_the_url_then_from_the_text():
    assert extract_article(page(body_with()), URL).published_at == datetime(2025, 3, 4, tzinfo=timezone.utc)
    dated = page(body_with("<p class='date'>Published on 18 November 2019</p>"))
    assert extract_article(dated, "https://news.example.org/solar.html").published_at.date() == \
        datetime(2019, 11, 18).date()


@pytest.mark.parametrize(("lang", "text", "rules", "expected"), [
    (' lang="fr-FR"', PROSE, ExtractionRules(), "fr"),  # the declaration wins
    ("", "L'orage solaire a atteint la haute atmosphère mardi soir et des aurores ont été vues très loin "
         "vers le sud, du nord de l'Espagne au sud du Japon, ont indiqué les prévisionnistes.", ExtractionRules(), "fr"),
    ("", "Cơn bão mặt trời đã chạm tới tầng khí quyển phía trên vào tối thứ ba, và cực quang được nhìn thấy "
         "xa hơn về phía nam so với thường lệ, các nhà dự báo cho biết.", ExtractionRules(), "vi"),
    ("", PROSE, ExtractionRules(language="vi"), "vi"),  # the source's language before detection
])
def test_language_declared_else_the_sources_else_detected(lang, text, rules, expected):
    html = page("<article>" + "".join(f"<p>{i}. {text}</p>" for i in range(3)) + "</article>", lang=lang)
    assert extract_article(html, URL, rules).language == expected
