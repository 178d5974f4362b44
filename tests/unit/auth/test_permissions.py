from __future__ import annotations

import pytest

from twinbridge.auth.permissions import Action, Role, authorize, is_allowed
from twinbridge.platform.errors import InsufficientPermissions


@pytest.mark.parametrize(
    ("role", "action", "allowed"),
    [
        (Role.READER, Action.READ, True),
        (Role.READER, Action.MODIFY, False),
        (Role.READER, Action.MANAGE_MEMBERS, False),
        (Role.CONTRIBUTOR, Action.READ, True),
        (Role.CONTRIBUTOR, Action.MODIFY, True),
        (Role.CONTRIBUTOR, Action.MANAGE_MEMBERS, False),
        (Role.OWNER, Action.MODIFY, True),
        (Role.OWNER, Action.MANAGE_MEMBERS, True),
        (None, Action.READ, False),
    ],
)
def test_roles_grant_exactly_the_documented_actions(role: Role | None, action: Action, allowed: bool) -> None:
    assert is_allowed(role, action) is allowed


def test_non_member_is_refused_with_insufficient_permissions() -> None:
    with pytest.raises(InsufficientPermissions) as raised:
        authorize(None, Action.READ)
    assert raised.value.body() == {
        "error": {
            "code": "InsufficientPermissions",
            "message": "The user has insufficient permissions for the requested operation.",
        }
    }
