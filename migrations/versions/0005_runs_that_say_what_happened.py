"""Runs that say what happened: why a run failed, and which process ran it, so that a
run whose process was killed is marked interrupted by the next one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-06 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = [("reason", sa.Text), ("host", lambda: sa.String(length=255)), ("pid", sa.Integer),
           ("pid_start", sa.BigInteger)]


def upgrade() -> None:
    # plain ADD COLUMN (SQLite >= 3.35), as 0003/0004: no batch copy of a table others refer to.
    # Runs recorded before have no process: the next run leaves them as they are.
    for name, kind in COLUMNS:
        op.add_column("crawl_runs", sa.Column(name, kind(), nullable=True))


def downgrade() -> None:
    for name, _ in reversed(COLUMNS):
        op.drop_column("crawl_runs", name)
