"""The iTwins API: iTwins with every upstream field, PATCH and DELETE, list filters, favorites, recents,
members."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from twinbridge.platform.time import utc_now
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]


async def _create(client: httpx.AsyncClient, headers: dict[str, str], name: str = "Plant") -> str:
    response = await client.post("/itwins", json={"displayName": name}, headers=headers)
    assert response.status_code == 201, response.text
    return str(response.json()["iTwin"]["id"])


async def _stored_file(
    client: httpx.AsyncClient, headers: dict[str, str], itwin_id: str, content: bytes
) -> str:
    """A complete file in the iTwin's root folder; its id."""
    root = await client.get("/storage/", params={"iTwinId": itwin_id}, headers=headers)
    folder_id = root.json()["_links"]["folder"]["href"].rsplit("/", 1)[1]
    created = await client.post(
        f"/storage/folders/{folder_id}/files", json={"displayName": "f.ifc"}, headers=headers
    )
    links = created.json()["_links"]
    assert (await client.put(links["uploadUrl"]["href"], content=content)).status_code == 201
    completed = await client.post(links["completeUrl"]["href"], headers=headers)
    assert completed.status_code == 200, completed.text
    return str(completed.json()["file"]["id"])


def _blob_files(runtime: Runtime) -> list[Path]:
    return [path for path in (runtime.settings.data_dir / "blobs").rglob("*") if path.is_file()]


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


# Every upstream field, PATCH and DELETE (issue 11).

FULL_ITWIN = {
    "class": "Thing",
    "subClass": "Asset",
    "type": "Bridge",
    "displayName": "Golden Gate",
    "number": "GG-1",
    "dataCenterLocation": "UK South",
    "status": "Trial",
    "ianaTimeZone": "America/Los_Angeles",
    "geographicLocation": "San Francisco, CA",
    "latitude": 37.8199,
    "longitude": -122.4783,
}
MINIMAL_FIELDS = {"id", "class", "subClass", "type", "number", "displayName"}


async def _create_with(client: httpx.AsyncClient, headers: dict[str, str], **fields: object) -> dict:
    response = await client.post("/itwins", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json()["iTwin"])


async def _ids(
    client: httpx.AsyncClient, headers: dict[str, str], path: str = "/itwins", **params: str
) -> list:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return [itwin["id"] for itwin in response.json()["iTwins"]]


async def test_post_with_trailing_slash_creates_an_itwin_keeping_every_upstream_field(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.post("/itwins/", json=FULL_ITWIN, headers=auth_headers("alice"))
    assert response.status_code == 201, response.text
    itwin = response.json()["iTwin"]
    assert {key: itwin[key] for key in FULL_ITWIN} == FULL_ITWIN
    assert (itwin["parentId"], itwin["iTwinAccountId"], itwin["imageName"], itwin["image"]) == (
        None,
        None,
        None,
        None,
    )
    assert (itwin["createdBy"], itwin["lastModifiedBy"]) == ("alice", "alice")
    assert itwin["createdDateTime"] == itwin["lastModifiedDateTime"]
    assert itwin["createdDateTime"].endswith("Z")
    fetched = await client.get(f"/itwins/{itwin['id']}", headers=auth_headers("alice"))
    assert fetched.json() == {"iTwin": itwin}


async def test_get_answers_the_full_itwin_whatever_prefer_asks(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    itwin = await _create_with(client, auth_headers("alice"), **FULL_ITWIN)
    headers = {**auth_headers("alice"), "Prefer": "return=minimal"}
    assert (await client.get(f"/itwins/{itwin['id']}", headers=headers)).json() == {"iTwin": itwin}


async def test_list_is_minimal_by_default_and_full_with_prefer_representation(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    itwin = await _create_with(client, auth_headers("alice"), **FULL_ITWIN)
    minimal = (await client.get("/itwins", headers=auth_headers("alice"))).json()["iTwins"]
    assert minimal == [{key: itwin[key] for key in MINIMAL_FIELDS}]
    headers = {**auth_headers("alice"), "Prefer": "return=representation"}
    full = await client.get("/itwins", headers=headers)
    assert full.json()["iTwins"] == [itwin]
    assert full.headers["x-max-return"] == "1000"


async def test_number_defaults_to_the_id_and_is_unique_within_a_sub_class(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    unnumbered = await _create_with(client, auth_headers("alice"), displayName="Plant")
    assert unnumbered["number"] == unnumbered["id"]
    await _create_with(client, auth_headers("alice"), displayName="A", number="N-1", subClass="Asset")
    duplicate = await client.post(
        "/itwins",
        json={"displayName": "B", "number": "N-1", "subClass": "Asset"},
        headers=auth_headers("bob"),
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == {
        "code": "iTwinExists",
        "message": "An iTwin with the same number already exists.",
        "details": [
            {
                "code": "InvalidValue",
                "message": "Another iTwin of this subClass has this number.",
                "target": "number",
            }
        ],
    }
    other_sub_class = await _create_with(
        client, auth_headers("alice"), displayName="C", number="N-1", subClass="Project"
    )
    assert (other_sub_class["class"], other_sub_class["number"]) == ("Endeavor", "N-1")


async def test_class_follows_the_sub_class_and_a_mismatch_is_a_422(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    portfolio = await _create_with(client, auth_headers("alice"), displayName="P", subClass="Portfolio")
    assert (portfolio["class"], portfolio["subClass"]) == ("Thing", "Portfolio")
    thing = await _create_with(client, auth_headers("alice"), displayName="T", **{"class": "Thing"})
    assert (thing["class"], thing["subClass"]) == ("Thing", "Asset")
    default = await _create_with(client, auth_headers("alice"), displayName="D")
    assert (default["class"], default["subClass"], default["status"], default["dataCenterLocation"]) == (
        "Endeavor",
        "Project",
        "Active",
        "East US",
    )
    mismatch = await client.post(
        "/itwins",
        json={"displayName": "M", "class": "Thing", "subClass": "Project"},
        headers=auth_headers("alice"),
    )
    assert mismatch.status_code == 422
    assert mismatch.json()["error"] == {
        "code": "InvalidiTwinsRequest",
        "message": "Cannot perform operation.",
        "details": [
            {
                "code": "InvalidValue",
                "message": "subClass Project does not belong to class Thing.",
                "target": "subClass",
            }
        ],
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("subClass", "Invalid"),
        ("class", "Building"),
        ("status", "Archived"),
        ("dataCenterLocation", "Mars"),
        ("ianaTimeZone", "Mars/Olympus_Mons"),
        ("latitude", 91),
        ("longitude", -181),
        ("displayName", ""),
    ],
)
async def test_invalid_fields_are_422_naming_the_field(
    client: httpx.AsyncClient, auth_headers: Headers, field: str, value: object
) -> None:
    response = await client.post(
        "/itwins", json={"displayName": "Plant", field: value}, headers=auth_headers("alice")
    )
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "InvalidiTwinsRequest"
    assert [(detail["code"], detail["target"]) for detail in error["details"]] == [("InvalidValue", field)]


async def test_missing_display_name_is_a_missing_property(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.post("/itwins", json={"class": "Thing"}, headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"]["details"] == [
        {
            "code": "MissingRequiredProperty",
            "message": "displayName was not provided.",
            "target": "displayName",
        }
    ]


async def test_patch_changes_only_the_given_fields(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    itwin = await _create_with(client, auth_headers("alice"), **FULL_ITWIN)
    await client.post(
        f"/itwins/{itwin['id']}/members",
        json={"subject": "carl", "role": "Contributor"},
        headers=auth_headers("alice"),
    )
    response = await client.patch(
        f"/itwins/{itwin['id']}",
        json={"displayName": "Golden Gate Bridge", "type": None, "status": "Active", "number": None},
        headers=auth_headers("carl"),
    )
    assert response.status_code == 200, response.text
    patched = response.json()["iTwin"]
    changed = {"displayName", "type", "status", "number", "lastModifiedBy", "lastModifiedDateTime"}
    assert {key: value for key, value in patched.items() if key not in changed} == {
        key: value for key, value in itwin.items() if key not in changed
    }
    assert (patched["displayName"], patched["type"], patched["status"], patched["number"]) == (
        "Golden Gate Bridge",
        None,
        "Active",
        itwin["id"],
    )
    assert patched["lastModifiedBy"] == "carl"
    assert patched["lastModifiedDateTime"] > itwin["lastModifiedDateTime"]
    assert (await client.get(f"/itwins/{itwin['id']}", headers=auth_headers("alice"))).json() == {
        "iTwin": patched
    }


async def test_patch_refuses_nulls_mismatches_taken_numbers_readers_and_unknown_itwins(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    itwin = await _create_with(client, auth_headers("alice"), displayName="A", number="A-1")
    await _create_with(client, auth_headers("alice"), displayName="B", number="B-1")
    await client.post(
        f"/itwins/{itwin['id']}/members",
        json={"subject": "rita", "role": "Reader"},
        headers=auth_headers("alice"),
    )
    url = f"/itwins/{itwin['id']}"
    nameless = await client.patch(url, json={"displayName": None}, headers=auth_headers("alice"))
    assert nameless.status_code == 422
    assert nameless.json()["error"]["details"][0]["target"] == "displayName"
    mismatch = await client.patch(url, json={"class": "Thing"}, headers=auth_headers("alice"))
    assert mismatch.status_code == 422
    assert mismatch.json()["error"]["details"][0]["target"] == "subClass"
    taken = await client.patch(url, json={"number": "B-1"}, headers=auth_headers("alice"))
    assert taken.status_code == 409
    assert taken.json()["error"]["code"] == "iTwinExists"
    reader = await client.patch(url, json={"displayName": "R"}, headers=auth_headers("rita"))
    assert reader.status_code == 403
    unknown = await client.patch("/itwins/nope", json={"displayName": "R"}, headers=auth_headers("alice"))
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "iTwinNotFound"
    unchanged = (await client.get(url, headers=auth_headers("alice"))).json()["iTwin"]
    assert (unchanged["displayName"], unchanged["number"], unchanged["class"]) == ("A", "A-1", "Endeavor")


async def test_children_name_a_parent_the_caller_may_change_and_never_form_a_cycle(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    parent = await _create_with(
        client, auth_headers("alice"), displayName="Portfolio", iTwinAccountId="acct-1"
    )
    child = await _create_with(client, auth_headers("alice"), displayName="Child", parentId=parent["id"])
    assert (child["parentId"], child["iTwinAccountId"]) == (parent["id"], "acct-1")
    grandchild = await _create_with(
        client, auth_headers("alice"), displayName="Grandchild", parentId=child["id"]
    )
    unknown = await client.post(
        "/itwins", json={"displayName": "X", "parentId": "nope"}, headers=auth_headers("alice")
    )
    assert unknown.status_code == 422
    assert unknown.json()["error"]["details"][0]["target"] == "parentId"
    stranger = await client.post(
        "/itwins", json={"displayName": "X", "parentId": parent["id"]}, headers=auth_headers("bob")
    )
    assert stranger.status_code == 403
    cycle = await client.patch(
        f"/itwins/{parent['id']}", json={"parentId": grandchild["id"]}, headers=auth_headers("alice")
    )
    assert cycle.status_code == 422
    assert cycle.json()["error"]["details"][0]["target"] == "parentId"
    itself = await client.patch(
        f"/itwins/{parent['id']}", json={"parentId": parent["id"]}, headers=auth_headers("alice")
    )
    assert itself.status_code == 422
    children = await _ids(client, auth_headers("alice"), parentId=parent["id"])
    assert children == [child["id"]]


async def test_delete_answers_204_without_content_type_and_removes_the_itwin_and_everything_of_it(
    client: httpx.AsyncClient, auth_headers: Headers, runtime: Runtime
) -> None:
    itwin_id = (await _create_with(client, auth_headers("alice"), displayName="Doomed"))["id"]
    kept_id = (await _create_with(client, auth_headers("alice"), displayName="Kept"))["id"]
    await client.post(
        f"/itwins/{itwin_id}/members",
        json={"subject": "bob", "role": "Reader"},
        headers=auth_headers("alice"),
    )
    await client.post(f"/itwins/favorites/{itwin_id}", headers=auth_headers("bob"))
    await client.post(f"/itwins/recents/{itwin_id}", headers=auth_headers("bob"))
    doomed_file = await _stored_file(client, auth_headers("alice"), itwin_id, b"doomed")
    kept_file = await _stored_file(client, auth_headers("alice"), kept_id, b"kept")
    assert len(_blob_files(runtime)) == 2

    response = await client.delete(f"/itwins/{itwin_id}", headers=auth_headers("alice"))
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers
    assert (await client.get(f"/itwins/{itwin_id}", headers=auth_headers("alice"))).status_code == 404
    assert (
        await client.get(f"/storage/files/{doomed_file}", headers=auth_headers("alice"))
    ).status_code == 404
    assert [path.read_bytes() for path in _blob_files(runtime)] == [b"kept"]
    assert (await client.get(f"/storage/files/{kept_file}", headers=auth_headers("alice"))).status_code == 200
    async with runtime.database.transaction(write=False) as transaction:
        for table in (
            "itwin_members",
            "itwin_favorites",
            "itwin_recents",
            "storage_folders",
            "storage_files",
        ):
            count = await transaction.value(
                f"SELECT count(*) FROM {table} WHERE itwin_id = :id", {"id": itwin_id}
            )
            assert count == 0, table
    assert await _ids(client, auth_headers("bob"), "/itwins/favorites") == []


async def test_delete_is_for_owners_and_refuses_itwins_with_imodels_or_children(
    client: httpx.AsyncClient, auth_headers: Headers, runtime: Runtime
) -> None:
    itwin_id = (await _create_with(client, auth_headers("alice"), displayName="Plant"))["id"]
    await client.post(
        f"/itwins/{itwin_id}/members",
        json={"subject": "carl", "role": "Contributor"},
        headers=auth_headers("alice"),
    )
    contributor = await client.delete(f"/itwins/{itwin_id}", headers=auth_headers("carl"))
    assert contributor.status_code == 403
    assert contributor.json()["error"]["code"] == "InsufficientPermissions"
    assert (await client.delete(f"/itwins/{itwin_id}", headers=auth_headers("mallory"))).status_code == 403
    unknown = await client.delete(
        "/itwins/00000000-0000-0000-0000-000000000000", headers=auth_headers("alice")
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "iTwinNotFound"

    child = await _create_with(client, auth_headers("alice"), displayName="Child", parentId=itwin_id)
    with_child = await client.delete(f"/itwins/{itwin_id}", headers=auth_headers("alice"))
    assert with_child.status_code == 409
    assert with_child.json()["error"] == {
        "code": "iTwinNotEmpty",
        "message": "The iTwin has child iTwins; delete them or give them another parent first.",
    }
    assert (await client.delete(f"/itwins/{child['id']}", headers=auth_headers("alice"))).status_code == 204

    async with runtime.database.transaction() as transaction:  # an iModel row, whatever its other columns
        await transaction.execute(
            "INSERT INTO imodels (id, itwin_id, name, state, created_at)"
            " VALUES (:id, :itwin_id, 'Model', 'initialized', :created_at)",
            {"id": "1b2c3d4e-0000-4000-8000-000000000001", "itwin_id": itwin_id, "created_at": utc_now()},
        )
    with_imodel = await client.delete(f"/itwins/{itwin_id}", headers=auth_headers("alice"))
    assert with_imodel.status_code == 409
    assert with_imodel.json()["error"] == {
        "code": "iTwinNotEmpty",
        "message": "The iTwin has iModels; delete them first.",
    }
    assert (await client.get(f"/itwins/{itwin_id}", headers=auth_headers("alice"))).status_code == 200


# List filters.


@pytest.fixture
async def catalog(client: httpx.AsyncClient, auth_headers: Headers) -> dict[str, str]:
    """Alice's iTwins with varied fields (and one of Bob's), by name."""
    alice = auth_headers("alice")
    made = {
        "bridge": await _create_with(
            client, alice, displayName="Golden Gate", number="GG-1", subClass="Asset", type="Bridge"
        ),
        "tunnel": await _create_with(
            client, alice, displayName="Channel Tunnel", number="CT_100%", subClass="Asset", type="Tunnel"
        ),
        "project": await _create_with(
            client, alice, displayName="Gate Renovation", number="P-7", status="Trial"
        ),
        "retired": await _create_with(client, alice, displayName="Old Gate", number="OG", status="Inactive"),
        "program": await _create_with(
            client, alice, displayName="Rail", subClass="Program", iTwinAccountId="acct"
        ),
    }
    made["work"] = await _create_with(
        client, alice, displayName="Rail Works", subClass="WorkPackage", parentId=made["program"]["id"]
    )
    made["bobs"] = await _create_with(
        client, auth_headers("bob"), displayName="Golden Gate", subClass="Asset"
    )
    return {name: str(itwin["id"]) for name, itwin in made.items()}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, ["bridge", "tunnel", "project", "program", "work"]),
        ({"subClass": "Asset"}, ["bridge", "tunnel"]),
        ({"subClass": "Asset,Program"}, ["bridge", "tunnel", "program"]),
        ({"subClass": "asset"}, ["bridge", "tunnel"]),
        ({"type": "Tunnel"}, ["tunnel"]),
        ({"status": "Inactive"}, ["retired"]),
        ({"status": "Trial"}, ["project"]),
        ({"includeInactive": "true"}, ["bridge", "tunnel", "project", "retired", "program", "work"]),
        ({"includeInactive": "false"}, ["bridge", "tunnel", "project", "program", "work"]),
        ({"displayName": "Golden Gate"}, ["bridge"]),
        ({"displayName": "golden gate"}, []),
        ({"number": "P-7"}, ["project"]),
        ({"$search": "gate"}, ["bridge", "project"]),
        ({"$search": "gate", "includeInactive": "true"}, ["bridge", "project", "retired"]),
        ({"$search": "_100%"}, ["tunnel"]),
        ({"$search": "%"}, ["tunnel"]),
        ({"$search": "gg-"}, ["bridge"]),
        ({"parentId": "program"}, ["work"]),
        ({"iTwinAccountId": "acct"}, ["program", "work"]),
        ({"subClass": "Asset", "$search": "channel", "$top": "1"}, ["tunnel"]),
    ],
)
async def test_list_filters_give_exactly_the_matching_itwins(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    catalog: dict[str, str],
    params: dict[str, str],
    expected: list[str],
) -> None:
    if "parentId" in params:
        params = {**params, "parentId": catalog[params["parentId"]]}
    assert await _ids(client, auth_headers("alice"), **params) == [catalog[name] for name in expected]


@pytest.mark.parametrize(
    ("params", "headers", "target"),
    [
        ({"status": "Active", "includeInactive": "true"}, {}, "includeInactive"),
        ({"status": "Archived"}, {}, "status"),
        ({"subClass": "Asset,Bridge"}, {}, "subClass"),
        ({"includeInactive": "maybe"}, {}, "includeInactive"),
        ({"$search": "gate", "displayName": "Golden Gate"}, {}, "$search"),
        ({"$search": "gate", "number": "GG-1"}, {}, "$search"),
        ({"$filter": "status eq 'Active'"}, {}, "$filter"),
        ({"$select": "id"}, {}, "$select"),
        ({"$orderby": "displayName"}, {}, "$orderby"),
        ({"$top": "1001"}, {}, "$top"),
        ({"$skip": "-1"}, {}, "$skip"),
        ({}, {"x-itwin-query-scope": "everything"}, "x-itwin-query-scope"),
        ({}, {"X-Max-Return": "0"}, "X-Max-Return"),
        ({}, {"X-Max-Return": "lots"}, "X-Max-Return"),
    ],
)
async def test_a_filter_that_cannot_be_honoured_is_a_422_naming_it(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    params: dict[str, str],
    headers: dict[str, str],
    target: str,
) -> None:
    await _create(client, auth_headers("alice"))
    response = await client.get("/itwins", params=params, headers={**auth_headers("alice"), **headers})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "InvalidiTwinsRequest"
    # Names in any case are one parameter (`$orderby` arrives spelled as the iModels API reads it).
    assert [detail["target"].lower() for detail in error["details"]] == [target.lower()]


async def test_empty_query_pieces_of_itwins_client_are_ignored(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    first = await _create(client, auth_headers("alice"), "A")
    await _create(client, auth_headers("alice"), "B")
    response = await client.get("/itwins?&$top=1&subClass=&status=", headers=auth_headers("alice"))
    assert response.status_code == 200, response.text
    assert [itwin["id"] for itwin in response.json()["iTwins"]] == [first]
    assert "next" in response.json()["_links"]


async def test_query_scope_all_lists_the_itwins_the_caller_is_a_member_of(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    mine = await _create(client, auth_headers("alice"), "Mine")
    await _create(client, auth_headers("bob"), "Not mine")
    for scope in ("memberOfItwin", "all", "OrganizationAdmin"):
        headers = {**auth_headers("alice"), "x-itwin-query-scope": scope}
        assert await _ids(client, headers) == [mine]


async def test_x_max_return_ends_the_list_across_pages_and_is_echoed(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    ids = [await _create(client, auth_headers("alice"), f"I{index}") for index in range(4)]
    headers = {**auth_headers("alice"), "X-Max-Return": "3"}
    first = await client.get("/itwins", params={"$top": 2}, headers=headers)
    assert first.headers["x-max-return"] == "3"
    assert [itwin["id"] for itwin in first.json()["iTwins"]] == ids[:2]
    second = await client.get(first.json()["_links"]["next"]["href"], headers=headers)
    assert [itwin["id"] for itwin in second.json()["iTwins"]] == ids[2:3]
    assert "next" not in second.json()["_links"]
    past = await client.get("/itwins", params={"$skip": 3}, headers=headers)
    assert past.json()["iTwins"] == []


# Favorites, recents and the sub-resources twinbridge does not have.


async def test_favorites_are_added_listed_filtered_and_removed_per_caller(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    asset = await _create_with(client, auth_headers("alice"), displayName="Asset", subClass="Asset")
    project = await _create(client, auth_headers("alice"), "Project")
    await _create(client, auth_headers("alice"), "Not a favorite")
    for itwin_id in (asset["id"], project, project):  # adding twice changes nothing
        added = await client.post(f"/itwins/favorites/{itwin_id}", headers=auth_headers("alice"))
        assert added.status_code == 204
        assert "content-type" not in added.headers
    assert await _ids(client, auth_headers("alice"), "/itwins/favorites") == [asset["id"], project]
    assert await _ids(client, auth_headers("alice"), "/itwins/favorites/", subClass="Asset") == [asset["id"]]
    assert await _ids(client, auth_headers("alice"), "/itwins/favorites", displayName="Project") == [project]
    representation = await client.get(
        "/itwins/favorites",
        params={"subClass": "Asset"},
        headers={**auth_headers("alice"), "Prefer": "return=representation"},
    )
    assert representation.json()["iTwins"] == [asset]
    removed = await client.delete(f"/itwins/favorites/{project}", headers=auth_headers("alice"))
    assert removed.status_code == 204
    assert "content-type" not in removed.headers
    assert await _ids(client, auth_headers("alice"), "/itwins/favorites") == [asset["id"]]
    assert await _ids(client, auth_headers("bob"), "/itwins/favorites") == []


async def test_favorites_of_unknown_or_foreign_itwins_are_refused(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    itwin_id = await _create(client, auth_headers("alice"))
    unknown = await client.post(
        "/itwins/favorites/12345678-1234-1234-1234-123456789abc", headers=auth_headers("alice")
    )
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "iTwinNotFound"
    removed_unknown = await client.delete(
        "/itwins/favorites/12345678-1234-1234-1234-123456789abc", headers=auth_headers("alice")
    )
    assert removed_unknown.status_code == 404
    assert (
        await client.post(f"/itwins/favorites/{itwin_id}", headers=auth_headers("mallory"))
    ).status_code == 403
    bad_filter = await client.get(
        "/itwins/favorites", params={"status": "Nope"}, headers=auth_headers("alice")
    )
    assert bad_filter.status_code == 422


async def test_recents_list_the_itwins_the_caller_used_most_recent_first_up_to_25(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    ids = [await _create(client, auth_headers("alice"), f"I{index}") for index in range(26)]
    recents = await _ids(client, auth_headers("alice"), "/itwins/recents", **{"$top": "100"})
    assert recents == list(reversed(ids))[:25]
    marked = await client.post(f"/itwins/recents/{ids[3]}", headers=auth_headers("alice"))
    assert marked.status_code == 204
    assert "content-type" not in marked.headers
    await client.patch(f"/itwins/{ids[10]}", json={"type": "Changed"}, headers=auth_headers("alice"))
    recents = await _ids(client, auth_headers("alice"), "/itwins/recents", **{"$top": "3"})
    assert recents == [ids[10], ids[3], ids[25]]
    await client.post(
        f"/itwins/{ids[3]}/members", json={"subject": "bob", "role": "Reader"}, headers=auth_headers("alice")
    )
    assert await _ids(client, auth_headers("bob"), "/itwins/recents") == []
    assert (await client.post(f"/itwins/recents/{ids[3]}", headers=auth_headers("bob"))).status_code == 204
    assert await _ids(client, auth_headers("bob"), "/itwins/recents") == [ids[3]]
    assert (await client.post(f"/itwins/recents/{ids[4]}", headers=auth_headers("bob"))).status_code == 403


async def test_accounts_and_exports_are_resource_not_found_not_itwin_not_found(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    itwin_id = await _create(client, auth_headers("alice"))
    for path in (
        "/itwins/myprimaryaccount",
        f"/itwins/{itwin_id}/account",
        "/itwins/exports",
        f"/itwins/{itwin_id}/image",
    ):
        response = await client.get(path, headers=auth_headers("alice"))
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "ResourceNotFound", path
    assert (
        await client.get(f"/itwins/{itwin_id}/account", headers=auth_headers("mallory"))
    ).status_code == 403


async def test_repositories_are_the_itwins_imodels_and_storage(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    itwin_id = await _create(client, auth_headers("alice"))
    response = await client.get(f"/itwins/{itwin_id}/repositories", headers=auth_headers("alice"))
    assert response.status_code == 200
    assert response.json() == {
        "repositories": [
            {
                "id": "iModels",
                "class": "iModels",
                "subClass": None,
                "uri": f"http://twinbridge.test/imodels?iTwinId={itwin_id}",
            },
            {
                "id": "Storage",
                "class": "Storage",
                "subClass": None,
                "uri": f"http://twinbridge.test/storage?iTwinId={itwin_id}",
            },
        ]
    }
    storage = await client.get(
        f"/itwins/{itwin_id}/repositories", params={"class": "Storage"}, headers=auth_headers("alice")
    )
    assert [repository["id"] for repository in storage.json()["repositories"]] == ["Storage"]
    invalid = await client.get(
        f"/itwins/{itwin_id}/repositories", params={"class": "Bogus"}, headers=auth_headers("alice")
    )
    assert invalid.status_code == 422
    assert invalid.json()["error"]["details"][0]["target"] == "class"
    assert (
        await client.get(f"/itwins/{itwin_id}/repositories", headers=auth_headers("mallory"))
    ).status_code == 403
    not_served = await client.post(
        f"/itwins/{itwin_id}/repositories",
        json={"class": "Storage", "uri": "x"},
        headers=auth_headers("alice"),
    )
    assert not_served.status_code == 405
