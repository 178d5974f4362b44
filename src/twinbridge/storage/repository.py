"""All SQL of storage folders and files."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from twinbridge.db.models import StorageFile, StorageFolder


class StorageRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get_folder(self, folder_id: str) -> StorageFolder | None:
        return await self.session.get(StorageFolder, folder_id)

    async def add_root_folder(self, folder: StorageFolder) -> StorageFolder:
        """Inserts a root folder, or returns the one a concurrent transaction inserted first."""
        try:
            async with self.session.begin_nested():
                self.session.add(folder)
        except IntegrityError:
            existing = await self.session.get(StorageFolder, folder.id, populate_existing=True)
            if existing is None:
                raise
            return existing
        return folder

    async def count_subfolders(self, folder_id: str) -> int:
        statement = (
            select(func.count()).select_from(StorageFolder).where(StorageFolder.parent_id == folder_id)
        )
        return int(await self.session.scalar(statement) or 0)

    async def list_subfolders(self, folder_id: str, offset: int, limit: int) -> list[StorageFolder]:
        statement = (
            select(StorageFolder)
            .where(StorageFolder.parent_id == folder_id)
            .order_by(StorageFolder.created_at, StorageFolder.id)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def add_file(self, file: StorageFile) -> StorageFile:
        self.session.add(file)
        await self.session.flush()
        return file

    async def get_file(self, file_id: str) -> StorageFile | None:
        return await self.session.get(StorageFile, file_id)

    async def get_file_by_upload_token(self, file_id: str, token: str) -> StorageFile | None:
        statement = select(StorageFile).where(StorageFile.id == file_id, StorageFile.upload_token == token)
        return await self.session.scalar(statement)

    async def list_files(self, folder_id: str, state: str, offset: int, limit: int) -> list[StorageFile]:
        statement = (
            select(StorageFile)
            .where(StorageFile.folder_id == folder_id, StorageFile.state == state)
            .order_by(StorageFile.created_at, StorageFile.id)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def save(self) -> None:
        await self.session.flush()

    async def delete_file(self, file: StorageFile) -> None:
        await self.session.delete(file)
        await self.session.flush()
