"""Run reports and extraction-health alarms: each fetch names its source, each run keeps a report.

Issue 12 (items 1 and 2). ``fetches.source_id`` (backfilled from the fetch's article, else its
URL's host against the sources' domains) and ``fetches.body_source`` (whether the source's own
body selectors found the text: a renamed body container shows here first) feed the per-run
report kept in ``crawl_runs.report`` (JSON, crawler/archive/reports.py) and the per-source
baseline that raises ``health_alarms`` rows (crawler/archive/health.py).

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-06 10:50:00
"""

from __future__ import annotations

from urllib.parse import urlsplit

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FK_NAME = "fk_fetches_source_id_sources"
BACKFILL_CHUNK = 5000


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    # plain ADD COLUMN (as 0003-0005): a batch copy of fetches would rewrite the largest table
    if sqlite:  # SQLite cannot add a constraint to a table, only a column that carries one
        op.execute(f"ALTER TABLE fetches ADD COLUMN source_id INTEGER CONSTRAINT {FK_NAME} REFERENCES sources (id)")
    else:
        op.add_column("fetches", sa.Column("source_id", sa.Integer(), nullable=True))
        op.create_foreign_key(FK_NAME, "fetches", "sources", ["source_id"], ["id"])
    op.add_column("fetches", sa.Column("body_source", sa.String(length=16), nullable=True))
    op.add_column("crawl_runs", sa.Column("report", sa.JSON(), nullable=True))
    op.create_table(
        "health_alarms",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("crawl_run_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("measure", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("baseline_runs", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["crawl_run_id"], ["crawl_runs.id"], name="fk_health_alarms_crawl_run_id_crawl_runs"),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"], name="fk_health_alarms_source_id_sources"),
        sa.PrimaryKeyConstraint("id", name="pk_health_alarms"),
    )
    op.create_index("ix_health_alarms_crawl_run_id", "health_alarms", ["crawl_run_id"])
    backfill_fetch_sources()


def backfill_fetch_sources() -> None:
    """Fetches of an article take its source; the others (errors, skips) their URL host's."""
    bind = op.get_bind()
    bind.execute(sa.text("UPDATE fetches SET source_id = (SELECT source_id FROM articles "
                         "WHERE articles.id = fetches.article_id) WHERE article_id IS NOT NULL"))
    domains = [(row.id, domain) for row in bind.execute(sa.text("SELECT id, domains FROM sources"))
               for domain in _json_list(row.domains)]
    rows = bind.execute(sa.text("SELECT id, url FROM fetches WHERE source_id IS NULL")).all()
    updates = [{"i": fetch_id, "s": source_id} for fetch_id, url in rows
               if (source_id := _source_of(url, domains)) is not None]
    for start in range(0, len(updates), BACKFILL_CHUNK):
        bind.execute(sa.text("UPDATE fetches SET source_id = :s WHERE id = :i"), updates[start:start + BACKFILL_CHUNK])


def _json_list(value: object) -> list[str]:
    import json

    return json.loads(value) if isinstance(value, str) else list(value or [])


def _source_of(url: str, domains: list[tuple[int, str]]) -> int | None:
    """The source whose domain covers the URL's host, the longest match winning (as
    crawler.sources.source_for_url; copied so this revision never changes with the code)."""
    host = (urlsplit(url).hostname or "").lower()
    found = [(len(d), i) for i, d in domains if host == d or host.endswith("." + d)]
    return max(found)[1] if found else None


def downgrade() -> None:
    op.drop_index("ix_health_alarms_crawl_run_id", table_name="health_alarms")
    op.drop_table("health_alarms")
    op.drop_column("crawl_runs", "report")
    op.drop_column("fetches", "body_source")
    if op.get_bind().dialect.name != "sqlite":  # SQLite drops the column's own constraint with it
        op.drop_constraint(FK_NAME, "fetches", type_="foreignkey")
    op.drop_column("fetches", "source_id")
