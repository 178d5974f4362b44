"""The data directory and its files are the server's user's alone, whatever the umask."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from twinbridge.config import Settings
from twinbridge.db.migrate import upgrade
from twinbridge.platform.private_paths import private_directory, private_file
from twinbridge.runtime import Runtime


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def open_umask() -> Iterator[None]:
    """The usual umask of a shell, which makes files others may read."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def test_a_new_directory_and_its_new_parents_are_private(tmp_path: Path, open_umask: None) -> None:
    private_directory(tmp_path / "a" / "b")
    assert _mode(tmp_path / "a") == 0o700
    assert _mode(tmp_path / "a" / "b") == 0o700


def test_an_existing_directory_others_may_read_is_made_private(tmp_path: Path, open_umask: None) -> None:
    data = tmp_path / "data"
    data.mkdir(mode=0o755)
    private_directory(data)
    assert _mode(data) == 0o700


def test_a_database_file_and_its_wal_are_made_private(tmp_path: Path, open_umask: None) -> None:
    database = tmp_path / "data" / "twinbridge.db"
    private_file(database)
    assert (_mode(database), database.stat().st_size) == (0o600, 0)
    wal = database.with_name("twinbridge.db-wal")
    wal.write_bytes(b"")
    os.chmod(database, 0o644)
    os.chmod(wal, 0o644)
    private_file(database)
    assert (_mode(database), _mode(wal)) == (0o600, 0o600)


async def test_a_server_on_a_new_data_dir_keeps_it_and_its_secrets_private(
    tmp_path: Path, open_umask: None
) -> None:
    settings = Settings(data_dir=tmp_path / "data", public_url="http://twinbridge.test")  # type: ignore[call-arg]
    upgrade(settings)
    runtime = Runtime.create(settings)
    try:
        async with runtime.database.transaction() as transaction:
            await transaction.execute("DELETE FROM user_grants WHERE subject = 'nobody'")
    finally:
        await runtime.aclose()
    data = settings.data_dir
    assert _mode(data) == 0o700
    assert _mode(settings.sqlite_path) == 0o600
    assert _mode(settings.issuer_key_dir) == 0o700
    assert _mode(settings.issuer_key_dir / "signing-key.pem") == 0o600
    for companion in data.glob("twinbridge.db-*"):
        assert _mode(companion) == 0o600, companion.name
