"""The database every request, task and command goes through: plain SQL in transactions.

Repositories hold all SQL, written once with `:name` parameters, and read rows as tuples. Two
implementations, chosen by TWINBRIDGE_DATABASE_URL:

- SQLite: sqlite3 on the event loop's own thread. An indexed read of an SQLite file in WAL mode takes
  microseconds and never waits for a writer; a thread hand-off per statement (aiosqlite) cost a hundred
  times that. The one wait, for the write lock another process holds, happens here with `asyncio.sleep`
  between attempts (the connection's busy timeout is 0), so the loop goes on serving other requests.
- PostgreSQL: psycopg's async connections from a pool. Reading transactions run in autocommit (no BEGIN and
  COMMIT round trips); writing ones in a transaction.

On both, values come back as Python types: timestamps as aware UTC datetimes, JSON columns as objects.

A transaction commits when its block ends and rolls back when it raises. Side effects outside the database
(deleting a blob, enqueueing a run) are registered with `after_commit` or `on_rollback` and happen only
then.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from twinbridge.platform.errors import ApiError

if TYPE_CHECKING:
    from psycopg import AsyncConnection
    from psycopg_pool import AsyncConnectionPool

    from twinbridge.config import Settings

Parameters = Mapping[str, Any]
Row = tuple[Any, ...]
Dialect = Literal["sqlite", "postgresql"]

# Waiting for the write lock of another process: longest wait, and the pauses between attempts.
WRITE_LOCK_WAIT_SECONDS = 15.0
_FIRST_PAUSE_SECONDS = 0.001
_LONGEST_PAUSE_SECONDS = 0.05


class DatabaseBusy(ApiError):
    """Another writer held the database for longer than a request should wait."""

    status_code = 503
    default_code = "ServiceUnavailable"
    default_message = "The database is busy with another writer; try again shortly."

    def __init__(self) -> None:
        super().__init__(headers={"retry-after": "1"})


class IntegrityError(Exception):
    """A statement broke a constraint (a unique key, a foreign key), whichever the database."""


class Transaction(ABC):
    """One transaction: statements, and what happens once it has committed or rolled back."""

    dialect: Dialect

    def __init__(self) -> None:
        self._after_commit: list[Callable[[], None]] = []
        self._on_rollback: list[Callable[[], None]] = []

    @abstractmethod
    async def all(self, sql: str, parameters: Parameters | None = None) -> list[Row]: ...

    @abstractmethod
    async def execute(self, sql: str, parameters: Parameters | None = None) -> int:
        """Runs a statement that returns no rows; the number of rows it changed."""

    @abstractmethod
    async def execute_many(self, sql: str, rows: Sequence[Parameters]) -> None: ...

    async def one(self, sql: str, parameters: Parameters | None = None) -> Row | None:
        rows = await self.all(sql, parameters)
        return rows[0] if rows else None

    async def value(self, sql: str, parameters: Parameters | None = None) -> Any:
        row = await self.one(sql, parameters)
        return row[0] if row is not None else None

    def after_commit(self, action: Callable[[], None]) -> None:
        """A side effect that must happen only once the transaction has committed."""
        self._after_commit.append(action)

    def on_rollback(self, action: Callable[[], None]) -> None:
        """Undoes a side effect outside the database (a stored blob) if the transaction does not commit."""
        self._on_rollback.append(action)

    @property
    def skip_locked(self) -> str:
        """The clause that locks selected rows, skipping those another transaction holds (PostgreSQL).

        SQLite serializes writers, so there nothing is to be skipped.
        """
        return " FOR UPDATE SKIP LOCKED" if self.dialect == "postgresql" else ""

    def _finish(self, committed: bool) -> None:
        actions = self._after_commit if committed else self._on_rollback
        self._after_commit, self._on_rollback = [], []
        for action in actions:
            try:
                action()
            except Exception:  # a failed clean-up must not hide the outcome of the transaction
                import structlog  # imported here: the CLI's commands import this module and must start fast

                logger = structlog.get_logger(__name__)
                logger.exception("transaction_side_effect_failed", action=repr(action))


class Database(ABC):
    dialect: Dialect

    @abstractmethod
    def transaction(self, *, write: bool = True) -> AbstractAsyncContextManager[Transaction]:
        """`async with database.transaction(write=...) as transaction:` commits at the end of the block.

        A reading transaction (`write=False`) never waits for a writer.
        """

    @abstractmethod
    async def close(self) -> None: ...


# ---- SQLite --------------------------------------------------------------------------------------------

# Timestamps are stored as SQLAlchemy stored them before (this layer replaced it, on the same files): UTC
# wall time with six fractional digits, so that they sort and compare as text.
_SQLITE_TIMESTAMP = "%Y-%m-%d %H:%M:%S.%f"


def _timestamp_to_sqlite(moment: datetime) -> str:
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment.strftime(_SQLITE_TIMESTAMP)


def _timestamp_from_sqlite(raw: bytes) -> datetime:
    text = raw.decode()
    moment = datetime.fromisoformat(text)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


sqlite3.register_adapter(datetime, _timestamp_to_sqlite)
sqlite3.register_adapter(dict, json.dumps)
sqlite3.register_adapter(list, json.dumps)
# By the columns' declared types (sqlite3.PARSE_DECLTYPES).
sqlite3.register_converter("DATETIME", _timestamp_from_sqlite)
sqlite3.register_converter("JSON", json.loads)


def _locked(error: sqlite3.OperationalError) -> bool:
    code = getattr(error, "sqlite_errorcode", None)
    return code in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED) or "database is locked" in str(error)


class SqliteTransaction(Transaction):
    dialect: Dialect = "sqlite"

    def __init__(self, connection: sqlite3.Connection) -> None:
        super().__init__()
        self.connection = connection

    async def _run(self, sql: str, parameters: Any, many: bool = False) -> sqlite3.Cursor:
        """Runs a statement; while another process holds the lock, waits on the event loop and tries again."""
        pause = _FIRST_PAUSE_SECONDS
        deadline = time.monotonic() + WRITE_LOCK_WAIT_SECONDS
        while True:
            try:
                if many:
                    return self.connection.executemany(sql, parameters)
                return self.connection.execute(sql, parameters)
            except sqlite3.IntegrityError as error:
                raise IntegrityError(str(error)) from error
            except sqlite3.OperationalError as error:
                if not _locked(error):
                    raise
                if time.monotonic() >= deadline:
                    raise DatabaseBusy() from error
            await asyncio.sleep(pause)
            pause = min(pause * 2, _LONGEST_PAUSE_SECONDS)

    async def all(self, sql: str, parameters: Parameters | None = None) -> list[Row]:
        return (await self._run(sql, parameters or {})).fetchall()

    async def execute(self, sql: str, parameters: Parameters | None = None) -> int:
        return (await self._run(sql, parameters or {})).rowcount

    async def execute_many(self, sql: str, rows: Sequence[Parameters]) -> None:
        if rows:
            await self._run(sql, rows, many=True)


class SqliteDatabase(Database):
    dialect: Dialect = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._idle: list[sqlite3.Connection] = []

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(
            self.path,
            isolation_level=None,  # transactions are begun by hand below
            check_same_thread=False,
            detect_types=sqlite3.PARSE_DECLTYPES,
            timeout=0,  # a locked database answers at once; the wait is SqliteTransaction._run's
        )
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute("PRAGMA foreign_keys=ON")
        connection.execute("PRAGMA busy_timeout=0")
        connection.execute("PRAGMA synchronous=NORMAL")
        return connection

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[SqliteTransaction]:
        connection = self._idle.pop() if self._idle else self._connect()
        transaction = SqliteTransaction(connection)
        try:
            # IMMEDIATE takes the write lock at once: two writers queue instead of failing when a reading
            # transaction would have to upgrade to a writing one.
            await transaction._run("BEGIN IMMEDIATE" if write else "BEGIN", ())
            try:
                yield transaction
                await transaction._run("COMMIT", ())
            except BaseException:
                if connection.in_transaction:
                    connection.rollback()
                transaction._finish(committed=False)
                raise
        finally:
            self._idle.append(connection)
        transaction._finish(committed=True)

    async def close(self) -> None:
        while self._idle:
            self._idle.pop().close()


# ---- PostgreSQL ----------------------------------------------------------------------------------------

_NAMED_PARAMETER = re.compile(r"(?<![:\w]):([A-Za-z_]\w*)")


class PostgresTransaction(Transaction):
    dialect: Dialect = "postgresql"
    _statements: dict[str, str] = {}  # noqa: RUF012 (a cache of converted SQL, shared on purpose)

    def __init__(self, connection: AsyncConnection[Any]) -> None:
        super().__init__()
        self.connection = connection

    @classmethod
    def _sql(cls, sql: str) -> str:
        """`:name` parameters as psycopg's `%(name)s` (a literal % doubled), converted once per statement."""
        converted = cls._statements.get(sql)
        if converted is None:
            converted = _NAMED_PARAMETER.sub(r"%(\1)s", sql.replace("%", "%%"))
            cls._statements[sql] = converted
        return converted

    @staticmethod
    def _values(parameters: Parameters | None) -> dict[str, Any]:
        from psycopg.types.json import Json

        return {
            name: Json(value) if isinstance(value, dict | list) else value
            for name, value in (parameters or {}).items()
        }

    async def _run(self, sql: str, parameters: Parameters | None) -> Any:
        from psycopg import errors

        try:
            return await self.connection.execute(self._sql(sql), self._values(parameters))
        except errors.IntegrityError as error:
            raise IntegrityError(str(error)) from error

    async def all(self, sql: str, parameters: Parameters | None = None) -> list[Row]:
        cursor = await self._run(sql, parameters)
        rows: list[Row] = await cursor.fetchall()
        return rows

    async def execute(self, sql: str, parameters: Parameters | None = None) -> int:
        cursor = await self._run(sql, parameters)
        return int(cursor.rowcount)

    async def execute_many(self, sql: str, rows: Sequence[Parameters]) -> None:
        from psycopg import errors

        if not rows:
            return
        try:
            async with self.connection.cursor() as cursor:
                await cursor.executemany(self._sql(sql), [self._values(row) for row in rows])
        except errors.IntegrityError as error:
            raise IntegrityError(str(error)) from error


class PostgresDatabase(Database):
    dialect: Dialect = "postgresql"

    def __init__(self, url: str) -> None:
        self.conninfo = url
        self._pool: AsyncConnectionPool[Any] | None = None

    async def _opened_pool(self) -> AsyncConnectionPool[Any]:
        if self._pool is None:
            from psycopg_pool import AsyncConnectionPool

            pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
                self.conninfo, min_size=1, max_size=20, kwargs={"autocommit": True}, open=False
            )
            await pool.open()
            self._pool = pool
        return self._pool

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[PostgresTransaction]:
        pool = await self._opened_pool()
        async with pool.connection() as connection:
            transaction = PostgresTransaction(connection)
            try:
                if write:
                    async with connection.transaction():
                        yield transaction
                else:
                    yield transaction
            except BaseException:
                transaction._finish(committed=False)
                raise
        transaction._finish(committed=True)

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


def open_database(settings: Settings) -> Database:
    if settings.is_sqlite:
        return SqliteDatabase(settings.sqlite_path)
    return PostgresDatabase(settings.postgres_url)


@asynccontextmanager
async def unit_of_work(database: Database, *, write: bool = True) -> AsyncIterator[Transaction]:
    """The transaction boundary of a request, a CLI command or a task."""
    async with database.transaction(write=write) as transaction:
        yield transaction
