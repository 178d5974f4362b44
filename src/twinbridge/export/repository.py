"""All SQL of export connections."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from twinbridge.db.models import ExportConnection


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
