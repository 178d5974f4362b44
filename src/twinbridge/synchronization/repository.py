"""All SQL of Synchronization connections and their source files."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from twinbridge.db.models import SyncConnection, SyncSourceFile


class SyncConnectionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, connection: SyncConnection) -> SyncConnection:
        self.session.add(connection)
        await self.session.flush()
        return connection

    async def get(self, kind: str, connection_id: str) -> SyncConnection | None:
        connection = await self.session.get(SyncConnection, connection_id)
        return connection if connection is not None and connection.kind == kind else None

    async def list_for_imodel(
        self, kind: str, imodel_id: str, offset: int, limit: int
    ) -> list[SyncConnection]:
        statement = (
            select(SyncConnection)
            .where(SyncConnection.kind == kind, SyncConnection.imodel_id == imodel_id)
            .order_by(SyncConnection.created_at, SyncConnection.id)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def delete(self, connection: SyncConnection) -> None:
        await self.session.delete(connection)
        await self.session.flush()

    async def add_source_files(self, source_files: list[SyncSourceFile]) -> list[SyncSourceFile]:
        self.session.add_all(source_files)
        await self.session.flush()
        return source_files

    async def get_source_file(self, connection_id: str, source_file_id: str) -> SyncSourceFile | None:
        source_file = await self.session.get(SyncSourceFile, source_file_id)
        return source_file if source_file is not None and source_file.connection_id == connection_id else None

    async def list_source_files(
        self, connection_id: str, offset: int = 0, limit: int | None = None
    ) -> list[SyncSourceFile]:
        statement = (
            select(SyncSourceFile)
            .where(SyncSourceFile.connection_id == connection_id)
            .order_by(SyncSourceFile.ordinal, SyncSourceFile.created_at, SyncSourceFile.id)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def next_ordinal(self, connection_id: str) -> int:
        statement = select(func.coalesce(func.max(SyncSourceFile.ordinal), -1)).where(
            SyncSourceFile.connection_id == connection_id
        )
        return int(await self.session.scalar(statement) or 0) + 1

    async def delete_source_file(self, source_file: SyncSourceFile) -> None:
        await self.session.delete(source_file)
        await self.session.flush()
