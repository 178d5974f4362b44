from __future__ import annotations

import pytest

from twinbridge.auth.scopes import Access, ScopeRequirement, parse_scopes

EXPORT_READ = ScopeRequirement("export", Access.READ)
EXPORT_MODIFY = ScopeRequirement("export", Access.MODIFY)
SUPPORTING_READ = ScopeRequirement(None, Access.READ)


@pytest.mark.parametrize(
    ("scopes", "requirement", "met"),
    [
        ("itwin-platform", EXPORT_MODIFY, True),
        ("export:read", EXPORT_READ, True),
        ("export:read", EXPORT_MODIFY, False),
        ("synchronization:modify", EXPORT_MODIFY, False),
        ("synchronization:read", SUPPORTING_READ, True),
        ("synchronization:read", ScopeRequirement(None, Access.MODIFY), False),
        ("export:modify", ScopeRequirement(None, Access.MODIFY), True),
        ("openid profile", SUPPORTING_READ, False),
    ],
)
def test_platform_scope_grants_all_and_granular_scopes_grant_their_own(
    scopes: str, requirement: ScopeRequirement, met: bool
) -> None:
    assert requirement.is_met_by(parse_scopes(scopes)) is met


def test_scope_claim_may_be_a_string_or_a_list() -> None:
    assert parse_scopes("a b") == parse_scopes(["a", "b"]) == frozenset({"a", "b"})
    assert parse_scopes(None) == frozenset()
