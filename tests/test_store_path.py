"""One store path for every outcome (issue 11): a handful of statements per page, the
stored ETag kept by a 304 that sends none, the near-duplicate lookup on the band index."""

from contextlib import contextmanager
from dataclasses import replace
from datetime import timedelta

import pytest
from sqlalchemy import event, text

from crawler.archive.models import Fetch
from crawler.archive.readers import count, links_of, versions_of
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


def _matches(archive, words: str) -> list[int]:
    """The article ids whose indexed (newest) version has ``words``, through the archive's search index."""
    from crawler.archive.search import search

    return sorted(article_id(archive, hit.url) for hit in search(archive, words))


def article_id(archive, url: str) -> int:
    with archive.engine.connect() as db:
        return db.scalar(text("SELECT id FROM articles WHERE url = :url"), {"url": url})


def test_a_batch_of_new_articles_adds_one_segment_to_the_full_text_index(tmp_path):
    """FTS5 writes a segment at each statement savepoint: versions indexed from their own INSERTs
    made one a page (20 here, merged down to several), which the merges then paid for (0013)."""
    from crawler.archive.sources import sync_sources
    from crawler.archive.store import Archive
    from crawler.sources import load_sources

    archive = Archive.open(f"sqlite:///{tmp_path / 'archive.db'}")
    sync_sources(archive.engine, load_sources().values())
    try:
        assert {s.outcome for s in record_fetches(archive, [visit(a) for a in articles(20)])} == {"new"}
        with archive.engine.connect() as db:
            assert db.scalar(text("SELECT count(DISTINCT segid) FROM articles_fts_idx")) == 1
            assert db.scalar(text("SELECT count(*) FROM articles_fts_pending")) == 0
            assert db.scalar(text("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH 'ket rieng'")) == 20
    finally:
        archive.close()


def test_the_index_holds_each_articles_newest_version_however_its_versions_were_batched(archive):
    first, second = articles(2)
    record_fetches(archive, [visit(first), visit(second)])
    # one batch: the first article changes once, the second twice
    edit = replace(first, text=first.text + "\nCập nhật chiều nay.")
    edits = [replace(second, text=second.text + f"\nLần sửa {word}.") for word in ("alpha", "omega")]
    assert [s.outcome for s in record_fetches(archive, [visit(edit, minutes=5), visit(edits[0], minutes=5),
                                                        visit(edits[1], minutes=6)])] == ["changed"] * 3
    assert [v.version for v in versions_of(archive, second.url)] == [1, 2, 3]
    ids = {url: article_id(archive, url) for url in (first.url, second.url)}
    assert _matches(archive, "cap nhat chieu") == [ids[first.url]]
    assert _matches(archive, "omega") == [ids[second.url]]
    assert _matches(archive, "alpha") == []  # the second article's middle version: superseded in its batch
    assert _matches(archive, "bai so") == sorted(ids.values())  # one hit an article, not one a version


def test_versions_deleted_before_their_batch_is_indexed_leave_no_trace_in_the_index(tmp_path):
    """The delete trigger and the pending versions (SQL written by hand, in one transaction):
    a pending version deleted is forgotten; an indexed one deleted leaves the index, also
    when its successor is still pending; FTS5's own check passes after each."""
    from crawler.archive.search import index_pending_versions
    from crawler.archive.sources import sync_sources
    from crawler.archive.store import Archive
    from crawler.sources import load_sources

    archive = Archive.open(f"sqlite:///{tmp_path / 'archive.db'}")
    sync_sources(archive.engine, load_sources().values())
    first, second = articles(2)
    record_fetches(archive, [visit(replace(first, text="Bản cũ nhất.")), visit(replace(second, text="Bản gốc."))])
    copy = ("INSERT INTO article_versions (article_id, version, fetched_at, title, authors, tags, text, content_hash,"
            " cause, chars_added, chars_removed, words_added, words_removed, simhash)"
            " SELECT article_id, version + 1, fetched_at, title, authors, tags, :text, 'x', cause, 0, 0, 0, 0, 0"
            " FROM article_versions WHERE id = :id")

    def index_check(db):
        db.execute(text("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')"))
        return db.scalar(text("SELECT count(*) FROM articles_fts_pending"))

    try:
        with archive.engine.begin() as db:
            one = db.scalar(text("SELECT id FROM article_versions WHERE text = 'Bản cũ nhất.'"))
            two = db.scalar(text("SELECT id FROM article_versions WHERE text = 'Bản gốc.'"))
            db.execute(text(copy), {"text": "Bản thứ hai.", "id": one})
            db.execute(text(copy), {"text": "Bản sửa.", "id": two})
            assert index_check(db) == 2
            # the first article's pending version 2 is deleted: its version 1 stays the indexed one
            db.execute(text("DELETE FROM article_versions WHERE text = 'Bản thứ hai.'"))
            # the second article's indexed version 1 is deleted under its pending version 2
            db.execute(text("DELETE FROM fetches WHERE version_id = :id"), {"id": two})
            db.execute(text("DELETE FROM article_versions WHERE id = :id"), {"id": two})
            assert index_check(db) == 1
            index_pending_versions(db)
            assert index_check(db) == 0
        with archive.engine.connect() as db:
            def found(words):
                return db.scalar(text("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH :q"), {"q": words})
            assert (found("cu nhat"), found("thu hai"), found("goc"), found("sua")) == (1, 0, 0, 1)
            db.execute(text("INSERT INTO articles_fts(articles_fts) VALUES ('integrity-check')"))
    finally:
        archive.close()


def test_indexing_a_batch_reads_only_the_pending_versions(tmp_path):
    """The planner, left to itself, scanned every archived version to index a batch (to skip a
    sort): 2.6 ms a stored page at 100,000 articles, a batch with nothing pending included."""
    from crawler.archive.search import INDEX_PENDING
    from crawler.archive.store import Archive

    archive = Archive.open(f"sqlite:///{tmp_path / 'archive.db'}")
    try:
        with archive.engine.connect() as db:
            for statement in INDEX_PENDING[:2]:
                plan = [row[3] for row in db.exec_driver_sql("EXPLAIN QUERY PLAN " + statement[statement.index("SELECT"):])]
                assert plan[0] == "SCAN p" and not any(step.startswith("SCAN") for step in plan[1:]), plan
    finally:
        archive.close()
