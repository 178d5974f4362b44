"""The rules of iTwins and membership. Callers are subjects: user names or client ids."""

from __future__ import annotations

from typing import Any, Protocol

from twinbridge.auth.permissions import Action, Role, authorize
from twinbridge.db.database import Transaction
from twinbridge.db.models import ITwin, ITwinFavorite, ITwinMember, ITwinRecent
from twinbridge.itwins.repository import ITwinRepository, ListKind
from twinbridge.itwins.schemas import (
    CLASS_OF_SUB_CLASS,
    DEFAULT_SUB_CLASS_OF_CLASS,
    ITwinCreate,
    ITwinFilter,
    ITwinUpdate,
)
from twinbridge.platform.errors import (
    Conflict,
    ErrorDetail,
    InsufficientPermissions,
    InvalidRequest,
    NotFound,
    invalid_value,
)
from twinbridge.platform.ids import new_guid
from twinbridge.platform.paging import Page
from twinbridge.platform.time import utc_now


class ITwinNotFound(NotFound):
    default_code = "iTwinNotFound"
    default_message = "Requested iTwin is not available."


class MemberNotFound(NotFound):
    default_code = "MemberNotFound"
    default_message = "Requested member is not available."


class LastOwner(Conflict):
    default_code = "LastOwner"
    default_message = "An iTwin must keep at least one Owner."


class ITwinExists(Conflict):
    """Upstream's 409 for a number already used by another iTwin of the same subClass."""

    default_code = "iTwinExists"
    default_message = "An iTwin with the same number already exists."


class ITwinNotEmpty(Conflict):
    default_code = "iTwinNotEmpty"
    default_message = "The iTwin still holds data that must be deleted first."


class NoAccounts(NotFound):
    """Account iTwins belong to organizations, which this server does not have."""

    default_message = "This server has no Account iTwins (there are no organizations)."


class ITwinContent(Protocol):
    """What else an iTwin holds that goes with it (its storage), deleted in the same transaction."""

    async def discard_itwin(self, itwin_id: str) -> None: ...


def _number_in_use() -> ITwinExists:
    return ITwinExists(
        details=[ErrorDetail("InvalidValue", "Another iTwin of this subClass has this number.", "number")]
    )


def _classification(itwin_class: str | None, sub_class: str | None) -> tuple[str, str]:
    """The (class, subClass) pair; the one left out follows from the other (Endeavor/Project for none)."""
    if itwin_class is None and sub_class is None:
        return "Endeavor", "Project"
    if itwin_class is None:
        assert sub_class is not None
        return CLASS_OF_SUB_CLASS[sub_class], sub_class
    if sub_class is None:
        return itwin_class, DEFAULT_SUB_CLASS_OF_CLASS[itwin_class]
    if CLASS_OF_SUB_CLASS[sub_class] != itwin_class:
        raise InvalidRequest(
            details=[
                invalid_value("subClass", f"subClass {sub_class} does not belong to class {itwin_class}.")
            ]
        )
    return itwin_class, sub_class


class ITwinService:
    def __init__(self, transaction: Transaction) -> None:
        self.repository = ITwinRepository(transaction)

    async def create(
        self, display_name: str, owner: str | None, number: str | None = None, sub_class: str = "Project"
    ) -> ITwin:
        """Creates an iTwin from a name (the CLI's way); `owner` becomes its first Owner."""
        body = ITwinCreate.model_validate(
            {"displayName": display_name, "number": number, "subClass": sub_class}
        )
        return await self.create_from(body, owner)

    async def create_from(self, body: ITwinCreate, owner: str | None) -> ITwin:
        """Creates an iTwin with every property of the request; `owner` (usually the caller) becomes its
        first Owner. A parent must be an iTwin the owner may change (upstream asks itwins_create on it)."""
        itwin_class, sub_class = _classification(body.itwin_class, body.sub_class)
        account_id = body.itwin_account_id
        if body.parent_id is not None:
            parent = await self._parent_for(body.parent_id, owner)
            account_id = account_id or parent.itwin_account_id
        itwin_id = new_guid()
        number = body.number or itwin_id
        if await self.repository.number_taken(sub_class, number):
            raise _number_in_use()
        now = utc_now()
        itwin = await self.repository.add(
            ITwin(
                id=itwin_id,
                display_name=body.display_name,
                number=number,
                itwin_class=itwin_class,
                sub_class=sub_class,
                status=body.status or "Active",
                created_by=owner,
                created_at=now,
                itwin_type=body.itwin_type,
                data_center_location=body.data_center_location or "East US",
                geographic_location=body.geographic_location,
                latitude=body.latitude,
                longitude=body.longitude,
                iana_time_zone=body.iana_time_zone,
                parent_id=body.parent_id,
                itwin_account_id=account_id,
                modified_at=now,
                modified_by=owner,
            )
        )
        if owner:
            await self.repository.add_member(ITwinMember(itwin_id=itwin.id, subject=owner, role=Role.OWNER))
            await self.repository.touch_recent(ITwinRecent(subject=owner, itwin_id=itwin.id, used_at=now))
        return itwin

    async def update(self, itwin_id: str, body: ITwinUpdate, caller: str) -> ITwin:
        """Changes the properties given in the body (Contributors and Owners, as upstream's itwins_modify)."""
        itwin = await self.authorized(itwin_id, caller, Action.MODIFY)
        changes: dict[str, Any] = body.changes()
        if "number" in changes and changes["number"] is None:
            changes["number"] = itwin.id
        if "itwin_class" in changes or "sub_class" in changes:
            changes["itwin_class"], changes["sub_class"] = _classification(
                changes.get("itwin_class", itwin.itwin_class), changes.get("sub_class", itwin.sub_class)
            )
        sub_class = changes.get("sub_class", itwin.sub_class)
        number = changes.get("number", itwin.number) or itwin.id
        if (sub_class, number) != (itwin.sub_class, itwin.number) and await self.repository.number_taken(
            sub_class, number, other_than=itwin.id
        ):
            raise _number_in_use()
        new_parent = changes.get("parent_id")
        if new_parent is not None and new_parent != itwin.parent_id:
            await self._parent_for(new_parent, caller)
            if itwin.id in await self.repository.ancestor_ids(new_parent):
                raise InvalidRequest(
                    details=[invalid_value("parentId", "An iTwin cannot be its own parent or ancestor.")]
                )
        for name, value in changes.items():
            setattr(itwin, name, value)
        now = utc_now()
        itwin.modified_at = now
        itwin.modified_by = caller
        await self.repository.update(itwin)
        await self.repository.touch_recent(ITwinRecent(subject=caller, itwin_id=itwin.id, used_at=now))
        return itwin

    async def delete(self, itwin_id: str, caller: str, content: ITwinContent) -> None:
        """Deletes an iTwin with its members and storage. Only Owners may (upstream: the iTwin Owner role).

        An iTwin that still has iModels or child iTwins is refused (409): deleting them is a decision of its
        own, and leaving them would orphan them.
        """
        found = await self.repository.get_with_role(itwin_id, caller)
        if found is None:
            raise ITwinNotFound()
        _, role = found
        if role != Role.OWNER:
            raise InsufficientPermissions()
        if await self.repository.has_imodels(itwin_id):
            raise ITwinNotEmpty("The iTwin has iModels; delete them first.")
        if await self.repository.has_children(itwin_id):
            raise ITwinNotEmpty("The iTwin has child iTwins; delete them or give them another parent first.")
        await content.discard_itwin(itwin_id)
        await self.repository.delete(itwin_id)

    async def _parent_for(self, parent_id: str, caller: str | None) -> ITwin:
        """The parent named in a body: 422 when it does not exist, 403 when `caller` may not change it."""
        found = await self.repository.get_with_role(parent_id, caller or "")
        if found is None:
            raise InvalidRequest(details=[invalid_value("parentId", "No iTwin has this id.")])
        parent, role = found
        if caller is not None:
            authorize(role, Action.MODIFY)
        return parent

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

    async def list_for(
        self, subject: str, page: Page, query: ITwinFilter | None = None, kind: ListKind = "member"
    ) -> list[ITwin]:
        """A page of the subject's iTwins (or its favorites or recents) that pass `query`, with one row more
        than the page when there is a next one. Past `query.max_return` iTwins the list ends, as upstream's
        X-Max-Return ends it."""
        limit = page.fetch_limit
        if query is not None:
            limit = min(limit, query.max_return - page.skip)
            if limit <= 0:
                return []
        return await self.repository.list_for_subject(subject, page.skip, limit, query, kind)

    async def add_favorite(self, itwin_id: str, subject: str) -> None:
        await self.authorized(itwin_id, subject, Action.READ)
        await self.repository.add_favorite(ITwinFavorite(subject=subject, itwin_id=itwin_id))

    async def remove_favorite(self, itwin_id: str, subject: str) -> None:
        """Removes a favorite; an iTwin that is not among the favorites is not an error (it is not there)."""
        await self.authorized(itwin_id, subject, Action.READ)
        await self.repository.remove_favorite(subject, itwin_id)

    async def add_recent(self, itwin_id: str, subject: str) -> None:
        await self.authorized(itwin_id, subject, Action.READ)
        await self.repository.touch_recent(ITwinRecent(subject=subject, itwin_id=itwin_id))

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
