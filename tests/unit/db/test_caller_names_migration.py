"""Migration 0010 on a database that has data: upload secrets are kept as their SHA-256 (and nothing is
recreated on SQLite, so members and storage stay); on PostgreSQL the columns of callers' names hold 1024
characters."""

from __future__ import annotations

import hashlib
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import create_engine, text

from tests.conftest import POSTGRES_ADMIN_URL
from twinbridge.config import Settings
from twinbridge.db.migrate import _sync_engine, alembic_config, upgrade

ITWIN_ID = "0f6d8a52-1111-4000-8000-000000000001"
IMODEL_ID = "0f6d8a52-3333-4000-8000-000000000003"
FOLDER_ID = "0f6d8a52-2222-4000-8000-000000000002"
FILE_ID = "0f6d8a52-4444-4000-8000-000000000004"
CREATED_AT = "2026-01-02 03:04:05.000000"
IMODEL_SECRET = "imodel-upload-secret"
FILE_SECRET = "file-upload-secret"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _seed(engine_url: str) -> None:
    values = {
        "itwin": ITWIN_ID,
        "imodel": IMODEL_ID,
        "folder": FOLDER_ID,
        "file": FILE_ID,
        "at": CREATED_AT,
        "imodel_secret": IMODEL_SECRET,
        "file_secret": FILE_SECRET,
    }
    statements = [
        "INSERT INTO itwins (id, display_name, number, itwin_class, sub_class, status, created_by,"
        " created_at, modified_at)"
        " VALUES (:itwin, 'Plant', :itwin, 'Endeavor', 'Project', 'Active', 'alice', :at, :at)",
        "INSERT INTO itwin_members (itwin_id, subject, role, created_at)"
        " VALUES (:itwin, 'alice', 'Owner', :at)",
        "INSERT INTO imodels (id, itwin_id, name, state, baseline_upload_token, created_at)"
        " VALUES (:imodel, :itwin, 'Blocks', 'notInitialized', :imodel_secret, :at)",
        "INSERT INTO storage_folders (id, itwin_id, parent_id, display_name, modified_at, created_at)"
        " VALUES (:folder, :itwin, NULL, 'root', :at, :at)",
        "INSERT INTO storage_files (id, folder_id, itwin_id, display_name, state, blob_key, size,"
        " upload_token, modified_at, created_at)"
        " VALUES (:file, :folder, :itwin, 'a.ifc', 'created', 'k', 0, :file_secret, :at, :at)",
    ]
    engine = create_engine(engine_url)
    with engine.begin() as connection:
        for statement in statements:
            connection.execute(text(statement), values)
    engine.dispose()


def _downgrade(settings: Settings, revision: str) -> None:
    config = alembic_config()
    engine = _sync_engine(settings)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, revision)
    finally:
        engine.dispose()


def _sqlite_rows(settings: Settings, sql: str) -> list[tuple[object, ...]]:
    connection = sqlite3.connect(settings.sqlite_path)
    try:
        return connection.execute(sql).fetchall()
    finally:
        connection.close()


def test_sqlite_upgrade_hashes_upload_secrets_and_keeps_members_and_storage(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")  # type: ignore[call-arg]
    upgrade(settings, "0009")
    _seed(f"sqlite:///{settings.sqlite_path}")
    upgrade(settings, "0010")
    assert _sqlite_rows(settings, "SELECT baseline_upload_token_hash FROM imodels") == [
        (_digest(IMODEL_SECRET),)
    ]
    assert _sqlite_rows(settings, "SELECT upload_token_hash FROM storage_files") == [(_digest(FILE_SECRET),)]
    assert _sqlite_rows(settings, "SELECT subject FROM itwin_members") == [("alice",)]
    _downgrade(settings, "0009")
    # The secrets cannot come back: pending uploads lose their URL, and nothing else is lost.
    assert _sqlite_rows(settings, "SELECT baseline_upload_token FROM imodels") == [(None,)]
    assert _sqlite_rows(settings, "SELECT upload_token, display_name FROM storage_files") == [(None, "a.ifc")]
    assert _sqlite_rows(settings, "SELECT subject FROM itwin_members") == [("alice",)]


@pytest.fixture
def empty_postgres() -> Iterator[str]:
    from tests.conftest import IN_CI, _postgres_unavailable_reason

    reason = _postgres_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(reason)
        pytest.skip(reason)
    name = f"twinbridge_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.mark.postgres
def test_postgresql_upgrade_widens_callers_names_and_hashes_upload_secrets(empty_postgres: str) -> None:
    settings = Settings(database_url=empty_postgres, data_dir=Path("/tmp"))  # type: ignore[call-arg]
    upgrade(settings, "0009")
    _seed(empty_postgres)
    upgrade(settings, "0010")
    engine = create_engine(empty_postgres)
    with engine.connect() as connection:
        widths = dict(
            connection.execute(
                text(
                    "SELECT table_name || '.' || column_name, character_maximum_length"
                    " FROM information_schema.columns WHERE table_schema = 'public'"
                    " AND column_name IN ('subject', 'created_by', 'modified_by', 'requested_by')"
                    " AND table_name NOT IN ('authorization_codes', 'refresh_token_families')"
                )
            ).all()
        )
        secrets = connection.execute(
            text(
                "SELECT baseline_upload_token_hash FROM imodels"
                " UNION ALL SELECT upload_token_hash FROM storage_files"
            )
        ).scalars()
        assert sorted(secrets) == sorted([_digest(IMODEL_SECRET), _digest(FILE_SECRET)])
    engine.dispose()
    assert len(widths) == 16
    assert set(widths.values()) == {1024}
    _downgrade(settings, "0009")
