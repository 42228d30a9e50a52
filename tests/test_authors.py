"""Authors as rows (migration 0007): each version's byline in version_authors, written by the
store with the version and backfilled by the migration, so "articles by one author" is an
index lookup (README "Example queries")."""

from dataclasses import replace

from sqlalchemy import text

from crawler.archive.db import create_archive_engine
from crawler.archive.migrate import upgrade
from crawler.archive.visits import record_fetch
from tests.test_store import ARTICLE, archive, visit  # noqa: F401 - the fixture, on SQLite and PostgreSQL

BY_AUTHOR = ("SELECT l.url, l.version FROM version_authors va JOIN latest_versions l ON l.version_id = va.version_id "
             "WHERE va.name = :name")


def authors_of(archive):
    with archive.engine.connect() as connection:
        return connection.execute(text("SELECT v.version, va.position, va.name FROM version_authors va "
                                       "JOIN article_versions v ON v.id = va.version_id ORDER BY 1, 2")).all()


def test_each_version_s_byline_is_stored_in_order(archive):
    record_fetch(archive, visit(replace(ARTICLE, authors=("Hoàng Vũ", "Minh Anh"))))
    record_fetch(archive, visit(replace(ARTICLE, authors=("Minh Anh",)), minutes=30))
    assert authors_of(archive) == [(1, 0, "Hoàng Vũ"), (1, 1, "Minh Anh"), (2, 0, "Minh Anh")]
    with archive.engine.connect() as connection:
        assert connection.execute(text(BY_AUTHOR), {"name": "Minh Anh"}).all() == [(ARTICLE.url, 2)]
        assert connection.execute(text(BY_AUTHOR), {"name": "Hoàng Vũ"}).all() == []  # no longer in the byline


def test_the_migration_backfills_the_versions_archived_before_it(tmp_path):
    engine = create_archive_engine(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(engine, "0006")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO sources (id, name, description, language, timezone, domains) "
                                "VALUES (1, 'znews', '', 'vi', 'UTC', '[]')"))
        connection.execute(text("INSERT INTO articles (id, source_id, url, first_seen_at, last_fetched_at, "
                                "last_changed_at, revisit_step) VALUES (1, 1, 'u', '2025-01-01', '2025-01-01', "
                                "'2025-01-01', 0)"))
        connection.execute(text("INSERT INTO article_versions (id, article_id, version, fetched_at, title, authors, "
                                "tags, text, content_hash, cause, chars_added, chars_removed, words_added, "
                                "words_removed, simhash) VALUES (7, 1, 1, '2025-01-01', 't', '[\"Alex\", \"Bảo\"]', "
                                "'[]', 'x', 'h', 'crawl', 0, 0, 0, 0, 0)"))
    upgrade(engine)
    with engine.connect() as connection:
        rows = connection.execute(text("SELECT version_id, position, article_id, name FROM version_authors "
                                       "ORDER BY position")).all()
    engine.dispose()
    assert rows == [(7, 0, 1, "Alex"), (7, 1, 1, "Bảo")]
