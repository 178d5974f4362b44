"""Changesets (the steps between an iModel's stored versions) and checkpoints (the versions' snapshots),
and the signed downloads that serve them as Azure Blob Storage would."""

from __future__ import annotations

import time
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
)
from twinbridge.runtime import Runtime
from twinbridge.storage.signing import DOWNLOAD_URL_LIFETIME_SECONDS, DownloadSigner


@pytest.fixture
async def imodel(client: httpx.AsyncClient, auth_headers: Headers, runtime: Runtime) -> dict[str, Any]:
    """An iModel with the baseline BLOCKS and three changesets: SEED, PROPERTIES, and SEED again."""
    itwin_id = await new_itwin(client, auth_headers("alice"))
    made = await imodel_from_baseline(client, auth_headers("alice"), itwin_id)
    await add_versions(runtime, made["id"], [SEED, PROPERTIES, SEED])
    return made


async def _get(client: httpx.AsyncClient, headers: dict[str, str], path: str, **params: Any) -> Any:
    response = await client.get(path, params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()


async def _changesets(
    client: httpx.AsyncClient, headers: dict[str, str], imodel_id: str, **params: Any
) -> list[dict[str, Any]]:
    body = await _get(
        client, {**headers, "Prefer": "return=representation"}, f"/imodels/{imodel_id}/changesets", **params
    )
    return list(body["changesets"])


async def test_changesets_are_the_versions_after_the_baseline_each_with_its_parent(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    changesets = await _changesets(client, auth_headers("alice"), imodel["id"])
    assert [changeset["index"] for changeset in changesets] == [1, 2, 3]
    assert [changeset["fileSize"] for changeset in changesets] == [
        SEED.stat().st_size,
        PROPERTIES.stat().st_size,
        SEED.stat().st_size,
    ]
    ids = [changeset["id"] for changeset in changesets]
    assert all(len(changeset_id) == 40 and int(changeset_id, 16) >= 0 for changeset_id in ids)
    assert len(set(ids)) == 3  # the same file twice still makes two changesets
    assert [changeset["parentId"] for changeset in changesets] == ["", ids[0], ids[1]]
    assert {changeset["state"] for changeset in changesets} == {"fileUploaded"}
    assert {changeset["creatorId"] for changeset in changesets} == {"alice"}


async def test_changeset_list_is_minimal_unless_representation_is_preferred(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    minimal = await _get(client, auth_headers("alice"), f"/imodels/{imodel['id']}/changesets")
    first = minimal["changesets"][0]
    assert set(first) == {
        "id", "displayName", "description", "index", "parentId", "creatorId", "pushDateTime", "state",
        "containingChanges", "fileSize", "briefcaseId", "groupId", "_links",
    }  # fmt: skip
    assert set(first["_links"]) == {"self", "creator"}
    full = (await _changesets(client, auth_headers("alice"), imodel["id"]))[0]
    assert set(full) == set(first) | {"application", "synchronizationInfo"}
    assert set(full["_links"]) == {
        "self",
        "creator",
        "namedVersion",
        "currentOrPrecedingCheckpoint",
        "download",
    }
    assert full["_links"]["self"]["href"].endswith(f"/imodels/{imodel['id']}/changesets/{full['id']}")
    assert full["_links"]["currentOrPrecedingCheckpoint"]["href"].endswith(
        f"/imodels/{imodel['id']}/changesets/1/checkpoint"
    )
    assert full["_links"]["download"]["storageType"] == "azure"
    assert full["_links"]["namedVersion"] is None


async def test_changesets_filter_by_index_range_and_order_by_index_descending(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    def indexes(changesets: list[dict[str, Any]]) -> list[int]:
        return [changeset["index"] for changeset in changesets]

    headers = auth_headers("alice")
    assert indexes(await _changesets(client, headers, imodel["id"], afterIndex=1)) == [2, 3]
    assert indexes(await _changesets(client, headers, imodel["id"], lastIndex=2)) == [1, 2]
    assert indexes(await _changesets(client, headers, imodel["id"], afterIndex=1, lastIndex=2)) == [2]
    assert indexes(await _changesets(client, headers, imodel["id"], **{"$orderBy": "index desc"})) == [
        3,
        2,
        1,
    ]
    # iTwin.js asks for the latest changeset so.
    latest = await _changesets(client, headers, imodel["id"], **{"$top": 1, "$orderBy": "index desc"})
    assert indexes(latest) == [3]
    assert indexes(await _changesets(client, headers, imodel["id"], **{"$skip": 1, "$top": 1})) == [2]


@pytest.mark.parametrize(
    ("params", "target"),
    [
        ({"afterIndex": "x"}, "afterIndex"),
        ({"lastIndex": "-1"}, "lastIndex"),
        ({"$orderBy": "pushDateTime"}, "$orderBy"),
        ({"$continuationToken": "t"}, "$continuationToken"),
    ],
)
async def test_changeset_filter_that_cannot_be_honoured_is_refused_naming_it(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    imodel: dict[str, Any],
    params: dict[str, str],
    target: str,
) -> None:
    response = await client.get(
        f"/imodels/{imodel['id']}/changesets", params=params, headers=auth_headers("alice")
    )
    assert response.status_code == 422
    assert [detail["target"] for detail in response.json()["error"]["details"]] == [target]


async def test_a_changeset_is_found_by_its_id_or_by_its_index(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    listed = (await _changesets(client, auth_headers("alice"), imodel["id"]))[1]
    by_id = await _get(client, auth_headers("alice"), f"/imodels/{imodel['id']}/changesets/{listed['id']}")
    by_index = await _get(client, auth_headers("alice"), f"/imodels/{imodel['id']}/changesets/2")
    for found in (by_id["changeset"], by_index["changeset"]):
        assert (found["id"], found["index"], found["parentId"]) == (listed["id"], 2, listed["parentId"])
        assert found["_links"]["download"]["storageType"] == "azure"


@pytest.mark.parametrize("slot", ["0", "4", "0123456789abcdef0123456789abcdef01234567"])
async def test_the_baseline_and_unknown_changesets_are_not_found(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any], slot: str
) -> None:
    response = await client.get(f"/imodels/{imodel['id']}/changesets/{slot}", headers=auth_headers("alice"))
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "ChangesetNotFound",
        "message": "Requested Changeset is not available.",
    }


async def test_a_changeset_links_the_named_version_made_on_it(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    changeset = (await _changesets(client, auth_headers("alice"), imodel["id"]))[0]
    created = await client.post(
        f"/imodels/{imodel['id']}/namedversions",
        json={"name": "Milestone 1", "changesetId": changeset["id"]},
        headers=auth_headers("alice"),
    )
    named_version_id = created.json()["namedVersion"]["id"]
    found = await _get(client, auth_headers("alice"), f"/imodels/{imodel['id']}/changesets/1")
    assert found["changeset"]["_links"]["namedVersion"]["href"].endswith(
        f"/imodels/{imodel['id']}/namedversions/{named_version_id}"
    )


async def test_checkpoint_of_a_changeset_downloads_that_version_and_index_zero_the_baseline(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    changeset = (await _changesets(client, auth_headers("alice"), imodel["id"]))[1]
    for slot in ("2", changeset["id"]):
        body = await _get(
            client, auth_headers("alice"), f"/imodels/{imodel['id']}/changesets/{slot}/checkpoint"
        )
        checkpoint = body["checkpoint"]
        assert {key: value for key, value in checkpoint.items() if key != "_links"} == {
            "changesetId": changeset["id"],
            "changesetIndex": 2,
            "size": PROPERTIES.stat().st_size,
            "state": "successful",
            "dbName": f"{imodel['id']}-2.bim",
            "directoryAccessInfo": None,
            "containerAccessInfo": None,
        }
        assert checkpoint["_links"]["download"]["storageType"] == "azure"
        download = await client.get(checkpoint["_links"]["download"]["href"])  # no Authorization
        assert download.status_code == 200
        assert download.content == PROPERTIES.read_bytes()
        assert download.headers["content-length"] == str(PROPERTIES.stat().st_size)
        assert download.headers["etag"].startswith('"')
    baseline = await _get(client, auth_headers("alice"), f"/imodels/{imodel['id']}/changesets/0/checkpoint")
    assert (baseline["checkpoint"]["changesetIndex"], baseline["checkpoint"]["changesetId"]) == (0, "")
    downloaded = await client.get(baseline["checkpoint"]["_links"]["download"]["href"])
    assert downloaded.content == BLOCKS.read_bytes()


async def test_changeset_download_link_gives_the_snapshot_of_its_version(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    changesets = await _changesets(client, auth_headers("alice"), imodel["id"])
    downloaded = await client.get(changesets[0]["_links"]["download"]["href"])
    assert downloaded.content == SEED.read_bytes()


async def test_latest_checkpoint_is_the_newest_version(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    body = await _get(client, auth_headers("alice"), f"/imodels/{imodel['id']}/briefcases/checkpoint")
    assert body["checkpoint"]["changesetIndex"] == 3
    assert (await client.get(body["checkpoint"]["_links"]["download"]["href"])).content == SEED.read_bytes()


async def test_download_answers_ranges_as_azure_does(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    body = await _get(client, auth_headers("alice"), f"/imodels/{imodel['id']}/changesets/1/checkpoint")
    href = body["checkpoint"]["_links"]["download"]["href"]
    content = SEED.read_bytes()
    size = len(content)
    # iTwin.js reads a checkpoint's size so.
    probe = await client.get(href, headers={"Range": "bytes=0-0"})
    assert probe.status_code == 206
    assert probe.headers["content-range"] == f"bytes 0-0/{size}"
    assert (probe.content, probe.headers["content-length"]) == (content[:1], "1")
    middle = await client.get(href, headers={"x-ms-range": "bytes=100-1099"})
    assert (middle.status_code, middle.content) == (206, content[100:1100])
    tail = await client.get(href, headers={"Range": "bytes=-10"})
    assert (tail.content, tail.headers["content-range"]) == (
        content[-10:],
        f"bytes {size - 10}-{size - 1}/{size}",
    )
    rest = await client.get(href, headers={"Range": f"bytes={size - 5}-"})
    assert rest.content == content[-5:]
    beyond = await client.get(href, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{size}"
    assert beyond.json()["error"]["code"] == "InvalidRange"


async def test_download_refuses_another_etag_and_forged_or_expired_signatures(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any], runtime: Runtime
) -> None:
    body = await _get(client, auth_headers("alice"), f"/imodels/{imodel['id']}/changesets/1/checkpoint")
    href = body["checkpoint"]["_links"]["download"]["href"]
    etag = (await client.get(href, headers={"Range": "bytes=0-0"})).headers["etag"]
    assert (await client.get(href, headers={"If-Match": etag, "Range": "bytes=0-0"})).status_code == 206
    stale = await client.get(href, headers={"If-Match": '"another"'})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "ConditionNotMet"
    other_version = href.replace("/versions/1/", "/versions/2/")
    forged = await client.get(other_version)
    assert forged.status_code == 403
    assert forged.json()["error"]["code"] == "AuthenticationFailed"
    signer = DownloadSigner.from_signing_key(runtime.issuer.signing_key)
    old = signer.sign(
        f"imodels/{imodel['id']}/versions/1", now=time.time() - DOWNLOAD_URL_LIFETIME_SECONDS - 1
    )
    expired = await client.get(
        href.split("?")[0], params={"expires": old.expires, "signature": old.signature}
    )
    assert expired.status_code == 403


async def test_readers_read_changesets_and_strangers_do_not(
    client: httpx.AsyncClient, auth_headers: Headers, imodel: dict[str, Any]
) -> None:
    path = f"/imodels/{imodel['id']}/changesets"
    assert (await client.get(path, headers=auth_headers("sam"))).status_code == 403
    assert (await client.get(f"{path}/1/checkpoint", headers=auth_headers("sam"))).status_code == 403
    await client.post(
        f"/itwins/{imodel['iTwinId']}/members",
        json={"subject": "rita", "role": "Reader"},
        headers=auth_headers("alice"),
    )
    assert (await client.get(f"{path}/1", headers=auth_headers("rita"))).status_code == 200
    missing = await client.get("/imodels/nope/changesets/1/checkpoint", headers=auth_headers("alice"))
    assert missing.json()["error"]["code"] == "iModelNotFound"
