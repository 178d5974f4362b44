"""All SQL of storage folders and files."""

from __future__ import annotations

from twinbridge.db.database import Transaction
from twinbridge.db.models import StorageFile, StorageFolder
from twinbridge.db.tables import Table
from twinbridge.itwins.repository import with_role_sql

FOLDERS = Table("storage_folders", StorageFolder)
FILES = Table("storage_files", StorageFile)
_FOLDER_WITH_ROLE = with_role_sql(FOLDERS)
_FILE_WITH_ROLE = with_role_sql(FILES)


class StorageRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def get_folder(self, folder_id: str) -> StorageFolder | None:
        row = await self.transaction.one(FOLDERS.get_sql, {"id": folder_id})
        return FOLDERS.row(row) if row else None

    async def add_root_folder(self, folder: StorageFolder) -> StorageFolder:
        """Inserts a root folder, or returns the one a concurrent transaction inserted first."""
        await self.transaction.execute(
            f"{FOLDERS.insert_sql} ON CONFLICT (id) DO NOTHING", FOLDERS.values(folder)
        )
        existing = await self.get_folder(folder.id)
        assert existing is not None
        return existing

    async def count_subfolders(self, folder_id: str) -> int:
        count = await self.transaction.value(
            "SELECT count(*) FROM storage_folders WHERE parent_id = :folder_id", {"folder_id": folder_id}
        )
        return int(count or 0)

    async def list_subfolders(self, folder_id: str, offset: int, limit: int) -> list[StorageFolder]:
        rows = await self.transaction.all(
            f"SELECT {FOLDERS.select()} FROM storage_folders WHERE parent_id = :folder_id"
            " ORDER BY created_at, id LIMIT :limit OFFSET :offset",
            {"folder_id": folder_id, "limit": limit, "offset": offset},
        )
        return FOLDERS.rows(rows)

    async def add_file(self, file: StorageFile) -> StorageFile:
        await self.transaction.execute(FILES.insert_sql, FILES.values(file))
        return file

    async def get_file(self, file_id: str) -> StorageFile | None:
        row = await self.transaction.one(FILES.get_sql, {"id": file_id})
        return FILES.row(row) if row else None

    async def get_file_with_role(self, file_id: str, subject: str) -> tuple[StorageFile, str | None] | None:
        """The file and the role of `subject` on its iTwin."""
        row = await self.transaction.one(_FILE_WITH_ROLE, {"id": file_id, "subject": subject})
        return (FILES.row(row[:-1]), row[-1]) if row else None

    async def get_folder_with_role(
        self, folder_id: str, subject: str
    ) -> tuple[StorageFolder, str | None] | None:
        """The folder and the role of `subject` on its iTwin."""
        row = await self.transaction.one(_FOLDER_WITH_ROLE, {"id": folder_id, "subject": subject})
        return (FOLDERS.row(row[:-1]), row[-1]) if row else None

    async def get_file_by_upload_token(self, file_id: str, token: str) -> StorageFile | None:
        row = await self.transaction.one(
            f"SELECT {FILES.select()} FROM storage_files WHERE id = :id AND upload_token = :token",
            {"id": file_id, "token": token},
        )
        return FILES.row(row) if row else None

    async def list_files(self, folder_id: str, state: str, offset: int, limit: int) -> list[StorageFile]:
        rows = await self.transaction.all(
            f"SELECT {FILES.select()} FROM storage_files WHERE folder_id = :folder_id AND state = :state"
            " ORDER BY created_at, id LIMIT :limit OFFSET :offset",
            {"folder_id": folder_id, "state": state, "limit": limit, "offset": offset},
        )
        return FILES.rows(rows)

    async def update_file(self, file: StorageFile) -> StorageFile:
        await self.transaction.execute(FILES.update_sql, FILES.values(file))
        return file

    async def delete_file(self, file: StorageFile) -> None:
        await self.transaction.execute(FILES.delete_sql, {"id": file.id})
