"""fetches.warc_record_id loses its index (from 0004): nothing reads fetches by it.

The archive finds a fetch's record by ``warc_filename`` and ``warc_offset``; ``reextract``
resolves revisit records to their originals from one scan of the response fetches; ``doctor``
and ``cdxj`` read the column with the rest of each row. The index cost ~64 bytes a fetch on
every visit, for ever — 128 KB of bench/storage.py's 2,000 fetches, enough to keep the storage
target of bench/README.md section 3 (<= 0.35 of the raw HTML over a re-crawl) at its edge. A
one-off lookup by record id (``WHERE warc_record_id = …``) still works, by a scan.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06 16:50:00
"""

from __future__ import annotations

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_fetches_warc_record_id", table_name="fetches")


def downgrade() -> None:
    op.create_index("ix_fetches_warc_record_id", "fetches", ["warc_record_id"])
