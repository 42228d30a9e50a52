"""Several hosts on one archive: where each run's WARC files went; full-text search on PostgreSQL.

Portable: ``crawl_runs.warc_dir``, the WARC directory a run wrote to (on its ``host``), so a
``fetches.warc_filename`` says where its record is even when hosts use different WARC_DIRs.

PostgreSQL only (SQLite has FTS5 since 0002): the ``articles_search`` table, one row per
article holding the ``tsvector`` of its newest version (title weight A, summary B, text D)
with a GIN index, kept by a trigger on ``article_versions``, as SQLite's articles_fts is.
Words are indexed through ``archive_search``, a copy of the ``simple`` configuration (no
stemming, no stop words: the archive is multilingual) whose words pass the ``unaccent``
dictionary first, so "the gioi" finds "thế giới", "eleve" "élève" and "dau" "đầu".

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-06 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The parser's token types that are words (psql: \dFp+ default); numbers, URLs, e-mails keep
# the simple dictionary alone.
WORD_TOKENS = "asciiword, asciihword, hword_asciipart, word, hword, hword_part, numword, numhword, hword_numpart"

# unaccent is database-wide: installed once, in public (or the archive's schema when the
# database has no public), never in a schema an archive may drop with CASCADE.
UNACCENT = """
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent') THEN
        IF EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'public') THEN
            CREATE EXTENSION unaccent SCHEMA public;
        ELSE
            CREATE EXTENSION unaccent;
        END IF;
    END IF;
END $$"""

DOCUMENT = """setweight(to_tsvector('archive_search', coalesce({v}.title, '')), 'A')
              || setweight(to_tsvector('archive_search', coalesce({v}.summary, '')), 'B')
              || setweight(to_tsvector('archive_search', {v}.text), 'D')"""

# A new version replaces an older one's document (never a newer one's: a late insert of a
# lower number loses); an edited newest version is indexed again. A deleted version's row
# goes by its foreign key (ON DELETE CASCADE), as SQLite's delete trigger does.
SYNC_FUNCTION = f"""
CREATE FUNCTION articles_search_sync() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        INSERT INTO articles_search (article_id, version_id, version, document)
        VALUES (NEW.article_id, NEW.id, NEW.version, {DOCUMENT.format(v="NEW")})
        ON CONFLICT (article_id) DO UPDATE
            SET version_id = EXCLUDED.version_id, version = EXCLUDED.version, document = EXCLUDED.document
            WHERE articles_search.version < EXCLUDED.version;
    ELSE
        UPDATE articles_search SET document = {DOCUMENT.format(v="NEW")} WHERE version_id = NEW.id;
    END IF;
    RETURN NULL;
END $$"""

SYNC_TRIGGER = """CREATE TRIGGER article_versions_search AFTER INSERT OR UPDATE OF title, summary, text
                  ON article_versions FOR EACH ROW EXECUTE FUNCTION articles_search_sync()"""

BACKFILL = f"""
INSERT INTO articles_search (article_id, version_id, version, document)
SELECT v.article_id, v.id, v.version, {DOCUMENT.format(v="v")}
FROM article_versions AS v
WHERE v.version = (SELECT max(version) FROM article_versions WHERE article_id = v.article_id)"""


def upgrade() -> None:
    # plain ADD COLUMN (SQLite >= 3.35), as 0005. Runs recorded before say nothing: WARC_DIR then.
    op.add_column("crawl_runs", sa.Column("warc_dir", sa.Text(), nullable=True))
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_search()


def _postgresql_search() -> None:
    op.execute(UNACCENT)
    schema = op.get_bind().execute(sa.text(
        "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
        "WHERE e.extname = 'unaccent'")).scalar_one()
    op.execute("CREATE TEXT SEARCH CONFIGURATION archive_search (COPY = pg_catalog.simple)")
    op.execute(f'ALTER TEXT SEARCH CONFIGURATION archive_search ALTER MAPPING FOR {WORD_TOKENS} '
               f'WITH "{schema}".unaccent, simple')
    op.create_table(
        "articles_search",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.dialects.postgresql.TSVECTOR(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], name=op.f("fk_articles_search_article_id_articles"),
                                ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["article_versions.id"],
                                name=op.f("fk_articles_search_version_id_article_versions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("article_id", name=op.f("pk_articles_search")),
        sa.UniqueConstraint("version_id", name=op.f("uq_articles_search_version_id")),
    )
    op.create_index("ix_articles_search_document", "articles_search", ["document"], postgresql_using="gin")
    op.execute(SYNC_FUNCTION)
    op.execute(SYNC_TRIGGER)
    op.execute(BACKFILL)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER article_versions_search ON article_versions")
        op.execute("DROP FUNCTION articles_search_sync()")
        op.drop_table("articles_search")
        op.execute("DROP TEXT SEARCH CONFIGURATION archive_search")
        # unaccent stays: other archives in this database may use it, and it changes nothing
    op.drop_column("crawl_runs", "warc_dir")
