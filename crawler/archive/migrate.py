"""Bring an archive's schema to the newest Alembic revision, from Python."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from .db import create_archive_engine

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def alembic_config() -> Config:
    config = Config(str(PROJECT_ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_ROOT / "migrations"))
    return config


def is_current(engine: Engine) -> bool:
    """Whether the database is at the newest revision (read-only check)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    with engine.connect() as connection:
        return set(MigrationContext.configure(connection).get_current_heads()) == heads


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema in one transaction (a new user never runs alembic)."""
    _run(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    _run(engine, command.downgrade, revision)


def _run(engine: Engine, step, revision: str) -> None:  # noqa: ANN001
    config = alembic_config()
    migration_engine = create_archive_engine(engine.url.render_as_string(hide_password=False), foreign_keys=False)
    try:
        with migration_engine.begin() as connection:
            config.attributes["connection"] = connection
            step(config, revision)
    finally:
        migration_engine.dispose()
