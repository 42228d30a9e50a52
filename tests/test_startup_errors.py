"""A crawl that cannot start says so in one line naming the thing and what is wrong, exits 2
and crawls nothing; the traceback only at LOG_LEVEL=DEBUG (issue 9, item 4)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from crawler.sources import SourcesError, load_sources
from tests.conftest import PROJECT_ROOT
from tests.test_cron import recrawl

SEEDS = (PROJECT_ROOT / "seeds" / "sources.toml").read_text(encoding="utf-8")
ZNEWS_BODY = 'body = ["div.the-article-body", "#video-featured .video-info", "article.the-article"]'


def seeds(tmp_path, old: str, new: str):
    assert old in SEEDS
    path = tmp_path / "sources.toml"
    path.write_text(SEEDS.replace(old, new, 1), encoding="utf-8")
    return path


def crawl(tmp_path, *args: str, spider: str = "sources") -> subprocess.CompletedProcess:
    """``scrapy crawl`` as a user types it: no mirror server needed, nothing may be fetched."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider, "-s", f"ARCHIVE_URL=sqlite:///{tmp_path / 'a.db'}",
               "-s", "MIRROR_URL=http://127.0.0.1:9", *args]
    env = {k: v for k, v in os.environ.items() if k not in ("ARCHIVE_URL", "MIRROR_URL")}
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=120)


CASES = {
    "bad -a value": (["-a", "max_articles=lots"], "scrapy crawl sources: -a max_articles=lots: expected a whole number"),
    "bad -a date": (["-a", "since=yesterday"], "scrapy crawl sources: -a since=yesterday: expected a date"),
    "unknown -a argument": (["-a", "sourcez=znews"],
                            "scrapy crawl sources: unknown argument -a sourcez of spider sources; it takes: "
                            "-a sources, -a max_articles, -a since, -a urls"),
    "unknown source": (["-a", "sources=lemonde"], "scrapy crawl sources: -a sources: unknown source(s) lemonde"),
    "ARCHIVE_URL unknown database": (["-s", "ARCHIVE_URL=postgress://localhost/archive"],
                                     "scrapy crawl sources: ARCHIVE_URL postgress://localhost/archive: "
                                     "unknown database 'postgress'"),
    "ARCHIVE_URL not a URL": (["-s", "ARCHIVE_URL=archive.db"], "ARCHIVE_URL 'archive.db' is not a database URL"),
    "ARCHIVE_URL in no folder": (["-s", "ARCHIVE_URL=sqlite:////no/such/folder/a.db"],
                                 "ARCHIVE_URL sqlite:////no/such/folder/a.db: the folder /no/such/folder does not exist"),
    "ARCHIVE_URL cannot be created": (["-s", "ARCHIVE_URL=sqlite:////proc/archive.db"],
                                      "ARCHIVE_URL sqlite:////proc/archive.db: cannot open the archive: "
                                      "unable to open database file"),
    "MIRROR_URL typo": (["-s", "MIRROR_URL=bundledd"], "scrapy crawl sources: MIRROR_URL 'bundledd': expected 'bundled'"),
    "missing seeds file": (["-s", "SOURCES_FILE=/no/such/sources.toml"],
                           "scrapy crawl sources: /no/such/sources.toml: sources file not found"),
    # a typo in a setting: Scrapy itself takes any name (the crawl ran, the setting ignored)
    "setting name typo": (["-s", "EXTRACT_WORKRS=0"],
                          "scrapy crawl sources: setting EXTRACT_WORKRS: no such setting, did you mean EXTRACT_WORKERS?"),
    "setting name lower case": (["-s", "archive_url=sqlite:///b.db"],
                                "setting archive_url: setting names are upper case, did you mean ARCHIVE_URL?"),
    "setting value not a number": (["-s", "EXTRACT_WORKERS=two"],
                                   "scrapy crawl sources: setting EXTRACT_WORKERS='two': a whole number expected"),
    "setting value out of range": (["-s", "CONCURRENT_REQUESTS=0", "-s", "DOWNLOAD_DELAY=0.2"],
                                   "scrapy crawl sources: setting CONCURRENT_REQUESTS=0: must be more than 0"),
}


@pytest.mark.parametrize("case", CASES)
def test_a_crawl_that_cannot_start_says_so_in_one_line_and_exits_2(tmp_path, case):
    args, message = CASES[case]
    result = crawl(tmp_path, *args)
    assert result.returncode == 2, result.stderr[-2000:]
    assert message in result.stderr
    last = result.stderr.splitlines()[-1]
    assert message in last and "Traceback" not in result.stderr
    if case != "ARCHIVE_URL cannot be created":  # found before Scrapy starts: the only output
        assert len(result.stderr.splitlines()) == 1, result.stderr
    assert not (tmp_path / "a.db").exists()


@pytest.mark.parametrize(("old", "new", "message"), [
    (ZNEWS_BODY, 'body = ["div.the-article-body >> p"]',
     "[sources.znews] body: bad CSS selector 'div.the-article-body >> p'"),
    (ZNEWS_BODY, 'body = ["div.the-article-body::texte"]',
     "[sources.znews] body: bad CSS selector 'div.the-article-body::texte'"),
    ("article_pattern = '-post\\d+\\.html$'", "article_pattern = '-post(\\d+\\.html$'",
     "[sources.znews] article_pattern: bad regular expression '-post(\\\\d+\\\\.html$'"),
    ('timezone = "Asia/Ho_Chi_Minh"', 'timezone = "Asia/Ho_Chi_Minh"\nfeed = []', "[sources.znews]: unknown key 'feed'"),
])
def test_a_bad_seeds_entry_stops_the_crawl_naming_file_entry_key_and_value(tmp_path, old, new, message):
    path = seeds(tmp_path, old, new)
    result = crawl(tmp_path, "-s", f"SOURCES_FILE={path}")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.splitlines()[-1]]
    assert f"scrapy crawl sources: {path}: " in result.stderr and message in result.stderr


def test_css_selectors_are_compiled_when_the_seeds_are_loaded(tmp_path):
    with pytest.raises(SourcesError, match=r"\[sources.znews\] listing_links: bad CSS selector 'a\[href'"):
        load_sources(seeds(tmp_path, 'listing_links = ["article.article-item .article-title a::attr(href)"]',
                           'listing_links = ["a[href"]'))
    # jsonld:<key> is not CSS, and the project's own seeds are all valid
    assert load_sources(seeds(tmp_path, ZNEWS_BODY, 'body = ["jsonld:articleBody[", "article"]'))
    assert load_sources()


def test_an_unknown_spider_is_one_line(tmp_path):
    result = crawl(tmp_path, spider="sourcez")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "scrapy crawl sourcez: no spider 'sourcez': the spiders are feeds, listings, revisit, sitemaps, sources"]


def test_the_traceback_is_printed_at_debug_level(tmp_path):
    result = crawl(tmp_path, "-s", "MIRROR_URL=bundledd", "-s", "LOG_LEVEL=DEBUG")
    assert result.returncode == 2
    assert "Traceback" in result.stderr and "MirrorUrlError" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("scrapy crawl sources: MIRROR_URL 'bundledd'")


# -- archive recrawl ---------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "message"), [
    (["-s", "MIRROR_URL=bundledd"], "archive recrawl: MIRROR_URL 'bundledd': expected 'bundled'"),
    (["-s", "SOURCES_FILE=/no/such/sources.toml"], "archive recrawl: /no/such/sources.toml: sources file not found"),
    (["--since", "last week"], "archive recrawl: -a since=last week: expected a date"),
])
def test_recrawl_that_cannot_start_says_so_in_one_line_and_exits_2(tmp_path, args, message):
    result = recrawl(tmp_path / "archive.db", *args)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [result.stderr.splitlines()[-1]] and message in result.stderr
    assert not (tmp_path / "archive.db").exists() and not (tmp_path / "archive.db.lock").exists()


def test_recrawl_with_a_bad_archive_url_is_one_line(tmp_path):
    command = [sys.executable, "-m", "crawler.cli", "--archive", "postgress://localhost/archive", "recrawl"]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "archive recrawl: ARCHIVE_URL postgress://localhost/archive: unknown database 'postgress': "
        "expected sqlite:/// or postgresql+psycopg://"]


def test_recrawl_where_the_lock_file_cannot_be_created_is_one_line(tmp_path):
    result = recrawl(tmp_path / "archive.db", "-s", "RECRAWL_LOCK_FILE=/proc/archive.lock")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "archive recrawl: cannot create the lock file /proc/archive.lock: No such file or directory"]


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into any folder")
def test_recrawl_in_an_unwritable_folder_is_one_line(tmp_path):
    folder = tmp_path / "readonly"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = recrawl(folder / "archive.db")
    finally:
        folder.chmod(0o755)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"archive recrawl: cannot create the lock file {folder / 'archive.db.lock'}: Permission denied"]


def test_recrawl_whose_archive_cannot_be_created_is_one_line(tmp_path):
    result = recrawl(tmp_path / "archive.db", "--archive", "sqlite:////proc/archive.db",
                     "-s", f"RECRAWL_LOCK_FILE={tmp_path / 'lock'}")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "archive recrawl: ARCHIVE_URL sqlite:////proc/archive.db: cannot open the archive: unable to open database file")
    assert "Traceback" not in result.stderr


def test_recrawl_takes_a_sqlite_file_path_as_every_archive_command_does(tmp_path):
    command = [sys.executable, "-m", "crawler.cli", "--archive", "archive.db", "recrawl", "--no-discover",
               "-s", "MIRROR_URL=bundled"]
    env = {k: v for k, v in os.environ.items() if k != "ARCHIVE_URL"}
    result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "archive.db").is_file() and (tmp_path / "archive.db.lock").is_file()


def test_settings_check_reads_each_type_and_range_and_lets_valid_and_add_on_settings_through(caplog):
    """crawler/settings_check.py on its own: every kind of default, the near-miss rule."""
    from scrapy.settings import Settings

    from crawler import settings as project
    from crawler.settings_check import check_settings

    def check(**given):
        settings = Settings()
        settings.setmodule(project, priority="project")
        settings.setdict(given, priority="cmdline")
        check_settings(settings)

    check(EXTRACT_WORKERS="0", ROBOTSTXT_OBEY="false", DOWNLOAD_DELAY="0.2", DOWNLOAD_TIMEOUT="0.5",
          ROBOTSTXT_MAX_CRAWL_DELAY="0.2", DEPTH_PRIORITY="-1", RUN_MAX_ERROR_SHARE="0.25", ARCHIVE_BATCH_SIZE="10",
          DOWNLOAD_HANDLERS='{"https": null}', REVISIT_INTERVALS="15,60", WARC_DIR="/tmp/w", MIRROR_URL="bundled",
          REDIS_PARAMS='{"socket_timeout": 5}', LOG_LEVEL="WARNING")
    bad = {
        "ROBOTSTXT_OBEY": ("yes", "setting ROBOTSTXT_OBEY='yes': true/false or 1/0 expected (default: True)"),
        "RUN_MAX_ERROR_SHARE": ("1.5", "setting RUN_MAX_ERROR_SHARE=1.5: a share from 0 to 1 expected"),
        "HEALTH_BODY_RATIO": ("half", "setting HEALTH_BODY_RATIO='half': a number expected (default: 0.5)"),
        "REVISIT_GONE_DAYS": ("-1", "setting REVISIT_GONE_DAYS=-1.0: must be 0 or more"),
        "ARCHIVE_BATCH_SIZE": ("2.5", "setting ARCHIVE_BATCH_SIZE='2.5': a whole number expected (default: 50)"),
        "DOWNLOAD_TIMEOUT": ("0", "setting DOWNLOAD_TIMEOUT=0.0: must be more than 0"),
        "CONCURENT_REQUESTS": ("8", "setting CONCURENT_REQUESTS: no such setting, did you mean CONCURRENT_REQUESTS?"),
        "FRONTIER_ULR": ("redis://x", "setting FRONTIER_ULR: no such setting, did you mean FRONTIER_URL?"),
    }
    for name, (value, message) in bad.items():
        with pytest.raises(ValueError) as raised:
            check(**{name: value})
        assert str(raised.value).startswith(message), (name, str(raised.value))
    with caplog.at_level("WARNING"):
        check(MY_PIPELINE_BUCKET="s3://archive")  # no near miss: an add-on's own setting, let through
    assert "setting MY_PIPELINE_BUCKET is not one Scrapy, scrapy-redis or this crawler reads" in caplog.text
