"""All SQL of Synchronization connections and their source files."""

from __future__ import annotations

from typing import Any

from twinbridge.db.database import Transaction
from twinbridge.db.models import SyncConnection, SyncSourceFile
from twinbridge.db.tables import Table
from twinbridge.itwins.repository import role_of_subject, with_role_sql
from twinbridge.runs.repository import RunOwner, latest_run_id_of

CONNECTIONS = Table("sync_connections", SyncConnection)
# Every read of a connection comes with the id of its newest run.
_COLUMNS = f"{CONNECTIONS.select('t')}, {latest_run_id_of('t')}"
_WITH_ROLE = with_role_sql(CONNECTIONS, _COLUMNS) + " AND t.kind = :kind"
# A connection read with its runs (`RunService.read_connection`).
RUN_OWNER = RunOwner(CONNECTIONS, role_of_subject("t"), "t.id = :connection_id AND t.kind = :kind")
# An iModel, the caller's role on it and a page of its connections of both kinds (Get Connections), in one
# statement: the iModel's row comes back alone, with NULLs, when the page holds no connection.
_OF_IMODEL = (
    f"SELECT {role_of_subject('i')}, {_COLUMNS} FROM imodels i"
    f" LEFT JOIN (SELECT {CONNECTIONS.select()} FROM sync_connections WHERE imodel_id = :imodel_id"
    " ORDER BY created_at, id LIMIT :limit OFFSET :offset) t ON t.imodel_id = i.id"
    " WHERE i.id = :imodel_id ORDER BY t.created_at, t.id"
)
SOURCE_FILES = Table("sync_source_files", SyncSourceFile)


class SyncConnectionRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add(self, connection: SyncConnection) -> SyncConnection:
        await self.transaction.execute(CONNECTIONS.insert_sql, CONNECTIONS.values(connection))
        return connection

    async def update(self, connection: SyncConnection) -> SyncConnection:
        await self.transaction.execute(CONNECTIONS.update_sql, CONNECTIONS.values(connection))
        return connection

    async def get(self, kind: str, connection_id: str) -> SyncConnection | None:
        row = await self.transaction.one(
            f"SELECT {_COLUMNS} FROM sync_connections t WHERE t.id = :id AND t.kind = :kind",
            {"id": connection_id, "kind": kind},
        )
        return CONNECTIONS.row(row) if row else None

    async def get_with_role(
        self, kind: str, connection_id: str, subject: str
    ) -> tuple[SyncConnection, str | None] | None:
        """The connection and the role of `subject` on its iTwin."""
        row = await self.transaction.one(_WITH_ROLE, {"id": connection_id, "kind": kind, "subject": subject})
        return (CONNECTIONS.row(row[:-1]), row[-1]) if row else None

    async def list_for_imodel(
        self, kind: str, imodel_id: str, offset: int, limit: int
    ) -> list[SyncConnection]:
        rows = await self.transaction.all(
            f"SELECT {_COLUMNS} FROM sync_connections t"
            " WHERE t.kind = :kind AND t.imodel_id = :imodel_id"
            " ORDER BY t.created_at, t.id LIMIT :limit OFFSET :offset",
            {"kind": kind, "imodel_id": imodel_id, "limit": limit, "offset": offset},
        )
        return CONNECTIONS.rows(rows)

    async def page_of_imodel(
        self, imodel_id: str, subject: str, offset: int, limit: int
    ) -> tuple[str | None, list[SyncConnection]] | None:
        """The role of `subject` on the iModel's iTwin and a page of its connections, manifest and storage
        alike, oldest first; None when there is no such iModel."""
        rows = await self.transaction.all(
            _OF_IMODEL, {"imodel_id": imodel_id, "subject": subject, "limit": limit, "offset": offset}
        )
        if not rows:
            return None
        return rows[0][0], [CONNECTIONS.row(row[1:]) for row in rows if row[1] is not None]

    async def delete(self, connection: SyncConnection) -> None:
        await self.transaction.execute(CONNECTIONS.delete_sql, {"id": connection.id})

    async def add_source_files(self, source_files: list[SyncSourceFile]) -> list[SyncSourceFile]:
        await self.transaction.execute_many(
            SOURCE_FILES.insert_sql, [SOURCE_FILES.values(file) for file in source_files]
        )
        return source_files

    async def update_source_file(self, source_file: SyncSourceFile) -> SyncSourceFile:
        await self.transaction.execute(SOURCE_FILES.update_sql, SOURCE_FILES.values(source_file))
        return source_file

    async def get_source_file(self, connection_id: str, source_file_id: str) -> SyncSourceFile | None:
        row = await self.transaction.one(
            f"SELECT {SOURCE_FILES.select()} FROM sync_source_files"
            " WHERE id = :id AND connection_id = :connection_id",
            {"id": source_file_id, "connection_id": connection_id},
        )
        return SOURCE_FILES.row(row) if row else None

    async def list_source_files(self, connection_id: str, offset: int, limit: int) -> list[SyncSourceFile]:
        rows = await self.transaction.all(
            f"SELECT {SOURCE_FILES.select()} FROM sync_source_files WHERE connection_id = :connection_id"
            " ORDER BY ordinal, created_at, id LIMIT :limit OFFSET :offset",
            {"connection_id": connection_id, "limit": limit, "offset": offset},
        )
        return SOURCE_FILES.rows(rows)

    async def all_source_files(self, connection_id: str) -> list[SyncSourceFile]:
        rows = await self.transaction.all(
            f"SELECT {SOURCE_FILES.select()} FROM sync_source_files WHERE connection_id = :connection_id"
            " ORDER BY ordinal, created_at, id",
            {"connection_id": connection_id},
        )
        return SOURCE_FILES.rows(rows)

    async def run_files(self, connection_id: str) -> list[list[dict[str, Any]]]:
        """The files of the connection's runs, newest run first (what each run was given)."""
        rows = await self.transaction.all(
            "SELECT options FROM runs WHERE connection_id = :connection_id ORDER BY created_at DESC, id DESC",
            {"connection_id": connection_id},
        )
        return [list((row[0] or {}).get("files", [])) for row in rows]

    async def next_ordinal(self, connection_id: str) -> int:
        highest = await self.transaction.value(
            "SELECT coalesce(max(ordinal), -1) FROM sync_source_files WHERE connection_id = :connection_id",
            {"connection_id": connection_id},
        )
        return int(highest if highest is not None else -1) + 1

    async def delete_source_file(self, source_file: SyncSourceFile) -> None:
        await self.transaction.execute(SOURCE_FILES.delete_sql, {"id": source_file.id})
