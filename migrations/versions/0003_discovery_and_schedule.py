"""Discovery and scheduled re-crawls: where URLs were found, what articles cite, when
each article is due again.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 02:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # plain ADD/DROP COLUMN (SQLite >= 3.35), not batch mode: a batch copy of articles
    # would break the latest_versions view that reads it
    op.add_column("articles", sa.Column("revisit_step", sa.Integer(), nullable=False, server_default="0"))
    op.add_column("articles", sa.Column("next_visit_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_articles_next_visit_at"), "articles", ["next_visit_at"])
    # existing articles are due at once: the first scheduled run revisits them all
    op.execute("UPDATE articles SET next_visit_at = last_fetched_at")
    op.create_table(
        "discoveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("found_on", sa.Text(), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("crawl_run_id", sa.Integer(), nullable=True),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("guid", sa.Text(), nullable=True),
        sa.Column("title", sa.Text(), nullable=True),
        sa.CheckConstraint("method IN ('feed', 'sitemap', 'listing', 'cited', 'start')", name=op.f("ck_discoveries_method")),
        sa.ForeignKeyConstraint(["crawl_run_id"], ["crawl_runs.id"], name=op.f("fk_discoveries_crawl_run_id_crawl_runs")),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name=op.f("fk_discoveries_source_id_sources")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discoveries")),
        sa.UniqueConstraint("url", "found_on", name=op.f("uq_discoveries_url_found_on")),
    )
    op.create_index(op.f("ix_discoveries_url"), "discoveries", ["url"])
    op.create_table(
        "citations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("url", sa.Text(), nullable=True),
        sa.Column("host", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], name=op.f("fk_citations_article_id_articles"), ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["version_id"], ["article_versions.id"], name=op.f("fk_citations_version_id_article_versions"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_citations")),
    )
    op.create_index(op.f("ix_citations_article_id"), "citations", ["article_id"])
    op.create_index(op.f("ix_citations_url"), "citations", ["url"])
    op.create_index(op.f("ix_citations_version_id"), "citations", ["version_id"])


def downgrade() -> None:
    op.drop_table("citations")
    op.drop_index(op.f("ix_discoveries_url"), table_name="discoveries")
    op.drop_table("discoveries")
    op.drop_index(op.f("ix_articles_next_visit_at"), table_name="articles")
    op.drop_column("articles", "next_visit_at")
    op.drop_column("articles", "revisit_step")
