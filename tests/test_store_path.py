"""One store path for every outcome (issue 11): a handful of statements per page, the
stored ETag kept by a 304 that sends none, the near-duplicate lookup on the band index."""

from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event

from crawler.archive.models import Fetch
from crawler.archive.readers import count, links_of
from crawler.archive.validators import validators
from crawler.archive.visits import record_fetch, record_fetches
from tests.test_store import ARTICLE, LONG, archive, visit  # noqa: F401 - the fixture, on SQLite and PostgreSQL

PAGES = 40


@contextmanager
def statements(archive):
    """Every SQL statement the archive sends while the block runs (SAVEPOINTs included)."""
    sent: list[str] = []

    def count(conn, cursor, statement, *args):  # noqa: ANN001
        sent.append(statement)

    event.listen(archive.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(archive.engine, "before_cursor_execute", count)


def articles(n: int) -> list:
    return [replace(ARTICLE, url=f"https://znews.vn/bai-{i}-post{1000 + i}.html", title=f"Bài {i}",
                    text=f"{LONG}\nBài số {i} có đoạn kết riêng: {'x' * i}.") for i in range(n)]


def test_a_new_article_costs_at_most_8_statements_and_a_304_at_most_2(archive):
    new = [visit(article) for article in articles(PAGES)]
    with statements(archive) as sent:
        assert {s.outcome for s in record_fetches(archive, new)} == {"new"}
    assert len(sent) / PAGES <= 8, sent[:20]
    quiet = [visit(None, minutes=60, url=r.url, outcome="not_modified", http_status=304) for r in new]
    with statements(archive) as sent:
        assert {s.outcome for s in record_fetches(archive, quiet)} == {"not_modified"}
    assert len(sent) / PAGES <= 2, sent
    assert count(archive.engine, Fetch) == 2 * PAGES


def test_a_bad_page_in_a_batch_costs_the_others_nothing(archive):
    pages = [visit(article) for article in articles(5)]
    pages[2] = replace(pages[2], source="nope")
    assert [s.outcome for s in record_fetches(archive, pages)] == ["new", "new", "error", "new", "new"]
    again = [visit(None, minutes=5, url=p.url, outcome="not_modified", http_status=304) for p in pages]
    assert [s.outcome for s in record_fetches(archive, again)] == [
        "not_modified", "not_modified", "error", "not_modified", "not_modified"]


@pytest.mark.parametrize("quiet", [{"outcome": "not_modified", "http_status": 304}, {"outcome": "unchanged"}])
def test_a_304_or_identical_body_keeps_the_etag_unless_it_sends_a_new_one(archive, quiet):
    record_fetch(archive, visit(etag='"v1"', last_modified="Tue, 01 Jul 2025 22:30:00 GMT"))
    record_fetch(archive, visit(None, minutes=1, url=ARTICLE.url, **quiet))
    kept = validators(archive, ARTICLE.url)
    assert (kept.etag, kept.last_modified) == ('"v1"', "Tue, 01 Jul 2025 22:30:00 GMT")
    record_fetch(archive, visit(None, minutes=2, url=ARTICLE.url, etag='"v2"', **quiet))
    assert validators(archive, ARTICLE.url).etag == '"v2"'
    # the article path follows the same rule
    record_fetch(archive, visit(minutes=3))
    assert validators(archive, ARTICLE.url).etag == '"v2"'


def test_the_near_duplicate_lookup_searches_the_band_index(archive):
    if archive.engine.dialect.name != "sqlite":
        pytest.skip("the plan is read with SQLite's EXPLAIN QUERY PLAN")
    record_fetches(archive, [visit(article) for article in articles(3)])
    with statements(archive) as sent:
        record_fetch(archive, visit(articles(4)[3], minutes=1))
    (lookup,) = [s for s in sent if "FROM simhash_bands" in s]
    with archive.engine.connect() as connection:
        plan = " ".join(row[-1] for row in connection.exec_driver_sql(
            f"EXPLAIN QUERY PLAN {lookup}", (0,) * lookup.count("?")))
    assert "SCAN simhash_bands" not in plan and "simhash_bands" in plan, plan
    assert links_of(archive, articles(4)[3].url)  # and it found the near-duplicates
