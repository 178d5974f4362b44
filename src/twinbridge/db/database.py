"""The database every request, task and command goes through: plain SQL in transactions.

Repositories hold all SQL, written once with `:name` parameters, and read rows as tuples. Two
implementations, chosen by TWINBRIDGE_DATABASE_URL:

- SQLite: sqlite3 on the event loop's own thread. An indexed read of an SQLite file in WAL mode takes
  microseconds and never waits for a writer; a thread hand-off per statement (aiosqlite) cost a hundred
  times that. The one wait, for the write lock another process holds, happens here with `asyncio.sleep`
  between attempts (the connection's busy timeout is 0), so the loop goes on serving other requests.
- PostgreSQL: asyncpg connections, kept open between transactions.

On both, a reading transaction (`write=False`, every GET) runs each statement on its own, in autocommit: no
BEGIN and COMMIT, and each statement sees the last committed state. A writing one is a real transaction.

On both, values come back as Python types: timestamps as aware UTC datetimes, JSON columns as objects.

A transaction commits when its block ends and rolls back when it raises. Side effects outside the database
(deleting a blob, enqueueing a run) are registered with `after_commit` or `on_rollback` and happen only
then.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import orjson

from twinbridge.platform.errors import ApiError, InsufficientStorage
from twinbridge.platform.private_paths import private_file

if TYPE_CHECKING:
    import asyncpg

    from twinbridge.config import Settings

Parameters = Mapping[str, Any]
Row = tuple[Any, ...]
Dialect = Literal["sqlite", "postgresql"]

# Waiting for the write lock of another process: longest wait, and the pauses between attempts.
WRITE_LOCK_WAIT_SECONDS = 15.0
_FIRST_PAUSE_SECONDS = 0.001
_LONGEST_PAUSE_SECONDS = 0.005


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

        A reading transaction (`write=False`) never waits for a writer; its statements run one by one in
        autocommit, each on the last committed state.
        """

    @abstractmethod
    async def close(self) -> None: ...

    async def ping(self) -> None:
        """Raises when the database does not answer a trivial read (what /health reports)."""
        async with self.transaction(write=False) as transaction:
            await transaction.value("SELECT 1")


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


def _json_text(value: object) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


sqlite3.register_adapter(dict, _json_text)
sqlite3.register_adapter(list, _json_text)
# By the columns' declared types (sqlite3.PARSE_DECLTYPES).
sqlite3.register_converter("DATETIME", _timestamp_from_sqlite)
sqlite3.register_converter("JSON", orjson.loads)


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
                if getattr(error, "sqlite_errorcode", None) == sqlite3.SQLITE_FULL:
                    raise InsufficientStorage() from error
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
        self._writers: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None

    def _writer_lock(self) -> asyncio.Lock:
        """This process's writers take turns before they ask SQLite for its lock: one of them waits for
        another process's writer, the rest wait here in order, without trying BEGIN again and again."""
        loop = asyncio.get_running_loop()
        if self._writers is None or self._writers[0] is not loop:
            self._writers = (loop, asyncio.Lock())
        return self._writers[1]

    def _connect(self) -> sqlite3.Connection:
        private_file(self.path)  # it holds secrets; SQLite gives its WAL the database's mode
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
        if not write:
            async with self._transaction(write=False) as transaction:
                yield transaction
            return
        writers = self._writer_lock()
        try:
            async with asyncio.timeout(WRITE_LOCK_WAIT_SECONDS):
                await writers.acquire()
        except TimeoutError:
            raise DatabaseBusy() from None
        try:
            async with self._transaction(write=True) as transaction:
                yield transaction
        finally:
            writers.release()

    @asynccontextmanager
    async def _transaction(self, *, write: bool) -> AsyncIterator[SqliteTransaction]:
        connection = self._idle.pop() if self._idle else self._connect()
        transaction = SqliteTransaction(connection)
        try:
            # A reading transaction runs its statements in autocommit, as on PostgreSQL: each reads the
            # last committed state, and none waits for BEGIN and COMMIT. A writing one takes the write lock
            # at once (IMMEDIATE): two writers queue instead of failing when a reader would have to upgrade.
            if write:
                await transaction._run("BEGIN IMMEDIATE", ())
            try:
                yield transaction
                if write:
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
    # SQL with `:name` parameters → asyncpg's `$1…` form and the names in order; converted once per statement.
    _statements: dict[str, tuple[str, tuple[str, ...]]] = {}  # noqa: RUF012 (shared on purpose)

    def __init__(self, connection: asyncpg.Connection) -> None:
        super().__init__()
        self.connection = connection

    @classmethod
    def _sql(cls, sql: str) -> tuple[str, tuple[str, ...]]:
        converted = cls._statements.get(sql)
        if converted is None:
            names: list[str] = []

            def number(match: re.Match[str]) -> str:
                if match.group(1) not in names:
                    names.append(match.group(1))
                return f"${names.index(match.group(1)) + 1}"

            converted = cls._statements[sql] = (_NAMED_PARAMETER.sub(number, sql), tuple(names))
        return converted

    async def _call(
        self, method: Callable[..., Awaitable[Any]], sql: str, parameters: Parameters | None
    ) -> Any:
        from asyncpg.exceptions import DiskFullError, IntegrityConstraintViolationError

        statement, names = self._sql(sql)
        values = parameters or {}
        try:
            return await method(statement, *[values[name] for name in names])
        except IntegrityConstraintViolationError as error:
            raise IntegrityError(str(error)) from error
        except DiskFullError as error:
            raise InsufficientStorage() from error

    async def all(self, sql: str, parameters: Parameters | None = None) -> list[Row]:
        rows: list[Row] = await self._call(self.connection.fetch, sql, parameters)
        return rows

    async def execute(self, sql: str, parameters: Parameters | None = None) -> int:
        status: str = await self._call(self.connection.execute, sql, parameters)
        count = status.rsplit(" ", 1)[-1]  # "UPDATE 2", "INSERT 0 1", "DELETE 0"
        return int(count) if count.isdigit() else 0

    async def execute_many(self, sql: str, rows: Sequence[Parameters]) -> None:
        from asyncpg.exceptions import DiskFullError, IntegrityConstraintViolationError

        if not rows:
            return
        statement, names = self._sql(sql)
        try:
            await self.connection.executemany(statement, [[row[name] for name in names] for row in rows])
        except IntegrityConstraintViolationError as error:
            raise IntegrityError(str(error)) from error
        except DiskFullError as error:
            raise InsufficientStorage() from error


class _ConnectionPool:
    """Open connections kept for the next transaction, at most `max_size` at once.

    Borrowing one is a list pop. A connection comes back only when it is known idle: one that broke, or
    whose transaction was interrupted (a cancelled request may have left a statement in flight), is closed
    and its place freed for a new one.
    """

    def __init__(self, dsn: str, max_size: int) -> None:
        self.dsn = dsn
        self.max_size = max_size
        self._idle: list[asyncpg.Connection] = []
        self._size = 0
        # Transactions waiting for a connection; each gets one, or None: "a place is free, open one".
        self._waiters: deque[asyncio.Future[asyncpg.Connection | None]] = deque()

    async def borrow(self) -> asyncpg.Connection:
        while True:
            if self._idle:
                return self._idle.pop()
            if self._size < self.max_size:
                self._size += 1
                try:
                    return await self._connect()
                except BaseException:
                    self._place_freed()
                    raise
            waiter: asyncio.Future[asyncpg.Connection | None] = asyncio.get_running_loop().create_future()
            self._waiters.append(waiter)
            try:
                connection = await waiter
            except asyncio.CancelledError:
                if not waiter.cancelled() and (handed := waiter.result()) is not None:
                    self.give_back(handed, reusable=True)
                elif not waiter.cancelled():
                    self._place_freed()
                raise
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)
            if connection is not None:
                return connection

    async def _connect(self) -> asyncpg.Connection:
        import asyncpg

        connection = await asyncpg.connect(self.dsn, statement_cache_size=1000)
        await connection.set_type_codec("json", encoder=_json_text, decoder=orjson.loads, schema="pg_catalog")
        return connection

    def give_back(self, connection: asyncpg.Connection, *, reusable: bool) -> None:
        if not reusable or connection.is_closed() or connection.is_in_transaction():
            connection.terminate()
            self._place_freed()
            return
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(connection)
                return
        self._idle.append(connection)

    def _place_freed(self) -> None:
        self._size -= 1
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)
                return

    async def close(self) -> None:
        while self._idle:
            self._size -= 1
            await self._idle.pop().close()


class PostgresDatabase(Database):
    """asyncpg: its protocol in C decodes rows at half psycopg's cost per statement (bench/README.md)."""

    dialect: Dialect = "postgresql"

    def __init__(self, url: str, max_connections: int = 20) -> None:
        self._pool = _ConnectionPool(url, max_connections)

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[PostgresTransaction]:
        connection = await self._pool.borrow()
        transaction = PostgresTransaction(connection)
        reusable = False
        try:
            if write:
                async with connection.transaction():
                    yield transaction
            else:
                yield transaction
            reusable = True
        except Exception:
            reusable = True  # the statement ended with an error, and a writing transaction was rolled back
            transaction._finish(committed=False)
            raise
        except BaseException:  # cancelled, perhaps mid-statement: the connection is not trusted again
            transaction._finish(committed=False)
            raise
        finally:
            self._pool.give_back(connection, reusable=reusable)
        transaction._finish(committed=True)

    async def close(self) -> None:
        await self._pool.close()


def open_database(settings: Settings) -> Database:
    if settings.is_sqlite:
        return SqliteDatabase(settings.sqlite_path)
    return PostgresDatabase(settings.postgres_url)


@asynccontextmanager
async def unit_of_work(database: Database, *, write: bool = True) -> AsyncIterator[Transaction]:
    """The transaction boundary of a request, a CLI command or a task."""
    async with database.transaction(write=write) as transaction:
        yield transaction
