from __future__ import annotations

from collections.abc import Callable

import httpx

Headers = Callable[..., dict[str, str]]


async def _create(client: httpx.AsyncClient, headers: dict[str, str], name: str = "Plant") -> str:
    response = await client.post("/itwins", json={"displayName": name}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["iTwin"]["id"])


async def test_created_itwin_has_the_itwins_api_shape_and_the_creator_as_owner(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.post(
        "/itwins", json={"displayName": "Plant", "number": "P-1"}, headers=auth_headers("alice")
    )
    itwin = response.json()["iTwin"]
    assert itwin["displayName"] == "Plant"
    assert (itwin["class"], itwin["subClass"], itwin["status"]) == ("Endeavor", "Project", "Active")
    assert itwin["createdDateTime"].endswith("Z")
    members = (await client.get(f"/itwins/{itwin['id']}/members", headers=auth_headers("alice"))).json()
    assert [(m["subject"], m["role"]) for m in members["members"]] == [("alice", "Owner")]


async def test_get_itwin_answers_404_for_unknown_and_403_for_non_members(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    itwin_id = await _create(client, auth_headers("alice"))
    assert (await client.get(f"/itwins/{itwin_id}", headers=auth_headers("alice"))).status_code == 200
    unknown = await client.get("/itwins/00000000-0000-0000-0000-000000000000", headers=auth_headers("alice"))
    assert unknown.status_code == 404
    assert unknown.json()["error"] == {
        "code": "iTwinNotFound",
        "message": "Requested iTwin is not available.",
    }
    stranger = await client.get(f"/itwins/{itwin_id}", headers=auth_headers("mallory"))
    assert stranger.status_code == 403
    assert stranger.json()["error"]["code"] == "InsufficientPermissions"


async def test_list_shows_only_the_callers_itwins_in_pages(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    for index in range(3):
        await _create(client, auth_headers("alice"), f"A{index}")
    await _create(client, auth_headers("bob"), "B")
    first = (await client.get("/itwins", params={"$top": 2}, headers=auth_headers("alice"))).json()
    assert [itwin["displayName"] for itwin in first["iTwins"]] == ["A0", "A1"]
    assert first["_links"]["next"]["href"] == "http://twinbridge.test/itwins?$skip=2&$top=2"
    second = (await client.get(first["_links"]["next"]["href"], headers=auth_headers("alice"))).json()
    assert [itwin["displayName"] for itwin in second["iTwins"]] == ["A2"]
    assert "next" not in second["_links"]


async def test_members_follow_role_rules(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    itwin_id = await _create(client, auth_headers("alice"))
    added = await client.post(
        f"/itwins/{itwin_id}/members",
        json={"subject": "bob", "role": "Contributor"},
        headers=auth_headers("alice"),
    )
    assert added.status_code == 201
    assert added.json()["member"]["role"] == "Contributor"
    # A Contributor may read but may not manage members.
    assert (await client.get(f"/itwins/{itwin_id}", headers=auth_headers("bob"))).status_code == 200
    refused = await client.post(
        f"/itwins/{itwin_id}/members",
        json={"subject": "carol", "role": "Reader"},
        headers=auth_headers("bob"),
    )
    assert refused.status_code == 403


async def test_invalid_role_is_a_422_naming_the_field(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    itwin_id = await _create(client, auth_headers("alice"))
    response = await client.post(
        f"/itwins/{itwin_id}/members", json={"subject": "bob", "role": "Admin"}, headers=auth_headers("alice")
    )
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["target"] == "role"


async def test_last_owner_cannot_leave(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    itwin_id = await _create(client, auth_headers("alice"))
    response = await client.delete(f"/itwins/{itwin_id}/members/alice", headers=auth_headers("alice"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "LastOwner"


async def test_removed_member_loses_access(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    itwin_id = await _create(client, auth_headers("alice"))
    await client.post(
        f"/itwins/{itwin_id}/members",
        json={"subject": "bob", "role": "Reader"},
        headers=auth_headers("alice"),
    )
    removed = await client.delete(f"/itwins/{itwin_id}/members/bob", headers=auth_headers("alice"))
    assert removed.status_code == 204
    assert (await client.get(f"/itwins/{itwin_id}", headers=auth_headers("bob"))).status_code == 403
