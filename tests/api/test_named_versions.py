"""Named versions: names given to an iModel's versions (the baseline, or a changeset's)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.api.imodel_world import (
    BLOCKS,
    PROPERTIES,
    SEED,
    Headers,
    add_versions,
    imodel_from_baseline,
    new_itwin,
    start_baseline,
)
from twinbridge.runtime import Runtime


@pytest.fixture
async def imodel(client: httpx.AsyncClient, auth_headers: Headers, runtime: Runtime) -> dict[str, Any]:
    """An iModel with the baseline BLOCKS and changesets 1 (SEED) and 2 (PROPERTIES), listed in
    `changesets`."""
    itwin_id = await new_itwin(client, auth_headers("alice"))
    made = await imodel_from_baseline(client, auth_headers("alice"), itwin_id)
    await add_versions(runtime, made["id"], [SEED, PROPERTIES])
    listed = await client.get(f"/imodels/{made['id']}/changesets", headers=auth_headers("alice"))
    return {**made, "changesets": listed.json()["changesets"]}


async def _create(
    client: httpx.AsyncClient, headers: dict[str, str], imodel_id: str, **body: Any
) -> httpx.Response:
    return await client.post(f"/imodels/{imodel_id}/namedversions", json=body, headers=headers)


async def _created(
    client: httpx.AsyncClient, headers: dict[str, str], imodel_id: str, **body: Any
) -> dict[str, Any]:
    response = await _create(client, headers, imodel_id, **body)
    assert response.status_code == 201, response.text
    return dict(response.json()["namedVersion"])


async def test_named_version_on_a_changeset_has_its_id_and_index_and_links_it(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    changeset = imodel["changesets"][1]
    created = await _created(
        client,
        auth_headers("alice"),
        imodel["id"],
        name="Milestone 2",
        description="Second",
        changesetId=changeset["id"],
    )
    assert {
        key: value for key, value in created.items() if key not in ("id", "createdDateTime", "_links")
    } == {
        "displayName": "Milestone 2",
        "name": "Milestone 2",
        "description": "Second",
        "changesetId": changeset["id"],
        "changesetIndex": 2,
        "state": "visible",
        "application": None,
    }
    assert created["_links"]["creator"] is None
    assert created["_links"]["changeset"]["href"].endswith(
        f"/imodels/{imodel['id']}/changesets/{changeset['id']}"
    )
    got = await client.get(
        f"/imodels/{imodel['id']}/namedversions/{created['id']}", headers=auth_headers("alice")
    )
    assert got.json()["namedVersion"] == created


async def test_named_version_without_a_changeset_is_on_the_baseline(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    created = await _created(client, auth_headers("alice"), imodel["id"], name="Baseline")
    assert (created["changesetId"], created["changesetIndex"]) == (None, 0)
    assert created["_links"]["changeset"] is None
    checkpoint = await client.get(
        f"/imodels/{imodel['id']}/namedversions/{created['id']}/checkpoint", headers=auth_headers("alice")
    )
    body = checkpoint.json()["checkpoint"]
    assert body["changesetIndex"] == 0
    assert (await client.get(body["_links"]["download"]["href"])).content == BLOCKS.read_bytes()


async def test_named_version_checkpoint_downloads_the_version_it_names(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    created = await _created(
        client, auth_headers("alice"), imodel["id"], name="One", changesetId=imodel["changesets"][0]["id"]
    )
    response = await client.get(
        f"/imodels/{imodel['id']}/namedversions/{created['id']}/checkpoint", headers=auth_headers("alice")
    )
    checkpoint = response.json()["checkpoint"]
    assert (checkpoint["changesetIndex"], checkpoint["changesetId"]) == (1, imodel["changesets"][0]["id"])
    download = await client.get(checkpoint["_links"]["download"]["href"])
    assert download.content == SEED.read_bytes()


async def test_one_named_version_per_changeset_and_one_per_name(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    headers = auth_headers("alice")
    first_changeset, second_changeset = (changeset["id"] for changeset in imodel["changesets"])
    await _created(client, headers, imodel["id"], name="A", changesetId=first_changeset)
    on_same = await _create(client, headers, imodel["id"], name="B", changesetId=first_changeset)
    assert on_same.status_code == 409
    assert on_same.json()["error"] == {
        "code": "NamedVersionOnChangesetExists",
        "message": "Named Version already exists on the Changeset.",
    }
    same_name = await _create(client, headers, imodel["id"], name="A", changesetId=second_changeset)
    assert same_name.status_code == 409
    assert same_name.json()["error"]["code"] == "NamedVersionExists"


@pytest.mark.parametrize("changeset_id", ["0123456789abcdef0123456789abcdef01234567", "2"])
async def test_named_version_on_an_unknown_changeset_is_not_found(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any], changeset_id: str
) -> None:
    response = await _create(client, auth_headers("alice"), imodel["id"], name="X", changesetId=changeset_id)
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "ChangesetNotFound",
        "message": "Requested Changeset is not available.",
    }


async def test_named_version_on_the_baseline_of_an_imodel_without_one_is_a_conflict(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    waiting = await start_baseline(client, auth_headers("alice"), imodel["iTwinId"], 10, name="Waiting")
    response = await _create(client, auth_headers("alice"), waiting["id"], name="X")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "iModelNotInitialized"


@pytest.mark.parametrize(
    ("body", "target"),
    [({}, "name"), ({"name": ""}, "name"), ({"name": "X", "changesetId": ""}, "changesetId")],
)
async def test_create_with_a_bad_body_names_the_property(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    imodel: dict[str, Any],
    body: dict[str, Any],
    target: str,
) -> None:
    response = await _create(client, auth_headers("alice"), imodel["id"], **body)
    assert response.status_code == 422
    assert [detail["target"] for detail in response.json()["error"]["details"]] == [target]


async def test_patch_changes_name_description_and_state(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    headers = auth_headers("alice")
    created = await _created(client, headers, imodel["id"], name="A", description="First")
    path = f"/imodels/{imodel['id']}/namedversions/{created['id']}"
    hidden = await client.patch(path, json={"state": "hidden"}, headers=headers)
    assert hidden.status_code == 200, hidden.text
    assert (hidden.json()["namedVersion"]["state"], hidden.json()["namedVersion"]["name"]) == ("hidden", "A")
    renamed = await client.patch(path, json={"name": "B", "description": None}, headers=headers)
    body = renamed.json()["namedVersion"]
    assert (body["name"], body["displayName"], body["description"], body["state"]) == (
        "B",
        "B",
        None,
        "hidden",
    )
    assert (await client.get(path, headers=headers)).json()["namedVersion"] == body


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "InvalidiModelsRequest"),
        ({"state": "archived"}, 422, "InvalidiModelsRequest"),
        ({"state": None}, 422, "InvalidiModelsRequest"),
        ({"name": "Taken"}, 409, "NamedVersionExists"),
    ],
)
async def test_patch_that_cannot_be_honoured_is_refused(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    imodel: dict[str, Any],
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    headers = auth_headers("alice")
    await _created(client, headers, imodel["id"], name="Taken", changesetId=imodel["changesets"][0]["id"])
    mine = await _created(client, headers, imodel["id"], name="Mine")
    response = await client.patch(
        f"/imodels/{imodel['id']}/namedversions/{mine['id']}", json=body, headers=headers
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code


async def test_unknown_named_version_is_not_found(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    for request in (
        client.get(f"/imodels/{imodel['id']}/namedversions/nope", headers=auth_headers("alice")),
        client.get(f"/imodels/{imodel['id']}/namedversions/nope/checkpoint", headers=auth_headers("alice")),
        client.patch(
            f"/imodels/{imodel['id']}/namedversions/nope", json={"name": "x"}, headers=auth_headers("alice")
        ),
    ):
        response = await request
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": "NamedVersionNotFound",
            "message": "Requested Named Version is not available.",
        }


async def _listed(
    client: httpx.AsyncClient, headers: dict[str, str], imodel_id: str, **params: Any
) -> list[dict[str, Any]]:
    response = await client.get(
        f"/imodels/{imodel_id}/namedversions",
        params=params,
        headers={**headers, "Prefer": "return=representation"},
    )
    assert response.status_code == 200, response.text
    return list(response.json()["namedVersions"])


async def test_list_filters_by_name_text_and_state_and_orders_either_way(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    headers = auth_headers("alice")
    first, second = (changeset["id"] for changeset in imodel["changesets"])
    await _created(client, headers, imodel["id"], name="Milestone 2", changesetId=second)
    await _created(client, headers, imodel["id"], name="Baseline", description="Before any MILESTONE")
    hidden = await _created(client, headers, imodel["id"], name="Milestone 1", changesetId=first)
    await client.patch(
        f"/imodels/{imodel['id']}/namedversions/{hidden['id']}", json={"state": "hidden"}, headers=headers
    )

    def names(items: list[dict[str, Any]]) -> list[str]:
        return [item["name"] for item in items]

    assert names(await _listed(client, headers, imodel["id"])) == ["Baseline", "Milestone 1", "Milestone 2"]
    assert names(await _listed(client, headers, imodel["id"], name="Milestone 1")) == ["Milestone 1"]
    assert names(await _listed(client, headers, imodel["id"], **{"$search": "stone 1"})) == ["Milestone 1"]
    assert names(await _listed(client, headers, imodel["id"], **{"$search": "milestone"})) == [
        "Baseline", "Milestone 1", "Milestone 2",
    ]  # fmt: skip
    assert names(await _listed(client, headers, imodel["id"], state="hidden")) == ["Milestone 1"]
    assert names(await _listed(client, headers, imodel["id"], state="visible")) == ["Baseline", "Milestone 2"]
    by_index = await _listed(client, headers, imodel["id"], **{"$orderBy": "changesetIndex desc"})
    assert [item["changesetIndex"] for item in by_index] == [2, 1, 0]
    newest_first = await _listed(client, headers, imodel["id"], **{"$orderBy": "createdDateTime desc"})
    assert names(newest_first) == ["Milestone 1", "Baseline", "Milestone 2"]
    minimal = await client.get(
        f"/imodels/{imodel['id']}/namedversions", params={"name": "Baseline"}, headers=headers
    )
    assert minimal.json()["namedVersions"] == [
        {
            "id": minimal.json()["namedVersions"][0]["id"],
            "displayName": "Baseline",
            "changesetId": None,
            "changesetIndex": 0,
        }
    ]
    page = await client.get(f"/imodels/{imodel['id']}/namedversions", params={"$top": 2}, headers=headers)
    assert len(page.json()["namedVersions"]) == 2
    assert page.json()["_links"]["next"]["href"].endswith("/namedversions?$skip=2&$top=2")


@pytest.mark.parametrize(
    ("params", "target"),
    [
        ({"$orderBy": "name"}, "$orderBy"),
        ({"state": "gone"}, "state"),
        ({"$continuationToken": "t"}, "$continuationToken"),
    ],
)
async def test_list_filter_that_cannot_be_honoured_is_refused_naming_it(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    imodel: dict[str, Any],
    params: dict[str, str],
    target: str,
) -> None:
    response = await client.get(
        f"/imodels/{imodel['id']}/namedversions", params=params, headers=auth_headers("alice")
    )
    assert response.status_code == 422
    assert [detail["target"] for detail in response.json()["error"]["details"]] == [target]


async def test_readers_read_named_versions_but_do_not_create_them(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    await client.post(
        f"/itwins/{imodel['iTwinId']}/members",
        json={"subject": "rita", "role": "Reader"},
        headers=auth_headers("alice"),
    )
    created = await _created(client, auth_headers("alice"), imodel["id"], name="A")
    assert (await _create(client, auth_headers("rita"), imodel["id"], name="B")).status_code == 403
    path = f"/imodels/{imodel['id']}/namedversions/{created['id']}"
    assert (await client.patch(path, json={"name": "C"}, headers=auth_headers("rita"))).status_code == 403
    assert (await client.get(path, headers=auth_headers("rita"))).status_code == 200
    assert (await client.get(path, headers=auth_headers("sam"))).status_code == 403
