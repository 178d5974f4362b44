"""Applies migrations. Serve and worker call it at start; `twinbridge db upgrade` calls it on demand."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from twinbridge.config import Settings
from twinbridge.db.engine import create_sync_engine

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(settings: Settings, revision: str = "head") -> str:
    """Brings the database to `revision` and returns the revision it is at afterwards."""
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


def head_revision() -> str:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    return head or ""
