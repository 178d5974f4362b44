"""The permission rules of ARCHITECTURE.md section 1, in one place.

Members of an iTwin have a role. Reader may read; Contributor and Owner may also create, update, delete and
run; only an Owner manages members. A caller who is not a member gets 403 for a resource that exists.
"""

from __future__ import annotations

from enum import StrEnum

from twinbridge.platform.errors import InsufficientPermissions


class Role(StrEnum):
    OWNER = "Owner"
    CONTRIBUTOR = "Contributor"
    READER = "Reader"


class Action(StrEnum):
    READ = "read"
    MODIFY = "modify"  # create, update, delete, run
    MANAGE_MEMBERS = "manage_members"


ALLOWED_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.OWNER: frozenset({Action.READ, Action.MODIFY, Action.MANAGE_MEMBERS}),
    Role.CONTRIBUTOR: frozenset({Action.READ, Action.MODIFY}),
    Role.READER: frozenset({Action.READ}),
}


def is_allowed(role: Role | str | None, action: Action) -> bool:
    if role is None:
        return False
    return action in ALLOWED_ACTIONS.get(Role(role), frozenset())


def authorize(role: Role | str | None, action: Action) -> None:
    if not is_allowed(role, action):
        raise InsufficientPermissions()
