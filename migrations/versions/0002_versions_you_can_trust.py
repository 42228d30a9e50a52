"""Versions you can trust: validators, gone articles, URL aliases, links, SimHash index,
change sizes, flip-flops, full-text search (SQLite FTS5).

Existing versions are re-hashed with the normalising hash, fingerprinted and sized, so a
re-crawl after the upgrade adds no spurious versions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30 01:17:24.865720
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

LATEST_VERSIONS_0001 = """
CREATE VIEW latest_versions AS
SELECT a.id AS article_id, a.url, s.name AS source, v.version, v.title, v.authors,
       v.published_at, v.modified_at, v.language, v.section, v.tags, v.summary, v.text,
       v.cited_url, v.fetched_at, a.first_seen_at, a.last_fetched_at
FROM articles AS a
JOIN sources AS s ON s.id = a.source_id
JOIN article_versions AS v ON v.article_id = a.id
WHERE v.version = (SELECT max(version) FROM article_versions WHERE article_id = a.id)
"""

LATEST_VERSIONS = """
CREATE VIEW latest_versions AS
SELECT a.id AS article_id, a.url, s.name AS source, v.version, v.title, v.authors,
       v.published_at, v.modified_at, v.language, v.section, v.tags, v.summary, v.text,
       v.cited_url, v.fetched_at, a.first_seen_at, a.last_fetched_at, a.gone_at, v.id AS version_id
FROM articles AS a
JOIN sources AS s ON s.id = a.source_id
JOIN article_versions AS v ON v.article_id = a.id
WHERE v.version = (SELECT max(version) FROM article_versions WHERE article_id = a.id)
"""

# Full-text index of each article's newest version. NB: a later batch_alter_table on
# article_versions recreates the table and drops these triggers: recreate them there. External content (rows live in
# article_versions), so the text is not stored twice. remove_diacritics 2 makes
# "thế giới" match "the gioi" and "élève" match "eleve"; the stored text keeps its accents.
FTS_SQLITE = [
    """CREATE VIRTUAL TABLE articles_fts USING fts5(
        title, summary, text, content='article_versions', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    # a new version replaces its predecessor in the index
    """CREATE TRIGGER article_versions_fts_insert AFTER INSERT ON article_versions BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, summary, text)
            SELECT 'delete', id, title, summary, text FROM article_versions
            WHERE article_id = NEW.article_id AND version = NEW.version - 1;
        INSERT INTO articles_fts(rowid, title, summary, text) VALUES (NEW.id, NEW.title, NEW.summary, NEW.text);
    END""",
    # deleting the newest version (cascades) takes it out of the index
    """CREATE TRIGGER article_versions_fts_delete AFTER DELETE ON article_versions BEGIN
        INSERT INTO articles_fts(articles_fts, rowid, title, summary, text)
            SELECT 'delete', OLD.id, OLD.title, OLD.summary, OLD.text
            WHERE NOT EXISTS (SELECT 1 FROM article_versions WHERE article_id = OLD.article_id AND version > OLD.version);
    END""",
]


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.execute("DROP VIEW latest_versions")
    op.create_table(
        "article_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("from_article_id", sa.Integer(), nullable=False),
        sa.Column("to_article_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('duplicate_of', 'cites', 'translation_of')", name=op.f("ck_article_links_kind")),
        sa.ForeignKeyConstraint(["from_article_id"], ["articles.id"], name=op.f("fk_article_links_from_article_id_articles"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["to_article_id"], ["articles.id"], name=op.f("fk_article_links_to_article_id_articles"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_links")),
        sa.UniqueConstraint("from_article_id", "to_article_id", "kind", name=op.f("uq_article_links_from_article_id_to_article_id_kind")),
    )
    op.create_index(op.f("ix_article_links_to_article_id"), "article_links", ["to_article_id"])
    op.create_table(
        "article_urls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], name=op.f("fk_article_urls_article_id_articles"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_article_urls")),
        sa.UniqueConstraint("url", name=op.f("uq_article_urls_url")),
    )
    op.create_index(op.f("ix_article_urls_article_id"), "article_urls", ["article_id"])
    op.create_table(
        "simhash_bands",
        sa.Column("band", sa.SmallInteger(), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], name=op.f("fk_simhash_bands_article_id_articles"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["article_versions.id"], name=op.f("fk_simhash_bands_version_id_article_versions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("band", "value", "version_id", name=op.f("pk_simhash_bands")),
    )
    with op.batch_alter_table("article_versions") as batch_op:
        batch_op.add_column(sa.Column("same_as_version", sa.Integer(), nullable=True))
        for name in ("chars_added", "chars_removed", "words_added", "words_removed"):
            batch_op.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("simhash", sa.BigInteger(), nullable=False, server_default="0"))
    # "which archived articles cite this one" is asked at every new article
    op.create_index(op.f("ix_article_versions_cited_url"), "article_versions", ["cited_url"])
    with op.batch_alter_table("articles") as batch_op:
        batch_op.add_column(sa.Column("etag", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("last_modified", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("raw_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("gone_at", sa.DateTime(timezone=True), nullable=True))
    _migrate_data()
    op.execute(LATEST_VERSIONS)
    if sqlite:
        for statement in FTS_SQLITE:
            op.execute(statement)
        op.execute("""INSERT INTO articles_fts(rowid, title, summary, text)
                      SELECT v.id, v.title, v.summary, v.text FROM article_versions v
                      WHERE v.version = (SELECT max(version) FROM article_versions WHERE article_id = v.article_id)""")


def _migrate_data() -> None:
    """Re-hash, fingerprint and size existing versions; every article URL becomes an alias."""
    # The hashing rule is the application's: this revision adopts it for old rows.
    from crawler.dedup import change_size, simhash, simhash_bands, version_hash

    bind = op.get_bind()
    op.execute("""INSERT INTO article_urls (article_id, url, first_seen_at)
                  SELECT id, url, first_seen_at FROM articles""")
    rows = bind.execute(sa.text("""SELECT id, article_id, version, title, authors, published_at, modified_at,
                                          summary, text FROM article_versions ORDER BY article_id, version""")).mappings()
    previous: dict[int, tuple[str, dict[str, int]]] = {}
    for row in rows.all():
        fields = _Fields(row)
        digest = version_hash(fields)
        earlier_text, hashes = previous.get(row["article_id"], (None, {}))
        size = change_size(earlier_text, row["text"])
        fingerprint = simhash(row["text"])
        bind.execute(sa.text("""UPDATE article_versions SET content_hash = :h, simhash = :s, same_as_version = :same,
                                chars_added = :ca, chars_removed = :cr, words_added = :wa, words_removed = :wr
                                WHERE id = :id"""),
                     {"h": digest, "s": fingerprint, "same": hashes.get(digest), "ca": size.chars_added,
                      "cr": size.chars_removed, "wa": size.words_added, "wr": size.words_removed, "id": row["id"]})
        for band, value in enumerate(simhash_bands(fingerprint)):
            bind.execute(sa.text("INSERT INTO simhash_bands (band, value, version_id, article_id) VALUES (:b, :v, :vid, :a)"),
                         {"b": band, "v": value, "vid": row["id"], "a": row["article_id"]})
        previous[row["article_id"]] = (row["text"], {**hashes, digest: hashes.get(digest, row["version"])})


class _Fields:
    """A 0001 row seen through the attributes version_hash reads."""

    def __init__(self, row):
        import json
        from datetime import datetime, timezone

        def aware(value):
            if value is None:
                return None
            value = datetime.fromisoformat(value) if isinstance(value, str) else value
            return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)

        authors = row["authors"]
        self.title, self.summary, self.text = row["title"], row["summary"], row["text"]
        self.authors = tuple(json.loads(authors) if isinstance(authors, str) else authors)
        self.published_at, self.modified_at = aware(row["published_at"]), aware(row["modified_at"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS article_versions_fts_insert")
        op.execute("DROP TRIGGER IF EXISTS article_versions_fts_delete")
        op.execute("DROP TABLE IF EXISTS articles_fts")
    op.execute("DROP VIEW latest_versions")
    with op.batch_alter_table("articles") as batch_op:
        for name in ("gone_at", "raw_hash", "last_modified", "etag"):
            batch_op.drop_column(name)
    op.drop_index(op.f("ix_article_versions_cited_url"), table_name="article_versions")
    with op.batch_alter_table("article_versions") as batch_op:
        for name in ("simhash", "words_removed", "words_added", "chars_removed", "chars_added", "same_as_version"):
            batch_op.drop_column(name)
    op.drop_table("simhash_bands")
    op.drop_index(op.f("ix_article_urls_article_id"), table_name="article_urls")
    op.drop_table("article_urls")
    op.drop_index(op.f("ix_article_links_to_article_id"), table_name="article_links")
    op.drop_table("article_links")
    op.execute(LATEST_VERSIONS_0001)
