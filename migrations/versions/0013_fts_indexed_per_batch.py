"""SQLite: a batch's new versions join articles_fts together, before its COMMIT, not one by one.

FTS5 writes the terms it holds in memory out as a new segment of its index at every statement
savepoint of a transaction (SQLite 3.40's ``fts5SavepointMethod`` flushes), and every INSERT
into a table with a unique key opens one. So the row trigger of 0002, which indexed each
version from its own INSERT, gave the index a segment per stored page, not per batch as 0011
supposed, and FTS5 then spent most of its time merging them: on 4,000 crawled pages, 50 a
transaction, 0.43-0.48 ms a page against 0.22 ms when the batch's versions are indexed by one
statement (the index the same size within 0.1 %).

Now the insert trigger only notes the new version in ``articles_fts_pending`` (one row id), and
the store (``crawler.archive.search.index_pending_versions``) indexes what is pending in two
statements at the end of each batch, in the batch's transaction: what a reader sees committed
is indexed, as before. The delete trigger leaves alone a version still pending (it was never
indexed) and treats a version whose newer versions are all pending as the indexed one.

PostgreSQL's index (0009) is a GIN index, which batches its own insertions: unchanged.

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-07 17:30:00
"""

from __future__ import annotations

from alembic import context, op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

PENDING_TRIGGERS = [
    """CREATE TRIGGER article_versions_fts_insert AFTER INSERT ON article_versions BEGIN
        INSERT INTO articles_fts_pending(version_id) VALUES (NEW.id);
    END""",
    # indexed: not pending, and no newer version of the article that is not pending either
    """CREATE TRIGGER article_versions_fts_delete AFTER DELETE ON article_versions BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, summary, text)
            SELECT 'delete', OLD.id, OLD.title, OLD.summary, OLD.text
            WHERE NOT EXISTS (SELECT 1 FROM articles_fts_pending WHERE version_id = OLD.id)
              AND NOT EXISTS (SELECT 1 FROM article_versions AS newer
                              WHERE newer.article_id = OLD.article_id AND newer.version > OLD.version
                                AND newer.id NOT IN (SELECT version_id FROM articles_fts_pending));
        DELETE FROM articles_fts_pending WHERE version_id = OLD.id;
    END""",
]


def _row_triggers() -> list[str]:
    """0002's triggers, as 0002 made them (its list: the FTS5 table, then the two triggers)."""
    return context.script.get_revision("0002").module.FTS_SQLITE[1:]


def _replace_triggers(triggers: list[str]) -> None:
    op.execute("DROP TRIGGER article_versions_fts_insert")
    op.execute("DROP TRIGGER article_versions_fts_delete")
    for statement in triggers:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE TABLE articles_fts_pending (version_id INTEGER PRIMARY KEY)")
    _replace_triggers(PENDING_TRIGGERS)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    # Anything still pending (versions written by hand, outside the store) is indexed as 0002
    # indexes: the index rebuilt from each article's newest version.
    if op.get_bind().exec_driver_sql("SELECT 1 FROM articles_fts_pending LIMIT 1").first():
        op.execute("INSERT INTO articles_fts(articles_fts) VALUES ('delete-all')")
        op.execute("""INSERT INTO articles_fts(rowid, title, summary, text)
                      SELECT v.id, v.title, v.summary, v.text FROM article_versions v
                      WHERE v.version = (SELECT max(version) FROM article_versions WHERE article_id = v.article_id)""")
    _replace_triggers(_row_triggers())
    op.execute("DROP TABLE articles_fts_pending")
