"""Migration 0008 on an SQLite database that has data: iTwins gain their upstream fields, and neither the
upgrade nor the downgrade recreates `itwins` (which, with foreign keys on, would delete its members and
storage)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from alembic import command

from twinbridge.config import Settings
from twinbridge.db.migrate import _sync_engine, alembic_config, upgrade

ITWIN_ID = "0f6d8a52-1111-4000-8000-000000000001"
FOLDER_ID = "0f6d8a52-2222-4000-8000-000000000002"
CREATED_AT = "2026-01-02 03:04:05.000000"


def _settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]


def _query(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(settings.sqlite_path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def _seed(settings: Settings) -> None:
    connection = sqlite3.connect(settings.sqlite_path)
    try:
        connection.execute(
            "INSERT INTO itwins"
            " (id, display_name, number, itwin_class, sub_class, status, created_by, created_at)"
            f" VALUES ('{ITWIN_ID}', 'Plant', NULL, 'Endeavor', 'Project', 'Active', 'alice', '{CREATED_AT}')"
        )
        connection.execute(
            "INSERT INTO itwin_members (itwin_id, subject, role, created_at)"
            f" VALUES ('{ITWIN_ID}', 'alice', 'Owner', '{CREATED_AT}')"
        )
        connection.execute(
            "INSERT INTO storage_folders (id, itwin_id, parent_id, display_name, modified_at, created_at)"
            f" VALUES ('{FOLDER_ID}', '{ITWIN_ID}', NULL, 'root', '{CREATED_AT}', '{CREATED_AT}')"
        )
        connection.commit()
    finally:
        connection.close()


def _downgrade(settings: Settings, revision: str) -> None:
    config = alembic_config()
    engine = _sync_engine(settings)  # foreign keys on, as every migration runs
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def test_upgrade_numbers_existing_itwins_and_keeps_their_members_and_storage(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    upgrade(settings, "0007")
    _seed(settings)
    upgrade(settings, "0008")
    assert _query(
        settings,
        "SELECT number, data_center_location, modified_at, modified_by, parent_id, itwin_type FROM itwins",
    ) == [(ITWIN_ID, "East US", CREATED_AT, "alice", None, None)]
    assert _query(settings, "SELECT subject, role FROM itwin_members") == [("alice", "Owner")]
    assert _query(settings, "SELECT id FROM storage_folders") == [(FOLDER_ID,)]


def test_downgrade_drops_the_new_columns_and_tables_and_keeps_members_and_storage(tmp_path: Path) -> None:
    settings = _settings(tmp_path)
    upgrade(settings, "0007")
    _seed(settings)
    upgrade(settings, "0008")
    _downgrade(settings, "0007")
    columns = [row[1] for row in _query(settings, "PRAGMA table_info(itwins)")]
    assert columns == [
        "id",
        "display_name",
        "number",
        "itwin_class",
        "sub_class",
        "status",
        "created_by",
        "created_at",
    ]
    tables = {row[0] for row in _query(settings, "SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert not tables & {"itwin_favorites", "itwin_recents"}
    assert _query(settings, "SELECT subject, role FROM itwin_members") == [("alice", "Owner")]
    assert _query(settings, "SELECT id FROM storage_folders") == [(FOLDER_ID,)]
    assert _query(settings, "SELECT number FROM itwins") == [(ITWIN_ID,)]
