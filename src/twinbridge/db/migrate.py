"""Applies migrations. Serve, worker and the CLI's writing commands call `ensure_schema` at start;
`twinbridge db upgrade` calls `upgrade` on demand.

Migration files are named after their revision (`0004_….py` holds revision "0004"), so the head is known
from the folder's listing: checking that a database is current costs one query and never loads Alembic,
which takes longer to import than a whole CLI command should.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from twinbridge.config import Settings
from twinbridge.db.engine import create_sync_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


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
    engine = create_sync_engine(settings)
    try:
        with engine.connect() as connection:
            return connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:  # no alembic_version table yet
        return None
    finally:
        engine.dispose()


def upgrade(settings: Settings, revision: str = "head") -> str:
    """Brings the database to `revision` and returns the revision it is at afterwards."""
    from alembic import command
    from alembic.runtime.migration import MigrationContext

    config = alembic_config()
    engine = create_sync_engine(settings)
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
