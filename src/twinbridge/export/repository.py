"""All SQL of export connections."""

from __future__ import annotations

from twinbridge.db.database import Transaction
from twinbridge.db.models import ExportConnection
from twinbridge.db.tables import Table
from twinbridge.itwins.repository import role_of_subject, with_role_sql
from twinbridge.runs.repository import RunOwner, latest_run_id_of

CONNECTIONS = Table("export_connections", ExportConnection)
# Every read of a connection comes with the id of its newest run.
_COLUMNS = f"{CONNECTIONS.select('t')}, {latest_run_id_of('t')}"
_WITH_ROLE = with_role_sql(CONNECTIONS, _COLUMNS)
# A connection read with its runs (`RunService.read_connection`).
RUN_OWNER = RunOwner(CONNECTIONS, role_of_subject("t"))


class ExportConnectionRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add(self, connection: ExportConnection) -> ExportConnection:
        await self.transaction.execute(CONNECTIONS.insert_sql, CONNECTIONS.values(connection))
        return connection

    async def get(self, connection_id: str) -> ExportConnection | None:
        row = await self.transaction.one(
            f"SELECT {_COLUMNS} FROM export_connections t WHERE t.id = :id", {"id": connection_id}
        )
        return CONNECTIONS.row(row) if row else None

    async def get_with_role(
        self, connection_id: str, subject: str
    ) -> tuple[ExportConnection, str | None] | None:
        """The connection and the role of `subject` on its iTwin."""
        row = await self.transaction.one(_WITH_ROLE, {"id": connection_id, "subject": subject})
        return (CONNECTIONS.row(row[:-1]), row[-1]) if row else None

    async def list_for_imodel(self, imodel_id: str, offset: int, limit: int) -> list[ExportConnection]:
        rows = await self.transaction.all(
            f"SELECT {_COLUMNS} FROM export_connections t WHERE t.imodel_id = :imodel_id"
            " ORDER BY t.created_at, t.id LIMIT :limit OFFSET :offset",
            {"imodel_id": imodel_id, "limit": limit, "offset": offset},
        )
        return CONNECTIONS.rows(rows)

    async def delete(self, connection: ExportConnection) -> None:
        await self.transaction.execute(CONNECTIONS.delete_sql, {"id": connection.id})
