"""Alembic environment: URL from $ARCHIVE_URL / -x url=..., or a connection passed in
by crawler.archive.migrate (so the crawl migrates inside its own engine)."""

from __future__ import annotations

from alembic import context

from crawler.archive.db import archive_url, create_archive_engine
from crawler.archive.migrate import lock_migrations
from crawler.archive.models import Base

config = context.config
target_metadata = Base.metadata


def include_object(obj, name, type_, reflected, compare_to) -> bool:  # noqa: ANN001
    # The search indexes are made by hand, not from models: SQLite's FTS5 table and its
    # shadow tables (0002), PostgreSQL's articles_search (0009).
    return not (type_ == "table" and name.startswith(("articles_fts", "articles_search")))


def run_migrations(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_object=include_object,
        # SQLite cannot ALTER most things; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        lock_migrations(connection)  # PostgreSQL: hosts migrating at once wait for each other
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    url = archive_url(context.get_x_argument(as_dictionary=True).get("url"))
    engine = create_archive_engine(url, foreign_keys=False)  # batch mode drops and copies tables
    with engine.connect() as connection:
        run_migrations(connection)
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: run against a database")
run_online()
