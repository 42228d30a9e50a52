"""Shared fixtures: the mirror server and real crawls against it (never the network)."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
from contextlib import contextmanager
import sys
from pathlib import Path

import pytest

from crawler.mirror import BUNDLED_WEB, MirrorServer

PROJECT_ROOT = Path(__file__).resolve().parent.parent
EXPECTED_DIR = Path(__file__).resolve().parent / "expected"
SHARED_FIXTURES = PROJECT_ROOT.parent / "shared" / "fixtures"


POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# one schema per test process, so parallel runs on one server do not collide
POSTGRES_SCHEMA = f"archive_test_{os.getpid()}"


REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_or_skip():  # noqa: ANN201 - a redis.Redis
    """A client of the local Redis (TEST_REDIS_URL), or the test is skipped naming why."""
    redis = pytest.importorskip("redis")
    server = redis.Redis.from_url(REDIS_URL)
    try:
        server.ping()
    except redis.RedisError as exc:
        pytest.skip(f"no Redis at {REDIS_URL}: {exc.__class__.__name__}")
    return server


def postgres_url(suffix: str = "") -> str:
    """A fresh schema of the test PostgreSQL database (``suffix``: another one, for a
    fixture that outlives a test); the test is skipped when none answers."""
    pytest.importorskip("psycopg")
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_URL)
    try:
        with engine.begin() as connection:
            connection.execute(text(f"DROP SCHEMA IF EXISTS {POSTGRES_SCHEMA}{suffix} CASCADE"))
            connection.execute(text(f"CREATE SCHEMA {POSTGRES_SCHEMA}{suffix}"))
    except Exception as exc:  # noqa: BLE001 - any failure to connect means "no server here"
        pytest.skip(f"no PostgreSQL at {POSTGRES_URL}: {exc.__class__.__name__}")
    finally:
        engine.dispose()
    return f"{POSTGRES_URL}?options=-csearch_path%3D{POSTGRES_SCHEMA}{suffix}"


def drop_postgres_schema(suffix: str = "") -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(POSTGRES_URL)
    with engine.begin() as connection:
        connection.execute(text(f"DROP SCHEMA IF EXISTS {POSTGRES_SCHEMA}{suffix} CASCADE"))
    engine.dispose()


def expected_pages() -> list[dict]:
    pages = []
    for path in sorted(EXPECTED_DIR.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, list):  # discovery.json is keyed by source, not a page list
            pages.extend(data)
    return pages


def expected_discovery() -> dict:
    return json.loads((EXPECTED_DIR / "discovery.json").read_text(encoding="utf-8"))


def run_crawl(mirror_url: str, archive: Path, *args: str, check: bool = True,
              spider: str = "sources", env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """``scrapy crawl <spider>`` in a subprocess, as a user runs it, against the mirror
    (``env``: variables for it alone, added to this process's)."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider,
               "-s", f"MIRROR_URL={mirror_url}", "-s", f"ARCHIVE_URL=sqlite:///{archive}",
               "-s", "AUTOTHROTTLE_ENABLED=False", "-s", "LOG_LEVEL=INFO", *args]
    env = {**{k: v for k, v in os.environ.items() if k not in ("ARCHIVE_URL", "MIRROR_URL")}, **(env or {})}
    result = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    if check and result.returncode != 0:
        raise AssertionError(f"crawl failed ({result.returncode}):\n{result.stderr[-4000:]}")
    return result


def query(archive: Path, sql: str, *params) -> list[sqlite3.Row]:
    with sqlite3.connect(archive) as db:
        db.row_factory = sqlite3.Row
        return db.execute(sql, params).fetchall()


def query_url(url: str, sql: str) -> list:
    """The rows of ``sql`` in the archive at a SQLAlchemy URL (SQLite or PostgreSQL)."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return connection.execute(text(sql)).all()
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def mirror() -> MirrorServer:
    with MirrorServer(BUNDLED_WEB) as server:
        yield server


@pytest.fixture(scope="session")
def crawled_archive(mirror, tmp_path_factory) -> Path:
    """One full crawl of every source into a fresh archive, shared by the read-only tests."""
    archive = tmp_path_factory.mktemp("crawl") / "archive.db"
    run_crawl(mirror.url, archive)
    return archive


@contextmanager
def generated_mirror(root: Path, pages: int):
    """A mirror serving ``pages`` generated articles (bench/fakeweb.py), and their URLs."""
    from bench.fakeweb import generate_web

    urls = generate_web(root, pages)
    with MirrorServer(root) as server:
        yield server, urls


@pytest.fixture
def extra_web(tmp_path) -> Path:
    """A copy of the bundled web that a test may add pages to."""
    root = tmp_path / "web"
    shutil.copytree(BUNDLED_WEB, root)
    return root


@pytest.fixture
def shared_fixtures() -> Path:
    if not SHARED_FIXTURES.is_dir():
        pytest.skip("../shared/fixtures is not present beside the checkout")
    return SHARED_FIXTURES
