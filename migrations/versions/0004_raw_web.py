"""Keep the raw web: each fetch points at its WARC record, each article at its last full
capture, each version says which extractor made it and why.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

FETCH_COLUMNS = [("warc_filename", sa.Text), ("warc_offset", sa.BigInteger), ("warc_length", sa.BigInteger),
                 ("warc_record_id", sa.Text), ("warc_record_type", lambda: sa.String(length=16))]
ARTICLE_COLUMNS = ["capture_record_id", "capture_url", "capture_date", "capture_digest"]


def upgrade() -> None:
    # plain ADD COLUMN: batch copies would break the views and FTS triggers on these tables
    for name, kind in FETCH_COLUMNS:
        op.add_column("fetches", sa.Column(name, kind(), nullable=True))
    op.create_index(op.f("ix_fetches_warc_record_id"), "fetches", ["warc_record_id"])
    for name in ARTICLE_COLUMNS:
        op.add_column("articles", sa.Column(name, sa.Text(), nullable=True))
    op.add_column("article_versions", sa.Column("extractor_version", sa.Text(), nullable=True))
    # crawl | reextract (a CHECK would need a table rebuild on SQLite)
    op.add_column("article_versions", sa.Column("cause", sa.String(length=16), nullable=False, server_default="crawl"))


def downgrade() -> None:
    op.drop_column("article_versions", "cause")
    op.drop_column("article_versions", "extractor_version")
    for name in reversed(ARTICLE_COLUMNS):
        op.drop_column("articles", name)
    op.drop_index(op.f("ix_fetches_warc_record_id"), table_name="fetches")
    for name, _ in reversed(FETCH_COLUMNS):
        op.drop_column("fetches", name)
