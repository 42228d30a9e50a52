"""SQLite: simhash_bands and version_authors are WITHOUT ROWID tables.

Both are leaf tables of small rows whose primary key is the whole point: (band, value,
version_id) is the near-duplicate lookup, (version_id, position) the byline. As rowid tables
SQLite kept each row twice, once in the table and once in its primary-key index; WITHOUT
ROWID the key's b-tree is the table. The lookups read the same key (SEARCH ... USING PRIMARY
KEY), every new version writes two b-trees fewer, and a 1,000-article archive is ~90 KB
smaller (bench/storage.py: the storage target of bench/README.md section 3).

PostgreSQL has no rowid: nothing to do there.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 16:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

TABLES = ("simhash_bands", "version_authors")


def _rebuild(with_rowid: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        # batch mode copies the rows into a new table made with these options, then renames it
        with op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_with_rowid": with_rowid}):
            pass


def upgrade() -> None:
    _rebuild(with_rowid=False)


def downgrade() -> None:
    _rebuild(with_rowid=True)
