"""Export the archive for other tools: versions as JSON Lines or CSV, and a CDXJ index of
the WARC files (what pywb and other replay tools read)."""

from __future__ import annotations

import csv
import json
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Callable, Iterable, Iterator

from sqlalchemy import func, select

from .archive.models import ArticleRow, ArticleVersion, Fetch, SourceRow
from .archive.store import Archive

# One vocabulary end to end: these are the archive's own column names.
VERSION_FIELDS = ("article_id", "url", "source", "version", "fetched_at", "title", "authors", "published_at",
                  "modified_at", "language", "section", "tags", "summary", "text", "cited_url", "content_hash",
                  "same_as_version", "words_added", "words_removed", "extractor_version", "cause",
                  "warc_filename", "warc_offset", "warc_length", "warc_record_id")


def versions(archive: Archive, all_versions: bool = False, source: str | None = None) -> Iterator[dict[str, Any]]:
    """Versions (newest per article, or all) with their article, source and WARC record."""
    with archive.session() as session:
        for version, url, source_name, fetch in session.execute(_versions_query(all_versions, source)):
            yield _row(version, url, source_name, fetch)


def count_versions(archive: Archive, all_versions: bool = False, source: str | None = None) -> int:
    """How many rows :func:`versions` yields (a progress bar's total)."""
    with archive.session() as session:
        return session.scalar(select(func.count()).select_from(_versions_query(all_versions, source).subquery()))


def _versions_query(all_versions: bool, source: str | None):  # noqa: ANN202 - a Select
    query = (select(ArticleVersion, ArticleRow.url, SourceRow.name, Fetch)
             .join(ArticleRow, ArticleRow.id == ArticleVersion.article_id)
             .join(SourceRow, SourceRow.id == ArticleRow.source_id)
             .outerjoin(Fetch, (Fetch.version_id == ArticleVersion.id) & Fetch.outcome.in_(("new", "changed")))
             .order_by(ArticleVersion.article_id, ArticleVersion.version))
    if not all_versions:
        newest = (select(ArticleVersion.article_id, func.max(ArticleVersion.version).label("version"))
                  .group_by(ArticleVersion.article_id).subquery())
        query = query.join(newest, (newest.c.article_id == ArticleVersion.article_id)
                           & (newest.c.version == ArticleVersion.version))
    if source:
        query = query.where(SourceRow.name == source)
    return query


def _row(version: ArticleVersion, url: str, source: str, fetch: Fetch | None) -> dict[str, Any]:
    row = {name: getattr(version, name, None) for name in VERSION_FIELDS}
    row.update(article_id=version.article_id, url=url, source=source)
    for name in ("warc_filename", "warc_offset", "warc_length", "warc_record_id"):
        row[name] = getattr(fetch, name) if fetch is not None else None
    return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in row.items()}


def write_jsonl(rows: Iterator[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for count, row in enumerate(rows, 1):
        out.write(json.dumps(row, ensure_ascii=False) + "\n")
    return count


def write_csv(rows: Iterator[dict[str, Any]], out: IO[str]) -> int:
    writer = csv.DictWriter(out, fieldnames=VERSION_FIELDS)
    writer.writeheader()
    count = 0
    for count, row in enumerate(rows, 1):
        writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, list) else v for k, v in row.items()})
    return count


def write_cdxj(warc_dirs: Path | list[Path], output: Path, track: Callable[[list[str]], Iterable[str]] = iter) -> int:
    """A sorted CDXJ index of every WARC file in ``warc_dirs`` (cdxj-indexer, the pywb format),
    each named relative to their common folder (the folder itself when there is one).
    ``track`` wraps the files as the indexer reads them, one by one (a progress bar)."""
    import os

    from cdxj_indexer import CDXJIndexer

    dirs = [Path(d) for d in (warc_dirs if isinstance(warc_dirs, list) else [warc_dirs])]
    files = sorted(str(p) for d in dirs for p in d.glob("*.warc.gz"))
    if not files:
        raise FileNotFoundError(f"no .warc.gz files in {' or '.join(str(d) for d in dirs)}")
    root = os.path.commonpath([str(d.resolve()) for d in dirs]) if len(dirs) > 1 else str(dirs[0])
    CDXJIndexer(output=str(output), inputs=track(files), sort=True, dir_root=root, post_append=True).process_all()
    return sum(1 for _ in open(output, encoding="utf-8"))
