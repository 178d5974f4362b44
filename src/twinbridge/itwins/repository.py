"""All SQL of iTwins and their members."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from twinbridge.db.models import ITwin, ITwinMember


class ITwinRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, itwin: ITwin) -> ITwin:
        self.session.add(itwin)
        await self.session.flush()
        return itwin

    async def get(self, itwin_id: str) -> ITwin | None:
        return await self.session.get(ITwin, itwin_id)

    async def list_for_subject(self, subject: str, offset: int, limit: int) -> list[ITwin]:
        statement = (
            select(ITwin)
            .join(ITwinMember, ITwinMember.itwin_id == ITwin.id)
            .where(ITwinMember.subject == subject)
            .order_by(ITwin.created_at, ITwin.id)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def role_of(self, itwin_id: str, subject: str) -> str | None:
        statement = select(ITwinMember.role).where(
            ITwinMember.itwin_id == itwin_id, ITwinMember.subject == subject
        )
        return await self.session.scalar(statement)

    async def get_member(self, itwin_id: str, subject: str) -> ITwinMember | None:
        return await self.session.get(ITwinMember, (itwin_id, subject))

    async def save_member(self, member: ITwinMember) -> ITwinMember:
        member = await self.session.merge(member)
        await self.session.flush()
        return member

    async def delete_member(self, member: ITwinMember) -> None:
        await self.session.delete(member)
        await self.session.flush()

    async def list_members(self, itwin_id: str, offset: int, limit: int) -> list[ITwinMember]:
        statement = (
            select(ITwinMember)
            .where(ITwinMember.itwin_id == itwin_id)
            .order_by(ITwinMember.created_at, ITwinMember.subject)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def count_owners(self, itwin_id: str) -> int:
        statement = select(func.count()).where(ITwinMember.itwin_id == itwin_id, ITwinMember.role == "Owner")
        return int(await self.session.scalar(statement) or 0)
