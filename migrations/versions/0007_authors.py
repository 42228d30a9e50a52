"""Authors as rows: version_authors, so articles by one author are an index lookup.

``article_versions.authors`` stays (a JSON list, what exports and the CLI show); each name is
also a row of ``version_authors`` (version, position in the byline, article, name), indexed by
name. Existing versions are backfilled here from their JSON lists; the store writes the rows of
every new version (crawler/archive/visits.py).

Measured by bench/query.py on 1,000,000 generated versions (SQLite 3.40, see bench/README.md):
"articles by one author" read json_each(authors) of every newest version (1.3 s); through the
name index it reads only that author's versions.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 11:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# Dialect-specific: the JSON list unnested with each name's position.
BACKFILL = {
    "sqlite": """INSERT INTO version_authors (version_id, position, article_id, name)
        SELECT v.id, j.key, v.article_id, j.value FROM article_versions AS v, json_each(v.authors) AS j
        WHERE j.type = 'text'""",
    "postgresql": """INSERT INTO version_authors (version_id, position, article_id, name)
        SELECT v.id, j.position - 1, v.article_id, j.name
        FROM article_versions AS v, json_array_elements_text(v.authors::json) WITH ORDINALITY AS j(name, position)""",
}


def upgrade() -> None:
    op.create_table(
        "version_authors",
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.SmallInteger(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["version_id"], ["article_versions.id"], ondelete="CASCADE",
                                name="fk_version_authors_version_id_article_versions"),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE",
                                name="fk_version_authors_article_id_articles"),
        sa.PrimaryKeyConstraint("version_id", "position", name="pk_version_authors"),
    )
    op.create_index("ix_version_authors_name", "version_authors", ["name", "version_id"])
    op.create_index("ix_version_authors_article_id", "version_authors", ["article_id"])
    op.execute(BACKFILL[op.get_bind().dialect.name])


def downgrade() -> None:
    op.drop_index("ix_version_authors_article_id", table_name="version_authors")
    op.drop_index("ix_version_authors_name", table_name="version_authors")
    op.drop_table("version_authors")
