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
# Deeper than any real folder tree; bounds the recursive walks should the data ever hold a cycle.
MAX_FOLDER_DEPTH = 1000
# A folder and every folder below it.
_SUBTREE = (
    "WITH RECURSIVE tree(id, depth) AS (SELECT id, 0 FROM storage_folders WHERE id = :folder_id"
    " UNION ALL SELECT f.id, t.depth + 1 FROM storage_folders f JOIN tree t ON f.parent_id = t.id"
    f" WHERE t.depth < {MAX_FOLDER_DEPTH})"
)


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

    async def add_folder(self, folder: StorageFolder) -> StorageFolder:
        await self.transaction.execute(FOLDERS.insert_sql, FOLDERS.values(folder))
        return folder

    async def update_folder(self, folder: StorageFolder) -> StorageFolder:
        await self.transaction.execute(FOLDERS.update_sql, FOLDERS.values(folder))
        return folder

    async def delete_folder(self, folder: StorageFolder) -> None:
        """Deletes the folder; its subfolders and their files go with it (ON DELETE CASCADE)."""
        await self.transaction.execute(FOLDERS.delete_sql, {"id": folder.id})

    async def names_from_root(self, folder_id: str) -> list[tuple[str, str | None]]:
        """(name, parent id) of the folder and of each folder above it, the root first, in one statement."""
        rows = await self.transaction.all(
            "WITH RECURSIVE chain(id, parent_id, display_name, depth) AS ("
            " SELECT id, parent_id, display_name, 0 FROM storage_folders WHERE id = :id"
            " UNION ALL SELECT f.id, f.parent_id, f.display_name, c.depth + 1 FROM storage_folders f"
            f" JOIN chain c ON f.id = c.parent_id WHERE c.depth < {MAX_FOLDER_DEPTH})"
            " SELECT display_name, parent_id FROM chain ORDER BY depth DESC",
            {"id": folder_id},
        )
        return [(str(row[0]), row[1]) for row in rows]

    async def blob_keys_in_subtree(self, folder_id: str) -> list[str]:
        """The blobs (content and pending content) of every file in the folder and in the folders below it."""
        rows = await self.transaction.all(
            f"{_SUBTREE} SELECT blob_key, pending_blob_key FROM storage_files"
            " WHERE folder_id IN (SELECT id FROM tree)",
            {"folder_id": folder_id},
        )
        return [key for row in rows for key in row if key is not None]

    async def blob_keys_of_itwin(self, itwin_id: str) -> list[str]:
        rows = await self.transaction.all(
            "SELECT blob_key, pending_blob_key FROM storage_files WHERE itwin_id = :itwin_id",
            {"itwin_id": itwin_id},
        )
        return [key for row in rows for key in row if key is not None]

    async def delete_itwin_storage(self, itwin_id: str) -> None:
        """Deletes every file and folder of the iTwin."""
        await self.transaction.execute(
            "DELETE FROM storage_files WHERE itwin_id = :itwin_id", {"itwin_id": itwin_id}
        )
        await self.transaction.execute(
            "DELETE FROM storage_folders WHERE itwin_id = :itwin_id", {"itwin_id": itwin_id}
        )

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

    async def get_file_by_upload_token_hash(self, file_id: str, token_hash: str) -> StorageFile | None:
        row = await self.transaction.one(
            f"SELECT {FILES.select()} FROM storage_files WHERE id = :id AND upload_token_hash = :token_hash",
            {"id": file_id, "token_hash": token_hash},
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
