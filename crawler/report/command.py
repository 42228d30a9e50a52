"""`archive report [--html FILE]`: gather once, then write the page or print the summary."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from .data import gather, last_diffs
from .text import render as render_text


def text_report(engine: Engine) -> str:
    with engine.connect() as connection:
        return render_text(gather(connection))


def html_report(engine: Engine, archive_name: str) -> str:
    """The self-contained page. ImportError when matplotlib is missing (the `report` extra)."""
    from .page import render as render_page  # matplotlib: only for the page

    with engine.connect() as connection:
        reports = gather(connection)
        diffs = last_diffs(connection, [a.article_id for r in reports for a in r.most_edited])
    return render_page(reports, diffs, archive_name)


def write_html(engine: Engine, archive_name: str, path: Path) -> int:
    """Write the page to ``path``; its size in bytes. The file is opened first, so a path
    that cannot be written fails before the archive is read."""
    with path.open("w", encoding="utf-8") as out:
        page = html_report(engine, archive_name)
        out.write(page)
    return len(page.encode("utf-8"))
