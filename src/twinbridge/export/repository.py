"""All SQL of export connections: through the ORM, and the one-statement fast reads."""

from __future__ import annotations

from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from twinbridge.db.models import ExportConnection
from twinbridge.db.sqlite_reads import SqliteReads


class ExportConnectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, connection: ExportConnection) -> ExportConnection:
        self.session.add(connection)
        await self.session.flush()
        return connection

    async def get(self, connection_id: str) -> ExportConnection | None:
        return await self.session.get(ExportConnection, connection_id)

    async def list_for_imodel(self, imodel_id: str, offset: int, limit: int) -> list[ExportConnection]:
        statement = (
            select(ExportConnection)
            .where(ExportConnection.imodel_id == imodel_id)
            .order_by(ExportConnection.created_at, ExportConnection.id)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def delete(self, connection: ExportConnection) -> None:
        await self.session.delete(connection)
        await self.session.flush()


class ConnectionRow(NamedTuple):
    """A connection as the fast reads see it, with its latest run."""

    id: str
    display_name: str
    imodel_id: str
    itwin_id: str
    authentication_type: str
    last_run_id: str | None


# The latest run orders like RunRepository.latest_id_for_connection.
_CONNECTION_COLUMNS = """
    c.id, c.display_name, c.imodel_id, c.itwin_id, c.authentication_type,
    (SELECT r.id FROM runs r WHERE r.connection_id = c.id ORDER BY r.created_at DESC, r.id DESC LIMIT 1)
"""
# The subject's role on the iTwin of `{table}`'s row; the rule that applies it stays in auth.permissions.
_ROLE_OF_SUBJECT = (
    "(SELECT m.role FROM itwin_members m WHERE m.itwin_id = {table}.itwin_id AND m.subject = :subject)"
)
CONNECTION_WITH_ACCESS = f"""
    SELECT {_CONNECTION_COLUMNS}, {_ROLE_OF_SUBJECT.format(table="c")}
    FROM export_connections c WHERE c.id = :connection_id
"""
IMODEL_ACCESS = f"SELECT i.id, {_ROLE_OF_SUBJECT.format(table='i')} FROM imodels i WHERE i.id = :imodel_id"
CONNECTIONS_OF_IMODEL = f"""
    SELECT {_CONNECTION_COLUMNS} FROM export_connections c WHERE c.imodel_id = :imodel_id
    ORDER BY c.created_at, c.id LIMIT :limit OFFSET :offset
"""


class ExportConnectionReads:
    """The SQL of the Export API's fast reads (twinbridge.platform.fast_reads), one statement each."""

    def __init__(self, reads: SqliteReads) -> None:
        self.reads = reads

    def connection(self, connection_id: str, subject: str) -> tuple[ConnectionRow, str | None] | None:
        """The connection and the subject's role on its iTwin."""
        rows = self.reads.rows(CONNECTION_WITH_ACCESS, {"connection_id": connection_id, "subject": subject})
        if not rows:
            return None
        *columns, role = rows[0]
        return ConnectionRow(*columns), role

    def role_on_imodel(self, imodel_id: str, subject: str) -> tuple[bool, str | None]:
        """(whether the iModel exists, the subject's role on its iTwin)."""
        rows = self.reads.rows(IMODEL_ACCESS, {"imodel_id": imodel_id, "subject": subject})
        return (True, rows[0][1]) if rows else (False, None)

    def connections_of_imodel(self, imodel_id: str, offset: int, limit: int) -> list[ConnectionRow]:
        parameters = {"imodel_id": imodel_id, "offset": offset, "limit": limit}
        return [ConnectionRow(*row) for row in self.reads.rows(CONNECTIONS_OF_IMODEL, parameters)]
