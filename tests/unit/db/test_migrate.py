"""Checking the schema costs one query and never loads Alembic unless the database is behind."""

from __future__ import annotations

from pathlib import Path

from alembic.script import ScriptDirectory

from twinbridge.config import Settings
from twinbridge.db.migrate import alembic_config, current_revision, ensure_schema, head_revision


def test_the_head_read_from_file_names_is_alembics_head() -> None:
    assert head_revision() == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_ensure_schema_migrates_a_new_database_once(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]
    assert current_revision(settings) is None
    ensure_schema(settings)
    assert current_revision(settings) == head_revision()
    modified = settings.sqlite_path.stat().st_mtime_ns
    ensure_schema(settings)  # current: nothing to do
    assert settings.sqlite_path.stat().st_mtime_ns == modified
