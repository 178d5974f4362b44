"""Applies migrations. Serve, worker and the CLI's writing commands call `ensure_schema` at start;
`twinbridge db upgrade` calls `upgrade` on demand.

Migration files are named after their revision (`0004_….py` holds revision "0004"), so the head is known
from the folder's listing: checking that a database is current costs one query through the database's own
driver, and SQLAlchemy and Alembic (which take longer to import than a whole CLI command should) are loaded
only to migrate.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinbridge.config import Settings
from twinbridge.platform.private_paths import private_directory, private_file

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_MIGRATION_BUSY_TIMEOUT_MS = 15_000


def alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    """The newest revision, from the migration files' names (a test checks it against Alembic's head)."""
    names = [path.name for path in (MIGRATIONS / "versions").glob("[0-9]*_*.py")]
    return max(name.partition("_")[0] for name in names)


def current_revision(settings: Settings) -> str | None:
    """The database's revision; None for a database that has never been migrated."""
    if settings.is_sqlite:
        if not settings.sqlite_path.exists():
            return None
        connection = sqlite3.connect(settings.sqlite_path, timeout=SQLITE_MIGRATION_BUSY_TIMEOUT_MS / 1000)
        try:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError:  # no alembic_version table yet
            return None
        finally:
            connection.close()
        return str(row[0]) if row else None
    import psycopg

    with psycopg.connect(settings.postgres_url, autocommit=True) as postgres:
        try:
            found = postgres.execute("SELECT version_num FROM alembic_version").fetchone()
        except psycopg.errors.UndefinedTable:
            return None
    return str(found[0]) if found else None


def _sync_engine(settings: Settings) -> Engine:
    from sqlalchemy import create_engine, event

    private_directory(settings.data_dir)
    if not settings.is_sqlite:
        return create_engine(settings.postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    private_file(settings.sqlite_path)
    engine = create_engine(f"sqlite:///{settings.sqlite_path}")

    def configure(connection: Any, _record: Any) -> None:
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute(f"PRAGMA busy_timeout={SQLITE_MIGRATION_BUSY_TIMEOUT_MS}")

    event.listen(engine, "connect", configure)
    return engine


def upgrade(settings: Settings, revision: str = "head") -> str:
    """Brings the database to `revision` and returns the revision it is at afterwards."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = alembic_config()
    engine = _sync_engine(settings)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            current = MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()
    return current or ""


def ensure_schema(settings: Settings) -> None:
    """Migrates the database to the head unless it is there already."""
    if current_revision(settings) != head_revision():
        upgrade(settings)
