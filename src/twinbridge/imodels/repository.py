"""All SQL of iModels, their versions (changesets), named versions and upload blocks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from twinbridge.db.database import Transaction
from twinbridge.db.models import IModel, IModelUploadBlock, IModelVersion, NamedVersion
from twinbridge.db.tables import Table
from twinbridge.itwins.repository import role_of_subject

IMODELS = Table("imodels", IModel)
VERSIONS = Table("imodel_versions", IModelVersion)
NAMED_VERSIONS = Table("named_versions", NamedVersion)
UPLOAD_BLOCKS = Table("imodel_upload_blocks", IModelUploadBlock, key=("imodel_id", "block_key"))
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
# A version read as a changeset (alias `v`): its columns, the id of the changeset before it (NULL before the
# first) and the id of the named version on it (NULL when none).
_CHANGESETS = (
    f"SELECT {VERSIONS.select('v')},"
    " (SELECT p.changeset_id FROM imodel_versions p"
    " WHERE p.imodel_id = v.imodel_id AND p.changeset_index = v.changeset_index - 1),"
    " (SELECT n.id FROM named_versions n"
    " WHERE n.imodel_id = v.imodel_id AND n.changeset_index = v.changeset_index)"
    " FROM imodel_versions v"
)
# LIKE patterns are built with this escape character (the same on SQLite and PostgreSQL).
_ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """A case-insensitive LIKE pattern (compared with LOWER(column)) that matches `text` anywhere."""
    escaped = (
        text.lower().replace(_ESCAPE, _ESCAPE * 2).replace("%", _ESCAPE + "%").replace("_", _ESCAPE + "_")
    )
    return f"%{escaped}%"


@dataclass(frozen=True)
class SortKey:
    """One key of an ORDER BY: a column expression the repository knows, and its direction."""

    column: str
    descending: bool = False

    def sql(self) -> str:
        return f"{self.column} {'DESC' if self.descending else 'ASC'}"


@dataclass(frozen=True)
class IModelFilter:
    itwin_id: str
    name: str | None = None
    search: str | None = None
    state: str | None = None
    order: Sequence[SortKey] = ()


@dataclass(frozen=True)
class ChangesetFilter:
    after_index: int | None = None
    last_index: int | None = None
    descending: bool = False


@dataclass(frozen=True)
class NamedVersionFilter:
    name: str | None = None
    search: str | None = None
    state: str | None = None
    order: Sequence[SortKey] = ()


# The sort columns the list filters may name (their API names are mapped in imodels/queries.py).
IMODEL_SORT_COLUMNS = {"name": "LOWER(t.name)", "createdDateTime": "t.created_at"}
NAMED_VERSION_SORT_COLUMNS = {"changesetIndex": "n.changeset_index", "createdDateTime": "n.created_at"}


def _order_by(order: Sequence[SortKey], tie_breakers: str) -> str:
    return ", ".join([*(key.sql() for key in order), tie_breakers])


def _name_state_search(
    alias: str, name: str | None, state: str | None, search: str | None, parameters: dict[str, object]
) -> list[str]:
    """The filters iModels and named versions share: exact name, state, and text in name or description."""
    conditions = []
    if name is not None:
        conditions.append(f"{alias}.name = :name")
        parameters["name"] = name
    if state is not None:
        conditions.append(f"{alias}.state = :state")
        parameters["state"] = state
    if search:
        conditions.append(
            f"(LOWER({alias}.name) LIKE :search ESCAPE '{_ESCAPE}'"
            f" OR LOWER(COALESCE({alias}.description, '')) LIKE :search ESCAPE '{_ESCAPE}')"
        )
        parameters["search"] = contains_pattern(search)
    return conditions


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
        row = await self.transaction.one(_GET, {"id": imodel_id})
        return IMODELS.row(row) if row else None

    async def get_with_role(self, imodel_id: str, subject: str) -> tuple[IModel, str | None] | None:
        """The iModel and the role of `subject` on its iTwin."""
        row = await self.transaction.one(_WITH_ROLE, {"id": imodel_id, "subject": subject})
        return (IMODELS.row(row[:-1]), row[-1]) if row else None

    async def role_on(self, imodel_id: str, subject: str) -> tuple[bool, str | None]:
        """Whether the iModel exists, and the role of `subject` on its iTwin: all a listing needs."""
        row = await self.transaction.one(_ROLE, {"id": imodel_id, "subject": subject})
        return (True, row[0]) if row else (False, None)

    async def get_by_upload_token_hash(self, imodel_id: str, token_hash: str) -> IModel | None:
        row = await self.transaction.one(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE t.id = :id AND t.baseline_upload_token_hash = :token_hash",
            {"id": imodel_id, "token_hash": token_hash},
        )
        return IMODELS.row(row) if row else None

    async def name_taken(self, itwin_id: str, name: str, other_than: str | None = None) -> bool:
        found = await self.transaction.value(
            "SELECT 1 FROM imodels WHERE itwin_id = :itwin_id AND name = :name AND id <> :other_than",
            {"itwin_id": itwin_id, "name": name, "other_than": other_than or ""},
        )
        return found is not None

    async def list_in_itwin(
        self, itwin_id: str, offset: int, limit: int, where: IModelFilter | None = None
    ) -> list[IModel]:
        where = where or IModelFilter(itwin_id)
        conditions = ["t.itwin_id = :itwin_id"]
        parameters: dict[str, object] = {"itwin_id": itwin_id, "limit": limit, "offset": offset}
        conditions += _name_state_search("t", where.name, where.state, where.search, parameters)
        order = _order_by(where.order, "t.created_at, t.id")
        rows = await self.transaction.all(
            f"SELECT {_COLUMNS} FROM {_FROM} WHERE {' AND '.join(conditions)}"
            f" ORDER BY {order} LIMIT :limit OFFSET :offset",
            parameters,
        )
        return IMODELS.rows(rows)

    # ---- versions

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

    async def version_at(self, imodel_id: str, changeset_index: int) -> IModelVersion | None:
        """The version with that index (0 is the baseline), as a changeset."""
        row = await self.transaction.one(
            f"{_CHANGESETS} WHERE v.imodel_id = :imodel_id AND v.changeset_index = :changeset_index",
            {"imodel_id": imodel_id, "changeset_index": changeset_index},
        )
        return VERSIONS.row(row) if row else None

    async def version_with_changeset_id(self, imodel_id: str, changeset_id: str) -> IModelVersion | None:
        row = await self.transaction.one(
            f"{_CHANGESETS} WHERE v.imodel_id = :imodel_id AND v.changeset_id = :changeset_id"
            " ORDER BY v.changeset_index LIMIT 1",
            {"imodel_id": imodel_id, "changeset_id": changeset_id},
        )
        return VERSIONS.row(row) if row else None

    async def list_versions(self, imodel_id: str, offset: int, limit: int) -> list[IModelVersion]:
        rows = await self.transaction.all(
            f"SELECT {VERSIONS.select()} FROM imodel_versions WHERE imodel_id = :imodel_id"
            " ORDER BY changeset_index LIMIT :limit OFFSET :offset",
            {"imodel_id": imodel_id, "limit": limit, "offset": offset},
        )
        return VERSIONS.rows(rows)

    async def list_changesets(
        self, imodel_id: str, offset: int, limit: int, where: ChangesetFilter | None = None
    ) -> list[IModelVersion]:
        """Versions after the baseline (index 1 and on), as the iModels API lists changesets."""
        where = where or ChangesetFilter()
        conditions = ["v.imodel_id = :imodel_id", "v.changeset_index > :after_index"]
        parameters: dict[str, object] = {
            "imodel_id": imodel_id,
            "after_index": max(where.after_index or 0, 0),
            "limit": limit,
            "offset": offset,
        }
        if where.last_index is not None:
            conditions.append("v.changeset_index <= :last_index")
            parameters["last_index"] = where.last_index
        rows = await self.transaction.all(
            f"{_CHANGESETS} WHERE {' AND '.join(conditions)}"
            f" ORDER BY v.changeset_index {'DESC' if where.descending else 'ASC'}"
            " LIMIT :limit OFFSET :offset",
            parameters,
        )
        return VERSIONS.rows(rows)

    async def all_versions(self, imodel_id: str) -> list[IModelVersion]:
        rows = await self.transaction.all(
            f"SELECT {VERSIONS.select()} FROM imodel_versions WHERE imodel_id = :imodel_id"
            " ORDER BY changeset_index",
            {"imodel_id": imodel_id},
        )
        return VERSIONS.rows(rows)

    # ---- upload blocks

    async def add_upload_block(self, block: IModelUploadBlock) -> None:
        """Records a block; putting the same block again replaces it (its blob is overwritten)."""
        await self.transaction.execute(UPLOAD_BLOCKS.upsert_sql, UPLOAD_BLOCKS.values(block))

    async def upload_blocks(self, imodel_id: str) -> list[IModelUploadBlock]:
        rows = await self.transaction.all(
            f"SELECT {UPLOAD_BLOCKS.select()} FROM imodel_upload_blocks WHERE imodel_id = :imodel_id",
            {"imodel_id": imodel_id},
        )
        return UPLOAD_BLOCKS.rows(rows)

    async def forget_upload_blocks(self, imodel_id: str) -> None:
        await self.transaction.execute(
            "DELETE FROM imodel_upload_blocks WHERE imodel_id = :imodel_id", {"imodel_id": imodel_id}
        )

    async def delete(self, imodel: IModel) -> None:
        parameters = {"id": imodel.id}
        await self.transaction.execute("DELETE FROM imodel_upload_blocks WHERE imodel_id = :id", parameters)
        await self.transaction.execute("DELETE FROM named_versions WHERE imodel_id = :id", parameters)
        await self.transaction.execute("DELETE FROM imodel_versions WHERE imodel_id = :id", parameters)
        await self.transaction.execute(IMODELS.delete_sql, parameters)


class NamedVersionRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add(self, named_version: NamedVersion) -> NamedVersion:
        await self.transaction.execute(NAMED_VERSIONS.insert_sql, NAMED_VERSIONS.values(named_version))
        return named_version

    async def update(self, named_version: NamedVersion) -> NamedVersion:
        await self.transaction.execute(NAMED_VERSIONS.update_sql, NAMED_VERSIONS.values(named_version))
        return named_version

    async def get(self, imodel_id: str, named_version_id: str) -> NamedVersion | None:
        row = await self.transaction.one(
            f"SELECT {NAMED_VERSIONS.select()} FROM named_versions WHERE id = :id AND imodel_id = :imodel_id",
            {"id": named_version_id, "imodel_id": imodel_id},
        )
        return NAMED_VERSIONS.row(row) if row else None

    async def name_taken(self, imodel_id: str, name: str, other_than: str | None = None) -> bool:
        found = await self.transaction.value(
            "SELECT 1 FROM named_versions"
            " WHERE imodel_id = :imodel_id AND name = :name AND id <> :other_than",
            {"imodel_id": imodel_id, "name": name, "other_than": other_than or ""},
        )
        return found is not None

    async def on_changeset(self, imodel_id: str, changeset_index: int) -> NamedVersion | None:
        row = await self.transaction.one(
            f"SELECT {NAMED_VERSIONS.select()} FROM named_versions"
            " WHERE imodel_id = :imodel_id AND changeset_index = :changeset_index",
            {"imodel_id": imodel_id, "changeset_index": changeset_index},
        )
        return NAMED_VERSIONS.row(row) if row else None

    async def list(
        self, imodel_id: str, offset: int, limit: int, where: NamedVersionFilter | None = None
    ) -> list[NamedVersion]:
        where = where or NamedVersionFilter()
        conditions = ["n.imodel_id = :imodel_id"]
        parameters: dict[str, object] = {"imodel_id": imodel_id, "limit": limit, "offset": offset}
        conditions += _name_state_search("n", where.name, where.state, where.search, parameters)
        order = _order_by(where.order, "n.changeset_index, n.id")
        rows = await self.transaction.all(
            f"SELECT {NAMED_VERSIONS.select('n')} FROM named_versions n WHERE {' AND '.join(conditions)}"
            f" ORDER BY {order} LIMIT :limit OFFSET :offset",
            parameters,
        )
        return NAMED_VERSIONS.rows(rows)
