"""All SQL of iTwins, their members, and each caller's favorite and recent iTwins."""

from __future__ import annotations

from typing import Any, Literal

from twinbridge.db.database import Transaction
from twinbridge.db.models import ITwin, ITwinFavorite, ITwinMember, ITwinRecent
from twinbridge.db.tables import Table
from twinbridge.itwins.schemas import ITwinFilter

ITWINS = Table("itwins", ITwin)
MEMBERS = Table("itwin_members", ITwinMember, key=("itwin_id", "subject"))
FAVORITES = Table("itwin_favorites", ITwinFavorite, key=("subject", "itwin_id"))
RECENTS = Table("itwin_recents", ITwinRecent, key=("subject", "itwin_id"))
# Upstream keeps a user's 25 most recently used iTwins.
RECENTS_KEPT = 25
# Deeper than any real hierarchy; bounds the walk up the parents should the data ever hold a cycle.
MAX_HIERARCHY_DEPTH = 100

ListKind = Literal["member", "favorites", "recents"]


def role_of_subject(alias: str) -> str:
    """A column: the role of `:subject` on the iTwin of the row `alias` (NULL when not a member), so that
    a resource and its caller's access come in one statement."""
    return f"(SELECT role FROM itwin_members m WHERE m.itwin_id = {alias}.itwin_id AND m.subject = :subject)"


_ITWIN_WITH_ROLE = (
    f"SELECT {ITWINS.select('i')}, (SELECT role FROM itwin_members m WHERE m.itwin_id = i.id"
    " AND m.subject = :subject) FROM itwins i WHERE i.id = :id"
)

# Which iTwins a list shows (those the caller is a member of, joined with its favorites or recents), and
# in which order: creation for the member and favorite lists, most recently used first for recents.
_LIST_JOINS: dict[ListKind, tuple[str, str]] = {
    "member": ("", "i.created_at, i.id"),
    "favorites": (
        " JOIN itwin_favorites f ON f.itwin_id = i.id AND f.subject = :subject",
        "i.created_at, i.id",
    ),
    "recents": (
        " JOIN itwin_recents r ON r.itwin_id = i.id AND r.subject = :subject",
        "r.used_at DESC, i.id",
    ),
}


def with_role_sql(table: Table[Any], columns: str | None = None) -> str:
    """A whole row of `table` (alias `t`) by id, with the role of `:subject` on its iTwin as the last column;
    `columns` replaces the table's columns when a read adds computed ones."""
    return (
        f"SELECT {columns or table.select('t')}, {role_of_subject('t')} FROM {table.name} t WHERE t.id = :id"
    )


def _like_pattern(text: str) -> str:
    """`%text%` for LIKE … ESCAPE '\\', with LIKE's own characters in `text` taken literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _filter_sql(query: ITwinFilter) -> tuple[str, dict[str, Any]]:
    """The WHERE conditions (each starting with AND) of a filter, and their parameters."""
    conditions: list[str] = []
    parameters: dict[str, Any] = {}

    def any_of(column: str, name: str, values: tuple[str, ...]) -> None:
        names = [f"{name}_{index}" for index in range(len(values))]
        conditions.append(f"{column} IN ({', '.join(':' + item for item in names)})")
        parameters.update(zip(names, values, strict=True))

    if query.sub_classes is not None:
        any_of("i.sub_class", "sub_class", query.sub_classes)
    if query.statuses is not None:
        any_of("i.status", "status", query.statuses)
    for column, value in (
        ("itwin_type", query.itwin_type),
        ("display_name", query.display_name),
        ("number", query.number),
        ("parent_id", query.parent_id),
        ("itwin_account_id", query.itwin_account_id),
    ):
        if value is not None:
            conditions.append(f"i.{column} = :{column}")
            parameters[column] = value
    if query.search is not None:
        conditions.append(
            "(lower(i.display_name) LIKE :search ESCAPE '\\' OR lower(i.number) LIKE :search ESCAPE '\\')"
        )
        parameters["search"] = _like_pattern(query.search)
    return "".join(f" AND {condition}" for condition in conditions), parameters


class ITwinRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add(self, itwin: ITwin) -> ITwin:
        await self.transaction.execute(ITWINS.insert_sql, ITWINS.values(itwin))
        return itwin

    async def update(self, itwin: ITwin) -> ITwin:
        await self.transaction.execute(ITWINS.update_sql, ITWINS.values(itwin))
        return itwin

    async def delete(self, itwin_id: str) -> None:
        """Deletes the iTwin; its members, favorites and recents go with it (ON DELETE CASCADE)."""
        await self.transaction.execute(ITWINS.delete_sql, {"id": itwin_id})

    async def get(self, itwin_id: str) -> ITwin | None:
        row = await self.transaction.one(ITWINS.get_sql, {"id": itwin_id})
        return ITWINS.row(row) if row else None

    async def get_with_role(self, itwin_id: str, subject: str) -> tuple[ITwin, str | None] | None:
        """The iTwin and the role of `subject` on it."""
        row = await self.transaction.one(_ITWIN_WITH_ROLE, {"id": itwin_id, "subject": subject})
        return (ITWINS.row(row[:-1]), row[-1]) if row else None

    async def list_for_subject(
        self,
        subject: str,
        offset: int,
        limit: int,
        query: ITwinFilter | None = None,
        kind: ListKind = "member",
    ) -> list[ITwin]:
        """A page of the iTwins `subject` is a member of (its favorites, its recents) that pass `query`."""
        join, order = _LIST_JOINS[kind]
        conditions, parameters = _filter_sql(query) if query is not None else ("", {})
        rows = await self.transaction.all(
            f"SELECT {ITWINS.select('i')} FROM itwins i"
            f" JOIN itwin_members m ON m.itwin_id = i.id AND m.subject = :subject{join}"
            f" WHERE 1 = 1{conditions} ORDER BY {order} LIMIT :limit OFFSET :offset",
            {**parameters, "subject": subject, "limit": limit, "offset": offset},
        )
        return ITWINS.rows(rows)

    async def number_taken(self, sub_class: str, number: str, other_than: str | None = None) -> bool:
        """Whether another iTwin of `sub_class` has `number` (upstream: a number is unique per subClass)."""
        found = await self.transaction.value(
            "SELECT id FROM itwins WHERE sub_class = :sub_class AND number = :number AND id <> :other_than",
            {"sub_class": sub_class, "number": number, "other_than": other_than or ""},
        )
        return found is not None

    async def ancestor_ids(self, itwin_id: str) -> list[str]:
        """`itwin_id` and the ids of its parent, grandparent, …, in one statement."""
        rows = await self.transaction.all(
            "WITH RECURSIVE chain(id, parent_id, depth) AS ("
            " SELECT id, parent_id, 0 FROM itwins WHERE id = :id"
            " UNION ALL SELECT i.id, i.parent_id, c.depth + 1 FROM itwins i"
            f" JOIN chain c ON i.id = c.parent_id WHERE c.depth < {MAX_HIERARCHY_DEPTH})"
            " SELECT id FROM chain ORDER BY depth",
            {"id": itwin_id},
        )
        return [str(row[0]) for row in rows]

    async def has_children(self, itwin_id: str) -> bool:
        found = await self.transaction.value(
            "SELECT id FROM itwins WHERE parent_id = :id LIMIT 1", {"id": itwin_id}
        )
        return found is not None

    async def has_imodels(self, itwin_id: str) -> bool:
        """Whether iModels belong to the iTwin (read here: the iModels feature builds on this one)."""
        found = await self.transaction.value(
            "SELECT id FROM imodels WHERE itwin_id = :id LIMIT 1", {"id": itwin_id}
        )
        return found is not None

    async def add_favorite(self, favorite: ITwinFavorite) -> None:
        """Adds a favorite; adding one twice changes nothing."""
        await self.transaction.execute(
            f"{FAVORITES.insert_sql} ON CONFLICT (subject, itwin_id) DO NOTHING", FAVORITES.values(favorite)
        )

    async def remove_favorite(self, subject: str, itwin_id: str) -> None:
        await self.transaction.execute(FAVORITES.delete_sql, FAVORITES.key_values(subject, itwin_id))

    async def touch_recent(self, recent: ITwinRecent) -> None:
        """Marks the iTwin as used now, and forgets the subject's recents beyond the newest RECENTS_KEPT."""
        await self.transaction.execute(RECENTS.upsert_sql, RECENTS.values(recent))
        await self.transaction.execute(
            "DELETE FROM itwin_recents WHERE subject = :subject AND itwin_id NOT IN ("
            " SELECT itwin_id FROM itwin_recents WHERE subject = :subject"
            " ORDER BY used_at DESC, itwin_id LIMIT :kept)",
            {"subject": recent.subject, "kept": RECENTS_KEPT},
        )

    async def role_of(self, itwin_id: str, subject: str) -> str | None:
        role: str | None = await self.transaction.value(
            "SELECT role FROM itwin_members WHERE itwin_id = :itwin_id AND subject = :subject",
            {"itwin_id": itwin_id, "subject": subject},
        )
        return role

    async def get_member(self, itwin_id: str, subject: str) -> ITwinMember | None:
        row = await self.transaction.one(MEMBERS.get_sql, MEMBERS.key_values(itwin_id, subject))
        return MEMBERS.row(row) if row else None

    async def add_member(self, member: ITwinMember) -> ITwinMember:
        await self.transaction.execute(MEMBERS.insert_sql, MEMBERS.values(member))
        return member

    async def update_member(self, member: ITwinMember) -> ITwinMember:
        await self.transaction.execute(MEMBERS.update_sql, MEMBERS.values(member))
        return member

    async def delete_member(self, member: ITwinMember) -> None:
        await self.transaction.execute(
            MEMBERS.delete_sql, MEMBERS.key_values(member.itwin_id, member.subject)
        )

    async def list_members(self, itwin_id: str, offset: int, limit: int) -> list[ITwinMember]:
        rows = await self.transaction.all(
            f"SELECT {MEMBERS.select()} FROM itwin_members WHERE itwin_id = :itwin_id"
            " ORDER BY created_at, subject LIMIT :limit OFFSET :offset",
            {"itwin_id": itwin_id, "limit": limit, "offset": offset},
        )
        return MEMBERS.rows(rows)

    async def count_owners(self, itwin_id: str) -> int:
        count = await self.transaction.value(
            "SELECT count(*) FROM itwin_members WHERE itwin_id = :itwin_id AND role = 'Owner'",
            {"itwin_id": itwin_id},
        )
        return int(count or 0)
