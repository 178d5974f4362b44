"""Database engines and sessions.

SQLite runs in WAL mode with foreign keys on and a busy timeout, so that the CLI and a running server can
both write to the same file.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from twinbridge.config import Settings

SQLITE_BUSY_TIMEOUT_MS = 15_000


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # BEGIN IMMEDIATE takes the write lock at the start of a transaction, so two writers wait on the busy
    # timeout instead of failing with "database is locked" when a read transaction upgrades to a write.
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _sqlite_begin_deferred(connection: Any) -> None:
    connection.exec_driver_sql("BEGIN")


def _prepare_sqlite(settings: Settings) -> None:
    settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)


def create_sync_engine(settings: Settings) -> Engine:
    if settings.is_sqlite:
        _prepare_sqlite(settings)
        engine = create_engine(settings.sync_database_url, connect_args={"timeout": 15})
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    return create_engine(settings.sync_database_url, pool_pre_ping=True)


def create_database_engine(settings: Settings, *, for_reads: bool = False) -> AsyncEngine:
    """The async engine; on SQLite, `for_reads` gives one whose transactions start deferred.

    Writers begin IMMEDIATE so that two writers queue on the busy timeout instead of failing when a read
    transaction upgrades; readers begin deferred so that they never wait for the write lock (WAL lets them
    read while another process writes).
    """
    if settings.is_sqlite:
        _prepare_sqlite(settings)
        engine = create_async_engine(
            settings.async_database_url,
            connect_args={"timeout": 15},
            # Every unit of work ends its own transaction; a reset ROLLBACK would be one more round trip.
            pool_reset_on_return=None if for_reads else "rollback",
        )
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        # pysqlite's own transaction handling is switched off so that the BEGIN below is ours.
        event.listen(
            engine.sync_engine,
            "connect",
            lambda dbapi_connection, _record: setattr(dbapi_connection, "isolation_level", None),
        )
        event.listen(
            engine.sync_engine, "begin", _sqlite_begin_deferred if for_reads else _sqlite_begin_immediate
        )
        return engine
    return create_async_engine(settings.async_database_url, pool_pre_ping=True, pool_size=10, max_overflow=20)


def create_session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def database_sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on an engine of their own, disposed at the end: for one CLI command or one sweep.

    Lighter than a whole Runtime (no issuer, storage or queue), and it holds no connection afterwards, which
    a process that forks (Celery's main process) must not.
    """
    database = create_database_engine(settings)
    try:
        yield create_session_factory(database)
    finally:
        await database.dispose()


_ROLLBACK_ACTIONS = "twinbridge.rollback_actions"
_COMMIT_ACTIONS = "twinbridge.commit_actions"


def on_rollback(session: AsyncSession, action: Callable[[], None]) -> None:
    """Undoes a side effect outside the database (a stored blob) if the transaction does not commit."""
    session.info.setdefault(_ROLLBACK_ACTIONS, []).append(action)


def after_commit(session: AsyncSession, action: Callable[[], None]) -> None:
    """Runs a side effect only once the transaction has committed (deleting blobs, enqueueing work)."""
    session.info.setdefault(_COMMIT_ACTIONS, []).append(action)


def _run_actions(session: AsyncSession, name: str) -> None:
    for action in session.info.pop(name, []):
        try:
            action()
        except Exception:  # a failed clean-up must not hide the outcome of the transaction
            import structlog  # imported here: the CLI's commands import this module and must start fast

            structlog.get_logger(__name__).exception("transaction_side_effect_failed", action=repr(action))


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """The transaction boundary of a request, a CLI command or a task: commit on success, else roll back."""
    async with factory() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            session.info.pop(_COMMIT_ACTIONS, None)
            _run_actions(session, _ROLLBACK_ACTIONS)
            raise
        session.info.pop(_ROLLBACK_ACTIONS, None)
        _run_actions(session, _COMMIT_ACTIONS)
