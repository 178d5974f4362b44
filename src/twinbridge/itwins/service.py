"""The rules of iTwins and membership. Callers are subjects: user names or client ids."""

from __future__ import annotations

from twinbridge.auth.permissions import Action, Role, authorize
from twinbridge.db.database import Transaction
from twinbridge.db.models import ITwin, ITwinMember
from twinbridge.itwins.repository import ITwinRepository
from twinbridge.platform.errors import Conflict, NotFound
from twinbridge.platform.ids import new_guid
from twinbridge.platform.paging import Page


class ITwinNotFound(NotFound):
    default_code = "iTwinNotFound"
    default_message = "Requested iTwin is not available."


class MemberNotFound(NotFound):
    default_code = "MemberNotFound"
    default_message = "Requested member is not available."


class LastOwner(Conflict):
    default_code = "LastOwner"
    default_message = "An iTwin must keep at least one Owner."


class ITwinService:
    def __init__(self, transaction: Transaction) -> None:
        self.repository = ITwinRepository(transaction)

    async def create(
        self, display_name: str, owner: str | None, number: str | None = None, sub_class: str = "Project"
    ) -> ITwin:
        """Creates an iTwin; `owner` (usually the caller) becomes its first Owner."""
        itwin = await self.repository.add(
            ITwin(
                id=new_guid(), display_name=display_name, number=number, sub_class=sub_class, created_by=owner
            )
        )
        if owner:
            await self.repository.add_member(ITwinMember(itwin_id=itwin.id, subject=owner, role=Role.OWNER))
        return itwin

    async def authorized(self, itwin_id: str, subject: str, action: Action) -> ITwin:
        """The iTwin if it exists (404 otherwise) and `subject` may do `action` on it (403 otherwise)."""
        found = await self.repository.get_with_role(itwin_id, subject)
        if found is None:
            raise ITwinNotFound()
        itwin, role = found
        authorize(role, action)
        return itwin

    async def authorize(self, itwin_id: str, subject: str, action: Action) -> None:
        """Like `authorized` without loading the iTwin: a member's role proves that the iTwin exists."""
        role = await self.repository.role_of(itwin_id, subject)
        if role is None and await self.repository.get(itwin_id) is None:
            raise ITwinNotFound()
        authorize(role, action)

    async def require(self, itwin_id: str) -> ITwin:
        itwin = await self.repository.get(itwin_id)
        if itwin is None:
            raise ITwinNotFound()
        return itwin

    async def list_for(self, subject: str, page: Page) -> list[ITwin]:
        return await self.repository.list_for_subject(subject, page.skip, page.fetch_limit)

    async def set_member(self, itwin_id: str, subject: str, role: Role) -> ITwinMember:
        """Adds a member or changes its role; the last Owner cannot be demoted."""
        existing = await self.repository.get_member(itwin_id, subject)
        if existing is not None:
            if existing.role == Role.OWNER and role != Role.OWNER:
                await self._keep_an_owner(itwin_id)
            existing.role = role
            return await self.repository.update_member(existing)
        return await self.repository.add_member(ITwinMember(itwin_id=itwin_id, subject=subject, role=role))

    async def remove_member(self, itwin_id: str, subject: str) -> None:
        member = await self.repository.get_member(itwin_id, subject)
        if member is None:
            raise MemberNotFound()
        if member.role == Role.OWNER:
            await self._keep_an_owner(itwin_id)
        await self.repository.delete_member(member)

    async def list_members(self, itwin_id: str, page: Page) -> list[ITwinMember]:
        return await self.repository.list_members(itwin_id, page.skip, page.fetch_limit)

    async def _keep_an_owner(self, itwin_id: str) -> None:
        if await self.repository.count_owners(itwin_id) <= 1:
            raise LastOwner()
