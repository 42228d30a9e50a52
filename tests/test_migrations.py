"""Alembic: the crawl migrates by itself; `alembic upgrade/downgrade` work from the CLI."""

import os
import sqlite3
import subprocess
import sys

from crawler.archive.db import create_archive_engine
from crawler.archive.migrate import downgrade, upgrade
from tests.conftest import PROJECT_ROOT

TABLES = {"sources", "crawl_runs", "articles", "article_versions", "fetches"}


def names(path, kind):
    with sqlite3.connect(path) as db:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = ?", (kind,))}


def test_upgrade_downgrade_upgrade(tmp_path):
    path = tmp_path / "archive.db"
    engine = create_archive_engine(f"sqlite:///{path}")
    upgrade(engine)
    assert TABLES <= names(path, "table") and "latest_versions" in names(path, "view")
    downgrade(engine, "base")
    assert names(path, "table") == {"alembic_version"} and not names(path, "view")
    upgrade(engine)
    assert TABLES <= names(path, "table")
    engine.dispose()


def test_sqlite_runs_in_wal_mode_with_foreign_keys(tmp_path):
    engine = create_archive_engine(f"sqlite:///{tmp_path / 'a.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 1000
    engine.dispose()


def test_alembic_command_line_uses_archive_url(tmp_path):
    path = tmp_path / "cli.db"
    env = {**os.environ, "ARCHIVE_URL": f"sqlite:///{path}"}
    for args in (["upgrade", "head"], ["downgrade", "base"], ["upgrade", "head"]):
        subprocess.run([sys.executable, "-m", "alembic", *args], cwd=PROJECT_ROOT, env=env, check=True,
                       capture_output=True)
    assert TABLES <= names(path, "table")
