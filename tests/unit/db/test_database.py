"""The data layer on SQLite and PostgreSQL: transactions, side effects, and PostgreSQL's connection pool."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from twinbridge.config import Settings
from twinbridge.db.database import Database, IntegrityError, PostgresDatabase, SqliteDatabase, open_database
from twinbridge.db.migrate import upgrade
from twinbridge.platform.errors import InsufficientStorage

INSERT = (
    "INSERT INTO user_grants (subject, expires_at, created_at) VALUES (:subject, NULL, CURRENT_TIMESTAMP)"
)
COUNT = "SELECT COUNT(*) FROM user_grants WHERE subject LIKE :prefix"


@pytest.fixture
async def database(migrated: Settings) -> AsyncIterator[Database]:
    opened = open_database(migrated)
    yield opened
    await opened.close()


async def test_a_transaction_that_raises_leaves_nothing_and_runs_only_its_rollback_actions(
    database: Database,
) -> None:
    happened: list[str] = []

    async def failing_request() -> None:
        async with database.transaction() as transaction:
            transaction.after_commit(lambda: happened.append("commit"))
            transaction.on_rollback(lambda: happened.append("rollback"))
            await transaction.execute(INSERT, {"subject": "gone"})
            raise RuntimeError("the request failed")

    with pytest.raises(RuntimeError):
        await failing_request()
    async with database.transaction(write=False) as transaction:
        assert await transaction.value(COUNT, {"prefix": "gone"}) == 0
    assert happened == ["rollback"]


async def test_a_committed_transaction_runs_its_after_commit_actions(database: Database) -> None:
    happened: list[str] = []
    async with database.transaction() as transaction:
        transaction.after_commit(lambda: happened.append("commit"))
        await transaction.execute(INSERT, {"subject": "kept"})
    async with database.transaction(write=False) as transaction:
        assert await transaction.value(COUNT, {"prefix": "kept"}) == 1
    assert happened == ["commit"]


async def test_a_duplicate_key_is_an_integrity_error_on_both_databases(database: Database) -> None:
    async with database.transaction() as transaction:
        await transaction.execute(INSERT, {"subject": "twice"})
    with pytest.raises(IntegrityError):
        async with database.transaction() as transaction:
            await transaction.execute(INSERT, {"subject": "twice"})


async def test_timestamps_come_back_as_the_aware_datetimes_that_went_in(database: Database) -> None:
    moment = datetime(2026, 12, 1, 4, 5, 6, 789000, tzinfo=UTC)
    async with database.transaction() as transaction:
        await transaction.execute(
            "INSERT INTO user_grants (subject, expires_at, created_at) VALUES (:subject, :moment, :moment)",
            {"subject": "dated", "moment": moment},
        )
    async with database.transaction(write=False) as transaction:
        found = await transaction.one(
            "SELECT expires_at, created_at FROM user_grants WHERE subject = 'dated'"
        )
    assert found == (moment, moment)


@pytest.mark.postgres
async def test_more_transactions_than_connections_all_finish_on_at_most_that_many_connections(
    postgres_url: str,
) -> None:
    database = PostgresDatabase(
        postgres_url.replace("postgresql+psycopg://", "postgresql://"), max_connections=3
    )
    seen: set[int] = set()

    async def one(index: int) -> None:
        async with database.transaction() as transaction:
            seen.add(await transaction.value("SELECT pg_backend_pid()"))
            await transaction.value("SELECT pg_sleep(0.02)")
            await transaction.execute(INSERT, {"subject": f"many-{index}"})

    try:
        await asyncio.gather(*(one(index) for index in range(12)))
        async with database.transaction(write=False) as transaction:
            assert await transaction.value(COUNT, {"prefix": "many-%"}) == 12
    finally:
        await database.close()
    assert 1 <= len(seen) <= 3


@pytest.mark.postgres
async def test_a_transaction_cancelled_mid_statement_gives_its_place_to_a_fresh_connection(
    postgres_url: str,
) -> None:
    database = PostgresDatabase(
        postgres_url.replace("postgresql+psycopg://", "postgresql://"), max_connections=1
    )

    async def slow() -> None:
        async with database.transaction(write=False) as transaction:
            await transaction.value("SELECT pg_sleep(5)")

    try:
        task = asyncio.create_task(slow())
        await asyncio.sleep(0.2)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The one place is free again, and the connection in it answers.
        async with asyncio.timeout(5):
            async with database.transaction(write=False) as transaction:
                assert await transaction.value("SELECT 41 + 1") == 42
    finally:
        await database.close()


@pytest.mark.postgres
async def test_a_waiting_transaction_that_is_cancelled_does_not_lose_a_connection(postgres_url: str) -> None:
    database = PostgresDatabase(
        postgres_url.replace("postgresql+psycopg://", "postgresql://"), max_connections=1
    )
    release = asyncio.Event()

    async def holder() -> None:
        async with database.transaction(write=False) as transaction:
            await transaction.value("SELECT 1")
            await release.wait()

    async def waiter() -> None:
        async with database.transaction(write=False) as transaction:
            await transaction.value("SELECT 1")

    try:
        holding = asyncio.create_task(holder())
        await asyncio.sleep(0.1)
        waiting = asyncio.create_task(waiter())
        await asyncio.sleep(0.1)
        waiting.cancel()
        release.set()
        await holding
        with pytest.raises(asyncio.CancelledError):
            await waiting
        async with asyncio.timeout(5):
            async with database.transaction(write=False) as transaction:
                assert await transaction.value("SELECT 1") == 1
    finally:
        await database.close()


async def test_writers_of_one_process_take_turns_while_another_process_holds_the_write_lock(
    tmp_path: Path,
) -> None:
    settings = Settings(data_dir=tmp_path / "data", public_url="http://twinbridge.test")  # type: ignore[call-arg]
    upgrade(settings)
    database = SqliteDatabase(settings.sqlite_path)
    other_process = sqlite3.connect(settings.sqlite_path, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    finished: list[int] = []

    async def write(index: int) -> None:
        async with database.transaction() as transaction:
            await transaction.execute(INSERT, {"subject": f"turn-{index}"})
        finished.append(index)

    try:
        writers = [asyncio.create_task(write(index)) for index in range(20)]
        await asyncio.sleep(0.3)
        assert finished == []  # all wait for the other process
        other_process.execute("COMMIT")
        await asyncio.gather(*writers)
        async with database.transaction(write=False) as transaction:
            assert await transaction.value(COUNT, {"prefix": "turn-%"}) == 20
    finally:
        other_process.close()
        await database.close()
    assert finished == list(range(20))  # in the order they asked


async def test_a_full_sqlite_database_is_insufficient_storage_and_keeps_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", public_url="http://twinbridge.test")  # type: ignore[call-arg]
    upgrade(settings)
    database = SqliteDatabase(settings.sqlite_path)
    try:
        async with database.transaction(write=False) as transaction:
            pages = await transaction.value("PRAGMA page_count")
            # The connection goes back to the pool with this limit: the next writer finds the file full.
            await transaction.value(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(InsufficientStorage):
            async with database.transaction() as transaction:
                await transaction.execute_many(
                    INSERT.replace(":subject", ":subject || randomblob(4000)"),
                    [{"subject": f"big-{index}"} for index in range(100)],
                )
        async with database.transaction(write=False) as transaction:
            assert await transaction.value(COUNT, {"prefix": "big-%"}) == 0
    finally:
        await database.close()
