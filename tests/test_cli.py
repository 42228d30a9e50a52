"""The `archive` command: archives built with the real store, read through the CLI."""

import json
import os
import re
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from crawler.archive.migrate import downgrade
from crawler.archive.search import SNIPPET_TOKENS, _search_like, fts5_query, parse_terms, search
from crawler.archive.records import FetchRecord
from crawler.archive.sources import sync_sources
from crawler.archive.store import Archive
from crawler.archive.visits import record_fetch
from crawler.cli import main
from crawler.extract import Article
from crawler.sources import load_sources
from tests.conftest import PROJECT_ROOT, drop_postgres_schema, postgres_url

T0 = datetime(2025, 7, 2, 0, 0, tzinfo=timezone.utc)
ZNEWS = Article(
    url="https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html",
    title="Cuộc chơi lớn của Mark Zuckerberg", authors=("Hoàng Vũ",),
    published_at=datetime(2025, 7, 1, 22, 30, tzinfo=timezone.utc), modified_at=None, language="vi",
    section="Công nghệ", tags=("Meta", "AI"), summary="Meta chi hàng tỷ USD.",
    text="Mark Zuckerberg muốn Meta dẫn đầu thế giới về AI.\nÔng chi hàng tỷ USD để tuyển nhân tài.",
)
ZNEWS_B = replace(ZNEWS, text="Mark Zuckerberg muốn Meta dẫn đầu thế giới về trí tuệ nhân tạo.\n"
                               "Ông chi hàng tỷ USD để tuyển nhân tài.")
DEVELOPPEZ = Article(
    url="https://www.developpez.com/actu/373119/Mark-Zuckerberg-est-tellement-frustre",
    title="Mark Zuckerberg est frustré par la position de Meta dans l'IA", authors=("Stéphane le calme",),
    published_at=datetime(2025, 6, 14, 13, 24, tzinfo=timezone.utc), modified_at=None, language="fr",
    section="IA", tags=(), summary=None,
    text="Le PDG de Meta, ancien élève de Harvard, dépense des milliards pour l'IA.\nC++ et Python ne suffisent plus.",
)
ONE_NET = Article(
    url="https://www.01net.com/actualites/mark-zuckerberg-depense-sans-compter.html",
    title="Mark Zuckerberg dépense sans compter", authors=(), published_at=None, modified_at=None,
    language="fr", section=None, tags=(), summary=None,
    text="Meta aligne les milliards pour son nouveau laboratoire d'intelligence artificielle.",
)
VIETNAMVN = Article(
    url="https://www.vietnam.vn/fr/cuoc-choi-lon-cua-mark-zuckerberg",
    title="Le grand jeu de Mark Zuckerberg", authors=(), published_at=None, modified_at=None,
    language="fr", section=None, tags=(), summary=None,
    text="Mark Zuckerberg veut que Meta mène le monde de l'IA.\nIl dépense des milliards de dollars pour recruter.",
    cited_url=ZNEWS.url,
)


def record(archive, article, source, minutes=0):
    return record_fetch(archive, FetchRecord(url=article.url, source=source, fetched_at=T0 + timedelta(minutes=minutes),
                                            http_status=200, article=article))


def fill(archive):
    sync_sources(archive.engine, load_sources().values())
    assert record(archive, ZNEWS, "znews") == "new"
    assert record(archive, ZNEWS_B, "znews", minutes=60) == "changed"
    assert record(archive, ZNEWS, "znews", minutes=120) == "changed"  # back to A: v3 "same as v1"
    record(archive, DEVELOPPEZ, "developpez")
    record(archive, ONE_NET, "01net")
    record(archive, VIETNAMVN, "vietnamvn", minutes=180)


@pytest.fixture
def archive_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'archive.db'}"
    archive = Archive.open(url)
    fill(archive)
    archive.close()
    return url


@pytest.fixture(scope="module")
def postgresql_archive_url():
    """The same archive on PostgreSQL, filled once for the read-only search tests."""
    url = postgres_url("_cli")
    archive = Archive.open(url)
    fill(archive)
    archive.close()
    yield url
    drop_postgres_schema("_cli")


def runner(archive_url, capsys, monkeypatch):
    """``archive --archive URL args...`` in-process: (exit status, stdout, stderr)."""
    monkeypatch.delenv("ARCHIVE_URL", raising=False)

    def run(*args):
        status = main(["--archive", archive_url, *args])
        out, err = capsys.readouterr()
        return status, out, err
    return run


@pytest.fixture
def run(archive_url, capsys, monkeypatch):
    return runner(archive_url, capsys, monkeypatch)


@pytest.fixture(params=["sqlite", "postgresql"])
def run_search(request, capsys, monkeypatch):
    """``run`` on SQLite (FTS5) and on PostgreSQL (tsvector): one behaviour, same output."""
    url = request.getfixturevalue("archive_url" if request.param == "sqlite" else "postgresql_archive_url")
    return runner(url, capsys, monkeypatch)


def test_history_lists_versions_with_change_sizes_and_flip_flop(run):
    status, out, _ = run("history", ZNEWS.url)
    assert status == 0
    lines = out.splitlines()
    assert lines[0].startswith(ZNEWS.url) and "znews" in lines[0] and "3 versions" in lines[0]
    v1, v2, v3 = lines[1:4]
    assert v1.startswith("v1") and "2025-07-02T00:00:00Z" in v1 and ZNEWS.title in v1 and "same as" not in v1
    assert "2025-07-02T01:00:00Z" in v2 and "words +4/-1" in v2 and "same as" not in v2
    assert v3.rstrip().endswith("same as v1") and "words +1/-4" in v3


def test_history_json(run):
    status, out, _ = run("history", ZNEWS.url, "--json")
    data = json.loads(out)
    assert status == 0 and data["url"] == ZNEWS.url and data["source"] == "znews" and data["gone_at"] is None
    assert [v["version"] for v in data["versions"]] == [1, 2, 3]
    assert [v["same_as_version"] for v in data["versions"]] == [None, None, 1]
    assert data["versions"][1]["fetched_at"] == "2025-07-02T01:00:00Z"


def test_history_shows_gone(run, archive_url):
    archive = Archive.open(archive_url)
    record_fetch(archive, FetchRecord(url=ONE_NET.url, source="01net", fetched_at=T0 + timedelta(days=1),
                                     http_status=404))
    archive.close()
    status, out, _ = run("history", ONE_NET.url)
    assert status == 0 and "gone since 2025-07-03T00:00:00Z" in out


def test_diff_defaults_to_previous_against_newest(run):
    status, out, _ = run("diff", ZNEWS.url)
    assert status == 0
    assert "--- v2 2025-07-02T01:00:00Z" in out and "+++ v3 2025-07-02T02:00:00Z" in out
    assert "[-trí tuệ nhân tạo.-] {+AI.+}" in out
    assert "title:" not in out  # only the text changed


def test_diff_explicit_versions(run):
    status, out, _ = run("diff", ZNEWS.url, "1", "2")
    assert status == 0 and "--- v1 " in out and "+++ v2 " in out
    assert "[-AI.-] {+trí tuệ nhân tạo.+}" in out
    _, same, _ = run("diff", ZNEWS.url, "1", "3")  # a flip-flop: nothing between them
    assert "[-" not in same and "{+" not in same
    _, one, _ = run("diff", ZNEWS.url, "2")  # what changed in v2
    assert "--- v1 " in one and "+++ v2 " in one


def test_diff_shows_metadata_changes(run, archive_url):
    archive = Archive.open(archive_url)
    record(archive, replace(ONE_NET, title="Zuckerberg dépense sans compter", authors=("Mélanie",)), "01net", 30)
    archive.close()
    status, out, _ = run("diff", ONE_NET.url)
    assert status == 0
    assert "title: Mark Zuckerberg dépense sans compter -> Zuckerberg dépense sans compter" in out
    assert "authors: (none) -> Mélanie" in out


def test_diff_with_a_bad_version_lists_the_versions(run):
    status, out, err = run("diff", ZNEWS.url, "1", "7")
    assert status == 2 and out == ""
    assert "no version 7" in err and "1, 2, 3" in err
    assert "Traceback" not in err


def test_show_a_version(run):
    status, out, _ = run("show", "https://znews.vn/cuoc-choi-lon-cua-mark-zuckerberg-post1556369.html?utm_source=fb",
                         "--version", "2")
    assert status == 0
    assert f"title:        {ZNEWS.title}" in out and f"url:          {ZNEWS.url}" in out
    assert "source:       znews" in out and "version:      2 of 3" in out
    assert "authors:      Hoàng Vũ" in out and "published_at: 2025-07-01T22:30:00Z" in out
    assert "tags:         Meta, AI" in out and "language:     vi" in out
    assert out.rstrip().endswith(ZNEWS_B.text)


def test_show_json(run):
    status, out, _ = run("show", VIETNAMVN.url, "--json")
    data = json.loads(out)
    assert status == 0
    assert data["url"] == VIETNAMVN.url and data["source"] == "vietnamvn" and data["version"] == 1
    assert data["cited_url"] == ZNEWS.url and data["text"] == VIETNAMVN.text and data["authors"] == []
    assert data["fetched_at"] == "2025-07-02T03:00:00Z" and data["published_at"] is None


def test_show_a_missing_version(run):
    status, _, err = run("show", VIETNAMVN.url, "--version", "2")
    assert status == 2 and "no version 2: this article has versions 1" in err


def test_search_without_diacritics_finds_vietnamese_and_french(run_search):
    status, out, _ = run_search("search", "the gioi")
    assert status == 0 and ZNEWS.url in out and "[thế] [giới]" in out
    status, out, _ = run_search("search", "eleve", "--json")
    hits = json.loads(out)
    assert [hit["url"] for hit in hits] == [DEVELOPPEZ.url] and "[élève]" in hits[0]["snippet"]
    assert hits[0]["published_at"] == "2025-06-14T13:24:00Z" and hits[0]["source"] == "developpez"


def test_search_reads_only_the_newest_version(run_search):
    _, out, err = run_search("search", "tri tue nhan tao")  # only v2 said it; v3 went back to "AI"
    assert ZNEWS.url not in out and "no article matches" in err
    _, out, _ = run_search("search", 'tuyen nhan tai "dan dau"')  # "đầu" typed "dau": đ is a letter, not d + accent
    # FTS5 marks the phrase, ts_headline each of its words
    assert ZNEWS.url in out and ("[dẫn đầu]" in out or "[dẫn] [đầu]" in out)


@pytest.mark.parametrize("terms", ['C++', "l'IA", 'Meta: "milliards', 'NEAR(meta) AND OR NOT', '*', "col:text",
                                   '"', '^meta', 'a - b', '(', 'zucker*'])
def test_search_terms_with_punctuation_never_break_the_query(run_search, terms):
    status, _, err = run_search("search", terms)
    assert status in (0, 2), err
    assert "Traceback" not in err and "database said" not in err


def test_search_punctuation_is_literal(run_search):
    _, out, _ = run_search("search", "C++ l'IA")
    assert DEVELOPPEZ.url in out
    _, out, _ = run_search("search", "zucker*", "--limit", "2")
    assert out.count("https://") == 2


def test_search_by_source(run_search):
    _, everywhere, _ = run_search("search", "milliards")
    assert {DEVELOPPEZ.url, ONE_NET.url, VIETNAMVN.url} <= set(everywhere.split())
    status, out, _ = run_search("search", "milliards", "--source", "01net")
    assert status == 0 and ONE_NET.url in out and DEVELOPPEZ.url not in out and VIETNAMVN.url not in out
    status, _, err = run_search("search", "milliards", "--source", "lemonde")
    assert status == 2 and "no source 'lemonde'" in err and "znews" in err


def test_search_with_nothing_to_search_for(run_search):
    status, _, err = run_search("search", '  "" ')
    assert status == 2 and "nothing to search for" in err


def test_fts5_query_quotes_every_term():
    assert fts5_query(parse_terms('l\'IA "thế giới" zucker* say"hi')) == \
        '"l\'IA" AND "thế giới" AND "zucker"* AND "say""hi"'
    assert fts5_query(parse_terms("x doan")) == '"x" AND ("doan" OR "đoan")'


def test_like_fallback_is_case_insensitive_and_escapes_wildcards(archive_url):
    archive = Archive.open(archive_url)
    try:
        hits = _search_like(archive, parse_terms("MILLIARDS"), "01net", 20)
        assert [hit.url for hit in hits] == [ONE_NET.url] and "[milliards]" in hits[0].snippet
        assert _search_like(archive, parse_terms("100%"), None, 20) == []
        assert _search_like(archive, parse_terms("l_IA"), None, 20) == []  # _ is not a wildcard
    finally:
        archive.close()


def test_search_on_postgresql_ranks_title_first_and_finds_phrases_and_prefixes(postgresql_archive_url):
    archive = Archive.open(postgresql_archive_url, readonly=True)
    try:
        assert [hit.url for hit in search(archive, "eleve")] == [DEVELOPPEZ.url]  # unaccent
        assert [hit.url for hit in search(archive, "ELEVE de HARVARD")] == [DEVELOPPEZ.url]
        # "dépense" is in 01net's title and in developpez's and vietnamvn's text: the title ranks first
        assert search(archive, "depense")[0].url == ONE_NET.url
        assert [hit.url for hit in search(archive, '"le monde"')] == [VIETNAMVN.url]  # a phrase
        assert search(archive, '"monde le"') == []  # its words, in another order
        assert [hit.url for hit in search(archive, "laborat*")] == [ONE_NET.url]  # a prefix
        assert [hit.url for hit in search(archive, '"nouveau labo"*')] == [ONE_NET.url]  # a phrase's last word
        assert {hit.url for hit in search(archive, "Milliards", source="vietnamvn")} == {VIETNAMVN.url}
        # ts_headline's excerpt around the words, "…" where it cuts the text, as FTS5's snippet()
        assert search(archive, "C++ l'IA")[0].snippet == \
            "…Harvard, dépense des milliards pour [l]'[IA]. [C]++ et Python ne suffisent plus"
        assert search(archive, "zuckerberg", limit=1)[0].snippet.count("[") <= SNIPPET_TOKENS
    finally:
        archive.close()


def test_links_are_shown_from_both_sides(run):
    status, out, _ = run("links", VIETNAMVN.url)
    assert status == 0
    assert f"this is a translation of {ZNEWS.url}" in out and ZNEWS.title in out and "translation_of" in out
    status, out, _ = run("links", ZNEWS.url)
    assert status == 0 and f"{VIETNAMVN.url} is a translation of this" in out and VIETNAMVN.title in out
    _, out, _ = run("links", ZNEWS.url, "--json")
    (link,) = json.loads(out)
    assert link == {"kind": "translation_of", "direction": "incoming", "url": VIETNAMVN.url, "source": "vietnamvn",
                    "title": VIETNAMVN.title, "score": 1.0, "detected_at": link["detected_at"]}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", link["detected_at"])  # when the link was found
    _, out, _ = run("links", ONE_NET.url)
    assert out.startswith("no links")


@pytest.mark.parametrize("command", ["history", "diff", "show", "links"])
def test_unknown_url(run, command):
    status, out, err = run(command, "https://znews.vn/nothing-here-post1.html")
    assert status == 1 and out == ""
    assert "no article for https://znews.vn/nothing-here-post1.html" in err and "archive search" in err


def test_missing_archive_file_is_not_created(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ARCHIVE_URL", raising=False)
    assert main(["history", ZNEWS.url]) == 1
    assert capsys.readouterr().err.strip() == \
        "archive: no archive at archive.db: run `scrapy crawl sources` first, or pass --archive"
    assert not (tmp_path / "archive.db").exists()


def test_a_database_that_is_not_an_archive_is_left_alone(tmp_path, capsys):
    (tmp_path / "other.db").touch()
    assert main(["--archive", f"sqlite:///{tmp_path / 'other.db'}", "search", "x"]) == 1
    assert "is not an archive" in capsys.readouterr().err
    assert (tmp_path / "other.db").stat().st_size == 0


def test_archive_option_after_the_command_and_from_the_environment(archive_url, monkeypatch, capsys):
    assert main(["show", VIETNAMVN.url, "--archive", archive_url]) == 0
    monkeypatch.setenv("ARCHIVE_URL", archive_url)
    assert main(["show", VIETNAMVN.url]) == 0
    assert capsys.readouterr().out.count(VIETNAMVN.title) == 2


def test_usage_errors_exit_2(run):
    with pytest.raises(SystemExit) as exc:
        run("show", ZNEWS.url, "--version", "zero")
    assert exc.value.code == 2
    status, _, err = run("diff", ZNEWS.url, "1")
    assert status == 2 and "version 1 is the first" in err


def test_python_m_crawler_cli(archive_url):
    env = {k: v for k, v in os.environ.items() if k != "ARCHIVE_URL"}
    command = [sys.executable, "-m", "crawler.cli", "--archive", archive_url]
    result = subprocess.run([*command, "history", ZNEWS.url], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "same as v1" in result.stdout
    result = subprocess.run([*command, "diff", ZNEWS.url, "1", "9"], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert result.returncode == 2 and "no version 9" in result.stderr and "Traceback" not in result.stderr
    help_text = subprocess.run([sys.executable, "-m", "crawler.cli", "--help"], cwd=PROJECT_ROOT, env=env,
                               capture_output=True, text=True, encoding="utf-8", timeout=120).stdout
    for command_name in ("history", "diff", "show", "search", "links"):
        assert command_name in help_text
