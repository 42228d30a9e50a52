"""SQLite: articles_fts merges its segments 8 at a time (FTS5 ``automerge=8``, default 4).

FTS5 is a log-structured index: every write transaction adds a segment, and once a level
holds ``automerge`` segments they are merged into one of the next level; a document's postings
are rewritten once per level, and the levels grow with log_automerge(N). A crawl writes a
transaction per batch of 50 pages, so at 100,000 archived articles the merges were most of
what a new version's FTS5 insert and its batch COMMIT cost, and why both grew with the archive.
With 8, a third fewer levels. Measured (bench/README.md sections 2, 3 and 5):

- store + dedup per new article at 100,000 archived (``store_scaling.py``): 1.85-2.03 ms with
  4, 1.79 with 8, 1.68 with 16 (the version INSERT 0.69 -> 0.46 ms, the COMMIT 0.35 -> 0.12);
- an FTS5 table built as a crawl builds it (20,000 documents, 50 per transaction), 4 against
  16: inserts 0.95 -> 0.87 ms a document; ranked, phrase, prefix and count queries within 2 %
  of each other (the ranking's work is per matching document, not per segment);
- not 16: its less merged index is ~100-150 KB larger on bench/storage.py's 1,000 articles
  (0.351-0.352 against the 0.35 target); 8 is within that bench's run-to-run noise of 4;
- ``query.py``'s README queries on 1,000,000 versions: still each <= 50 ms.

A setting kept in the index's own config table: the segments there stay as they are, later
merges follow it. PostgreSQL's search (0009) is a GIN index: nothing to do there.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 16:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

AUTOMERGE = 8
FTS5_DEFAULT_AUTOMERGE = 4


def _automerge(value: int) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"INSERT INTO articles_fts(articles_fts, rank) VALUES ('automerge', {value})")


def upgrade() -> None:
    _automerge(AUTOMERGE)


def downgrade() -> None:
    _automerge(FTS5_DEFAULT_AUTOMERGE)
