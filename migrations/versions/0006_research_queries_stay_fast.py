"""Research queries stay fast (indexes; latest_versions walkable in date order).

Indexes for README "Example queries", and a latest_versions view the planner can walk in date
order. Its first paragraph is one line: Alembic logs it at every upgrade, and a crawl's start-up
report is kept short (tests/test_outage.py counts its lines).

Measured by bench/query.py on 1,000,000 generated versions (SQLite 3.40, see bench/README.md):
without these, the newest articles, the recent edits and "most edited this week" each scan the
whole archive (0.6-1.7 s); with them, each takes under 50 ms.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-06 09:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# (name, table, columns, where): the same Index lines are in crawler/archive/models.py
INDEXES = [
    # newest publications first (latest_versions ORDER BY published_at)
    ("ix_article_versions_published_at", "article_versions", ["published_at"], None),
    # versions seen in a time window, e.g. edits of the last 7 days: it covers what the
    # "most edited" query reads, so the window's versions are summed without reading their text
    ("ix_article_versions_fetched_at", "article_versions",
     ["fetched_at", "version", "same_as_version", "article_id", "words_added", "words_removed"], None),
    # partial: the few gone articles, so "WHERE gone_at IS NOT NULL" takes it
    ("ix_articles_gone_at", "articles", ["gone_at"], "gone_at IS NOT NULL"),
    ("ix_discoveries_method_found_on", "discoveries", ["method", "found_on"], None),
]

VIEW_COLUMNS = """a.id AS article_id, a.url, s.name AS source, v.version, v.title, v.authors,
       v.published_at, v.modified_at, v.language, v.section, v.tags, v.summary, v.text,
       v.cited_url, v.fetched_at, a.first_seen_at, a.last_fetched_at, a.gone_at, v.id AS version_id
FROM articles AS a
JOIN sources AS s ON s.id = a.source_id
JOIN article_versions AS v ON v.article_id = a.id"""

# The newest version is looked up by the version's own article_id: correlated on a.id
# (0002), SQLite always started from sources and articles and sorted the whole archive
# for "ORDER BY published_at DESC LIMIT 50"; correlated on v.article_id it can walk the
# version indexes above in order and stop after 50 rows. Same rows, same columns.
LATEST_VERSIONS = f"""
CREATE VIEW latest_versions AS
SELECT {VIEW_COLUMNS}
WHERE v.version = (SELECT max(version) FROM article_versions WHERE article_id = v.article_id)
"""

LATEST_VERSIONS_0002 = f"""
CREATE VIEW latest_versions AS
SELECT {VIEW_COLUMNS}
WHERE v.version = (SELECT max(version) FROM article_versions WHERE article_id = a.id)
"""


def upgrade() -> None:
    for name, table, columns, where in INDEXES:
        condition = sa.text(where) if where else None
        op.create_index(name, table, columns, sqlite_where=condition, postgresql_where=condition)
    op.execute("DROP VIEW latest_versions")
    op.execute(LATEST_VERSIONS)


def downgrade() -> None:
    op.execute("DROP VIEW latest_versions")
    op.execute(LATEST_VERSIONS_0002)
    for name, table, *_ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
