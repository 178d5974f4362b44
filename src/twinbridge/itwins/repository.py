"""All SQL of iTwins and their members."""

from __future__ import annotations

from typing import Any

from twinbridge.db.database import Transaction
from twinbridge.db.models import ITwin, ITwinMember
from twinbridge.db.tables import Table

ITWINS = Table("itwins", ITwin)
MEMBERS = Table("itwin_members", ITwinMember, key=("itwin_id", "subject"))


def role_of_subject(alias: str) -> str:
    """A column: the role of `:subject` on the iTwin of the row `alias` (NULL when not a member), so that
    a resource and its caller's access come in one statement."""
    return f"(SELECT role FROM itwin_members m WHERE m.itwin_id = {alias}.itwin_id AND m.subject = :subject)"


_ITWIN_WITH_ROLE = (
    f"SELECT {ITWINS.select('i')}, (SELECT role FROM itwin_members m WHERE m.itwin_id = i.id"
    " AND m.subject = :subject) FROM itwins i WHERE i.id = :id"
)


def with_role_sql(table: Table[Any], columns: str | None = None) -> str:
    """A whole row of `table` (alias `t`) by id, with the role of `:subject` on its iTwin as the last column;
    `columns` replaces the table's columns when a read adds computed ones."""
    return (
        f"SELECT {columns or table.select('t')}, {role_of_subject('t')} FROM {table.name} t WHERE t.id = :id"
    )


class ITwinRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add(self, itwin: ITwin) -> ITwin:
        await self.transaction.execute(ITWINS.insert_sql, ITWINS.values(itwin))
        return itwin

    async def get(self, itwin_id: str) -> ITwin | None:
        row = await self.transaction.one(ITWINS.get_sql, {"id": itwin_id})
        return ITWINS.row(row) if row else None

    async def get_with_role(self, itwin_id: str, subject: str) -> tuple[ITwin, str | None] | None:
        """The iTwin and the role of `subject` on it."""
        row = await self.transaction.one(_ITWIN_WITH_ROLE, {"id": itwin_id, "subject": subject})
        return (ITWINS.row(row[:-1]), row[-1]) if row else None

    async def list_for_subject(self, subject: str, offset: int, limit: int) -> list[ITwin]:
        rows = await self.transaction.all(
            f"SELECT {ITWINS.select('i')} FROM itwins i"
            " JOIN itwin_members m ON m.itwin_id = i.id AND m.subject = :subject"
            " ORDER BY i.created_at, i.id LIMIT :limit OFFSET :offset",
            {"subject": subject, "limit": limit, "offset": offset},
        )
        return ITWINS.rows(rows)

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
