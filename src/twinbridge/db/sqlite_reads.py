"""One-hop reads of the SQLite database, for the few GETs that polling clients call most.

Through the async ORM over aiosqlite a request costs about twenty thread round trips (milliseconds of CPU);
an indexed point lookup in sqlite3 costs tens of microseconds, less than one of those round trips. So these
reads run on the event loop's thread, on a connection of their own, in autocommit: each statement is its
own consistent snapshot of what has been committed, and in WAL mode a reader never waits for a writer.

On PostgreSQL there is no such reader; every request takes the regular path.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from twinbridge.config import Settings

# A reader that would wait holds up every request of the event loop; it gives up at once instead and the
# request takes the regular path (which may wait).
BUSY_TIMEOUT_MS = 0


class SqliteReads:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._connection: sqlite3.Connection | None = None

    def _open(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        connection.execute("PRAGMA query_only=ON")
        connection.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        self._connection = connection
        return connection

    def rows(self, sql: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        """Raises sqlite3.Error when the database cannot answer at once (then take the regular path)."""
        connection = self._connection or self._open()
        return connection.execute(sql, parameters).fetchall()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def open_sqlite_reads(settings: Settings) -> SqliteReads | None:
    """The reader of the settings' SQLite file; None for PostgreSQL or an in-memory database."""
    if not settings.is_sqlite:
        return None
    database = make_url(settings.sync_database_url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return SqliteReads(Path(database))
