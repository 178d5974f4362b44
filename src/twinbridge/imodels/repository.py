"""All SQL of iModels and their versions."""

from __future__ import annotations

from twinbridge.db.database import Transaction
from twinbridge.db.models import IModel, IModelVersion
from twinbridge.db.tables import Table
from twinbridge.itwins.repository import role_of_subject

IMODELS = Table("imodels", IModel)
VERSIONS = Table("imodel_versions", IModelVersion)
# Every read of an iModel (alias `t`) comes with the time of its newest changeset: the newest version
# after the baseline (index 0), joined so that the column keeps its declared type.
_COLUMNS = f"{IMODELS.select('t')}, v.created_at"
_FROM = (
    "imodels t LEFT JOIN imodel_versions v ON v.imodel_id = t.id AND v.changeset_index > 0"
    " AND v.changeset_index = (SELECT MAX(changeset_index) FROM imodel_versions WHERE imodel_id = t.id)"
)
_GET = f"SELECT {_COLUMNS} FROM {_FROM} WHERE t.id = :id"
_ROLE = f"SELECT {role_of_subject('t')} FROM imodels t WHERE t.id = :id"
_WITH_ROLE = f"SELECT {_COLUMNS}, {role_of_subject('t')} FROM {_FROM} WHERE t.id = :id"
# Inserted without an id: the database numbers versions.
_VERSION_COLUMNS = [column for column in VERSIONS.columns if column != "id"]
_INSERT_VERSION = (
    f"INSERT INTO imodel_versions ({', '.join(_VERSION_COLUMNS)})"
    f" VALUES ({', '.join(':' + column for column in _VERSION_COLUMNS)}) RETURNING id"
)


class IModelRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add(self, imodel: IModel) -> IModel:
        await self.transaction.execute(IMODELS.insert_sql, IMODELS.values(imodel))
        return imodel

    async def update(self, imodel: IModel) -> IModel:
        await self.transaction.execute(IMODELS.update_sql, IMODELS.values(imodel))
        return imodel

    async def get(self, imodel_id: str) -> IModel | None:
        row = await self.transaction.one(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE t.id = :id", {"id": imodel_id}
        )
        return IMODELS.row(row) if row else None

    async def get_with_role(self, imodel_id: str, subject: str) -> tuple[IModel, str | None] | None:
        """The iModel and the role of `subject` on its iTwin."""
        row = await self.transaction.one(_WITH_ROLE, {"id": imodel_id, "subject": subject})
        return (IMODELS.row(row[:-1]), row[-1]) if row else None

    async def role_on(self, imodel_id: str, subject: str) -> tuple[bool, str | None]:
        """Whether the iModel exists, and the role of `subject` on its iTwin: all a listing needs."""
        row = await self.transaction.one(_ROLE, {"id": imodel_id, "subject": subject})
        return (True, row[0]) if row else (False, None)

    async def get_by_upload_token(self, imodel_id: str, token: str) -> IModel | None:
        row = await self.transaction.one(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE t.id = :id AND t.baseline_upload_token = :token",
            {"id": imodel_id, "token": token},
        )
        return IMODELS.row(row) if row else None

    async def name_taken(self, itwin_id: str, name: str) -> bool:
        found = await self.transaction.value(
            "SELECT 1 FROM imodels WHERE itwin_id = :itwin_id AND name = :name",
            {"itwin_id": itwin_id, "name": name},
        )
        return found is not None

    async def list_in_itwin(self, itwin_id: str, offset: int, limit: int) -> list[IModel]:
        rows = await self.transaction.all(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE t.itwin_id = :itwin_id"
            " ORDER BY t.created_at, t.id LIMIT :limit OFFSET :offset",
            {"itwin_id": itwin_id, "limit": limit, "offset": offset},
        )
        return IMODELS.rows(rows)

    async def add_version(self, version: IModelVersion) -> IModelVersion:
        values = VERSIONS.values(version)
        del values["id"]
        version.id = await self.transaction.value(_INSERT_VERSION, values)
        return version

    async def latest_version(self, imodel_id: str) -> IModelVersion | None:
        row = await self.transaction.one(
            f"SELECT {VERSIONS.select()} FROM imodel_versions WHERE imodel_id = :imodel_id"
            " ORDER BY changeset_index DESC LIMIT 1",
            {"imodel_id": imodel_id},
        )
        return VERSIONS.row(row) if row else None

    async def list_versions(self, imodel_id: str, offset: int, limit: int) -> list[IModelVersion]:
        rows = await self.transaction.all(
            f"SELECT {VERSIONS.select()} FROM imodel_versions WHERE imodel_id = :imodel_id"
            " ORDER BY changeset_index LIMIT :limit OFFSET :offset",
            {"imodel_id": imodel_id, "limit": limit, "offset": offset},
        )
        return VERSIONS.rows(rows)

    async def all_versions(self, imodel_id: str) -> list[IModelVersion]:
        rows = await self.transaction.all(
            f"SELECT {VERSIONS.select()} FROM imodel_versions WHERE imodel_id = :imodel_id"
            " ORDER BY changeset_index",
            {"imodel_id": imodel_id},
        )
        return VERSIONS.rows(rows)

    async def delete(self, imodel: IModel) -> None:
        await self.transaction.execute("DELETE FROM imodel_versions WHERE imodel_id = :id", {"id": imodel.id})
        await self.transaction.execute(IMODELS.delete_sql, {"id": imodel.id})
