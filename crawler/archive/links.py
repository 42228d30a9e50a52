"""Rows for links between articles (near-duplicates, citations, translations): what
archive/visits.py writes inside its transaction."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import Connection
from sqlalchemy.dialects import postgresql, sqlite

from ..extract import Article


def citation_values(article: Article) -> list[dict[str, Any]]:
    """The article's citations as ``citations`` rows (without their version and article):
    a URL with its host, or a name ("Theo Reuters")."""
    rows = []
    for value in dict.fromkeys(filter(None, (article.cited_url, *article.citations))):
        if value.startswith(("http://", "https://")):
            rows.append({"url": value, "host": urlsplit(value).hostname, "name": None})
        else:
            rows.append({"url": None, "host": None, "name": value})
    return rows


def insert_ignoring_duplicates(connection: Connection, model: type):  # noqa: ANN201 - a dialect's Insert
    """INSERT … ON CONFLICT DO NOTHING: a link found again (another version, another
    batch) is one row, without a lookup per link first."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(model).on_conflict_do_nothing()
