"""The minimal Storage API: create -> upload -> complete, get, update, delete, lists, signed downloads."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from twinbridge.db.models import StorageFolder
from twinbridge.runtime import Runtime
from twinbridge.storage.repository import FOLDERS
from twinbridge.storage.service import FileNotFound, StorageService
from twinbridge.storage.signing import DownloadSigner

Headers = Callable[..., dict[str, str]]
CONTENT = b"ISO-10303-21;\nHEADER;\nENDSEC;\nDATA;\nENDSEC;\nEND-ISO-10303-21;\n"


@pytest.fixture
async def itwin_id(client: httpx.AsyncClient, auth_headers: Headers) -> str:
    response = await client.post("/itwins", json={"displayName": "Plant"}, headers=auth_headers("alice"))
    return str(response.json()["iTwin"]["id"])


async def _add_member(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, subject: str, role: str
) -> None:
    response = await client.post(
        f"/itwins/{itwin_id}/members", json={"subject": subject, "role": role}, headers=auth_headers("alice")
    )
    assert response.status_code in {200, 201}, response.text


async def _root_folder_id(client: httpx.AsyncClient, headers: dict[str, str], itwin_id: str) -> str:
    response = await client.get("/storage/", params={"iTwinId": itwin_id}, headers=headers)
    assert response.status_code == 200, response.text
    return str(response.json()["_links"]["folder"]["href"].rsplit("/", 1)[1])


async def _create(
    client: httpx.AsyncClient, headers: dict[str, str], folder_id: str, name: str = "model.ifc"
) -> dict:
    response = await client.post(
        f"/storage/folders/{folder_id}/files",
        json={"displayName": name, "description": "An export"},
        headers=headers,
    )
    assert response.status_code == 202, response.text
    return dict(response.json()["_links"])


async def _upload(client: httpx.AsyncClient, links: dict, content: bytes = CONTENT) -> httpx.Response:
    # No Authorization: the URL is a secret, like an Azure SAS URL.
    return await client.put(
        links["uploadUrl"]["href"], content=content, headers={"x-ms-blob-type": "BlockBlob"}
    )


async def _stored_file(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    itwin_id: str,
    name: str = "model.ifc",
    content: bytes = CONTENT,
) -> dict:
    links = await _create(client, headers, await _root_folder_id(client, headers, itwin_id), name)
    assert (await _upload(client, links, content)).status_code == 201
    completed = await client.post(links["completeUrl"]["href"], headers=headers)
    assert completed.status_code == 200, completed.text
    return dict(completed.json()["file"])


def _blob_files(runtime: Runtime) -> list[Path]:
    root = runtime.settings.data_dir / "blobs"
    return [path for path in root.rglob("*") if path.is_file()]


async def test_created_uploaded_and_completed_file_is_described(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    root = await _root_folder_id(client, auth_headers("alice"), itwin_id)
    links = await _create(client, auth_headers("alice"), root)
    file_id = links["completeUrl"]["href"].split("/")[-2]
    assert links["completeUrl"]["href"] == f"http://twinbridge.test/storage/files/{file_id}/complete"
    assert links["uploadUrl"]["href"].startswith(
        f"http://twinbridge.test/storage/files/{file_id}/upload?token="
    )
    assert (await _upload(client, links)).status_code == 201
    completed = await client.post(links["completeUrl"]["href"], headers=auth_headers("alice"))
    assert completed.status_code == 200
    file = completed.json()["file"]
    assert file["id"] == file_id
    assert file["displayName"] == "model.ifc"
    assert file["description"] == "An export"
    assert file["path"] == "model.ifc"
    assert file["size"] == len(CONTENT)
    assert file["parentFolderId"] == root
    assert file["lastModifiedByDisplayName"] == "alice"
    assert file["createdDateTime"].endswith("Z")
    assert file["lastModifiedDateTime"].endswith("Z")
    assert file["_links"] == {
        "createdBy": {"href": f"http://twinbridge.test/itwins/{itwin_id}/members/alice"},
        "lastModifiedBy": {"href": f"http://twinbridge.test/itwins/{itwin_id}/members/alice"},
        "parentFolder": {"href": f"http://twinbridge.test/storage/folders/{root}"},
    }
    fetched = await client.get(f"/storage/files/{file_id}", headers=auth_headers("alice"))
    assert fetched.json() == {"file": file}


async def test_download_redirects_to_a_signed_url_that_streams_the_bytes(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    file = await _stored_file(client, auth_headers("alice"), itwin_id, name="Plant ü.ifc")
    redirect = await client.get(f"/storage/files/{file['id']}/download", headers=auth_headers("alice"))
    assert redirect.status_code == 302
    location = redirect.headers["location"]
    assert location.startswith(f"http://twinbridge.test/storage/files/{file['id']}/content?")
    content = await client.get(location)  # no Authorization, like a SAS URL
    assert content.status_code == 200
    assert content.content == CONTENT
    assert content.headers["content-length"] == str(len(CONTENT))
    assert content.headers["content-type"] == "application/octet-stream"
    assert content.headers["content-disposition"] == (
        "attachment; filename=\"Plant _.ifc\"; filename*=UTF-8''Plant%20%C3%BC.ifc"
    )


async def test_signed_download_url_is_readable_from_any_page(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    """A browser that followed the download redirect from a page of another origin (the console opened at
    localhost of a server whose public URL says 127.0.0.1) may read the bytes: the URL needs no
    credentials."""
    file = await _stored_file(client, auth_headers("alice"), itwin_id)
    redirect = await client.get(f"/storage/files/{file['id']}/download", headers=auth_headers("alice"))
    content = await client.get(redirect.headers["location"], headers={"Origin": "http://localhost:8080"})
    assert content.status_code == 200
    assert content.headers["access-control-allow-origin"] == "*"
    assert "access-control-allow-credentials" not in content.headers


async def test_download_url_with_a_forged_signature_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    file = await _stored_file(client, auth_headers("alice"), itwin_id)
    location = (
        await client.get(f"/storage/files/{file['id']}/download", headers=auth_headers("alice"))
    ).headers["location"]
    expires = parse_qs(urlsplit(location).query)["expires"][0]
    forged = await client.get(
        f"/storage/files/{file['id']}/content", params={"expires": expires, "signature": "forged"}
    )
    assert forged.status_code == 403
    assert forged.json() == {
        "error": {
            "code": "AuthenticationFailed",
            "message": "The download URL has expired or its signature is not valid.",
        }
    }
    unsigned = await client.get(f"/storage/files/{file['id']}/content")
    assert unsigned.status_code == 403


async def test_download_url_of_one_file_does_not_open_another(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    first = await _stored_file(client, auth_headers("alice"), itwin_id, name="a.ifc")
    second = await _stored_file(client, auth_headers("alice"), itwin_id, name="b.ifc")
    location = (
        await client.get(f"/storage/files/{first['id']}/download", headers=auth_headers("alice"))
    ).headers["location"]
    swapped = location.replace(first["id"], second["id"])
    assert (await client.get(swapped)).status_code == 403


async def test_expired_download_url_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    file = await _stored_file(client, auth_headers("alice"), itwin_id)
    signer = DownloadSigner.from_signing_key(runtime.issuer.signing_key)
    expired = signer.sign(file["id"], now=time.time() - signer.lifetime_seconds - 1)
    response = await client.get(
        f"/storage/files/{file['id']}/content",
        params={"expires": expired.expires, "signature": expired.signature},
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "AuthenticationFailed"
    fresh = signer.sign(file["id"])
    accepted = await client.get(
        f"/storage/files/{file['id']}/content",
        params={"expires": fresh.expires, "signature": fresh.signature},
    )
    assert accepted.content == CONTENT


async def test_upload_with_a_wrong_token_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    links = await _create(
        client, auth_headers("alice"), await _root_folder_id(client, auth_headers("alice"), itwin_id)
    )
    file_id = links["completeUrl"]["href"].split("/")[-2]
    response = await client.put(f"/storage/files/{file_id}/upload?token=guess", content=b"x")
    assert response.status_code == 404
    assert response.json()["error"] == {"code": "FileNotFound", "message": "Requested file not available."}
    assert _blob_files(runtime) == []


async def test_upload_secrets_are_stored_hashed_and_shown_only_to_the_writer_who_asked(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    await _add_member(client, auth_headers, itwin_id, "rita", "Reader")
    file = await _stored_file(client, auth_headers("alice"), itwin_id)
    refused = await client.post(f"/storage/files/{file['id']}/updatecontent", headers=auth_headers("rita"))
    assert refused.status_code == 403
    assert "uploadUrl" not in refused.text
    started = await client.post(f"/storage/files/{file['id']}/updatecontent", headers=auth_headers("alice"))
    secret = parse_qs(urlsplit(started.json()["_links"]["uploadUrl"]["href"]).query)["token"][0]
    described = await client.get(f"/storage/files/{file['id']}", headers=auth_headers("alice"))
    assert "uploadUrl" not in described.text
    assert secret not in described.text
    async with runtime.database.transaction(write=False) as transaction:
        stored = await transaction.value(
            "SELECT upload_token_hash FROM storage_files WHERE id = :id", {"id": file["id"]}
        )
    assert stored == hashlib.sha256(secret.encode()).hexdigest()
    as_stored = await client.put(f"/storage/files/{file['id']}/upload?token={stored}", content=b"x")
    assert as_stored.status_code == 404  # the digest the database holds opens nothing


async def test_upload_url_stops_working_once_the_file_is_complete(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    root = await _root_folder_id(client, auth_headers("alice"), itwin_id)
    links = await _create(client, auth_headers("alice"), root)
    await _upload(client, links)
    await client.post(links["completeUrl"]["href"], headers=auth_headers("alice"))
    assert (await _upload(client, links, b"replaced")).status_code == 404


async def test_second_upload_before_completion_replaces_the_first(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    root = await _root_folder_id(client, auth_headers("alice"), itwin_id)
    links = await _create(client, auth_headers("alice"), root)
    await _upload(client, links, b"first attempt, longer")
    await _upload(client, links, b"second")
    file = (await client.post(links["completeUrl"]["href"], headers=auth_headers("alice"))).json()["file"]
    assert file["size"] == len(b"second")
    location = (
        await client.get(f"/storage/files/{file['id']}/download", headers=auth_headers("alice"))
    ).headers["location"]
    assert (await client.get(location)).content == b"second"


async def test_complete_without_upload_says_so(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    links = await _create(
        client, auth_headers("alice"), await _root_folder_id(client, auth_headers("alice"), itwin_id)
    )
    response = await client.post(links["completeUrl"]["href"], headers=auth_headers("alice"))
    assert response.status_code == 422
    assert response.json()["error"] == {
        "code": "InvalidStorageRequest",
        "message": "Cannot perform operation.",
        "details": [
            {"code": "FileNotUploaded", "message": "No content has been uploaded to the file's uploadUrl."}
        ],
    }


async def test_completing_twice_answers_the_same_file(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    file = await _stored_file(client, auth_headers("alice"), itwin_id)
    again = await client.post(f"/storage/files/{file['id']}/complete", headers=auth_headers("alice"))
    assert again.status_code == 200
    assert again.json()["file"] == file


async def test_incomplete_file_is_neither_listed_nor_downloadable(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    root = await _root_folder_id(client, auth_headers("alice"), itwin_id)
    links = await _create(client, auth_headers("alice"), root)
    await _upload(client, links)
    file_id = links["completeUrl"]["href"].split("/")[-2]
    listed = await client.get(f"/storage/folders/{root}/files", headers=auth_headers("alice"))
    assert listed.json()["files"] == []
    download = await client.get(f"/storage/files/{file_id}/download", headers=auth_headers("alice"))
    assert download.status_code == 404
    assert download.json()["error"]["code"] == "FileNotFound"


async def test_create_file_names_missing_and_invalid_fields(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    root = await _root_folder_id(client, auth_headers("alice"), itwin_id)
    missing = await client.post(f"/storage/folders/{root}/files", json={}, headers=auth_headers("alice"))
    assert missing.status_code == 422
    assert missing.json()["error"] == {
        "code": "InvalidStorageRequest",
        "message": "Cannot perform operation.",
        "details": [
            {
                "code": "MissingRequiredProperty",
                "message": "displayName was not provided.",
                "target": "displayName",
            }
        ],
    }
    empty = await client.post(
        f"/storage/folders/{root}/files", json={"displayName": ""}, headers=auth_headers("alice")
    )
    assert empty.status_code == 422
    assert empty.json()["error"]["details"][0]["target"] == "displayName"


async def test_create_file_in_an_unknown_folder_is_folder_not_found(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.post(
        "/storage/folders/nope/files", json={"displayName": "a.ifc"}, headers=auth_headers("alice")
    )
    assert response.status_code == 404
    assert response.json()["error"] == {
        "code": "FolderNotFound",
        "message": "Requested folder not available.",
    }


async def test_unknown_file_is_file_not_found(client: httpx.AsyncClient, auth_headers: Headers) -> None:
    for method, path in (
        ("GET", "/storage/files/nope"),
        ("PATCH", "/storage/files/nope"),
        ("DELETE", "/storage/files/nope"),
        ("POST", "/storage/files/nope/complete"),
        ("GET", "/storage/files/nope/download"),
    ):
        response = await client.request(
            method, path, headers=auth_headers("alice"), json={} if method == "PATCH" else None
        )
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == {
            "code": "FileNotFound",
            "message": "Requested file not available.",
        }


async def test_readers_read_but_cannot_write(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    await _add_member(client, auth_headers, itwin_id, "rita", "Reader")
    file = await _stored_file(client, auth_headers("alice"), itwin_id)
    root = file["parentFolderId"]
    rita = auth_headers("rita")
    assert (await client.get(f"/storage/files/{file['id']}", headers=rita)).status_code == 200
    assert (await client.get(f"/storage/files/{file['id']}/download", headers=rita)).status_code == 302
    assert (await client.get("/storage/", params={"iTwinId": itwin_id}, headers=rita)).status_code == 200
    assert (await client.get(f"/storage/folders/{root}/files", headers=rita)).status_code == 200
    for method, path in (
        ("POST", f"/storage/folders/{root}/files"),
        ("PATCH", f"/storage/files/{file['id']}"),
        ("DELETE", f"/storage/files/{file['id']}"),
        ("POST", f"/storage/files/{file['id']}/complete"),
    ):
        response = await client.request(method, path, headers=rita, json={"displayName": "x.ifc"})
        assert response.status_code == 403, (method, path)
        assert response.json()["error"]["code"] == "InsufficientPermissions"


async def test_contributors_may_upload(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    await _add_member(client, auth_headers, itwin_id, "carl", "Contributor")
    file = await _stored_file(client, auth_headers("carl"), itwin_id)
    assert file["_links"]["createdBy"]["href"].endswith("/members/carl")


async def test_strangers_get_403_for_existing_resources(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    file = await _stored_file(client, auth_headers("alice"), itwin_id)
    sam = auth_headers("sam")
    for path in (
        f"/storage/files/{file['id']}",
        f"/storage/files/{file['id']}/download",
        f"/storage/folders/{file['parentFolderId']}",
        f"/storage/folders/{file['parentFolderId']}/files",
        f"/storage/?iTwinId={itwin_id}",
    ):
        response = await client.get(path, headers=sam)
        assert response.status_code == 403, path
        assert response.json()["error"] == {
            "code": "InsufficientPermissions",
            "message": "The user has insufficient permissions for the requested operation.",
        }


async def test_storage_of_an_unknown_itwin_is_not_found(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.get("/storage/", params={"iTwinId": "nope"}, headers=auth_headers("alice"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "iTwinNotFound"


async def test_requests_without_a_token_are_refused(client: httpx.AsyncClient, itwin_id: str) -> None:
    response = await client.get("/storage/", params={"iTwinId": itwin_id})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "HeaderNotFound"


async def test_patch_changes_name_and_description_only_when_given(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    await _add_member(client, auth_headers, itwin_id, "carl", "Contributor")
    file = await _stored_file(client, auth_headers("alice"), itwin_id)
    renamed = await client.patch(
        f"/storage/files/{file['id']}", json={"displayName": "renamed.ifc"}, headers=auth_headers("carl")
    )
    assert renamed.status_code == 200
    body = renamed.json()["file"]
    assert (body["displayName"], body["path"], body["description"]) == (
        "renamed.ifc",
        "renamed.ifc",
        "An export",
    )
    assert body["lastModifiedByDisplayName"] == "carl"
    assert body["_links"]["createdBy"]["href"].endswith("/members/alice")
    assert body["_links"]["lastModifiedBy"]["href"].endswith("/members/carl")
    cleared = await client.patch(
        f"/storage/files/{file['id']}", json={"description": None}, headers=auth_headers("carl")
    )
    assert cleared.json()["file"]["description"] is None
    assert cleared.json()["file"]["displayName"] == "renamed.ifc"
    nameless = await client.patch(
        f"/storage/files/{file['id']}", json={"displayName": None}, headers=auth_headers("carl")
    )
    assert nameless.status_code == 422
    assert nameless.json()["error"]["code"] == "InvalidStorageRequest"


async def test_delete_removes_the_file_and_its_blob(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    file = await _stored_file(client, auth_headers("alice"), itwin_id)
    location = (
        await client.get(f"/storage/files/{file['id']}/download", headers=auth_headers("alice"))
    ).headers["location"]
    assert _blob_files(runtime)
    assert (
        await client.delete(f"/storage/files/{file['id']}", headers=auth_headers("alice"))
    ).status_code == 204
    assert (
        await client.get(f"/storage/files/{file['id']}", headers=auth_headers("alice"))
    ).status_code == 404
    assert _blob_files(runtime) == []
    assert (await client.get(location)).status_code == 404  # a signed URL outlives nothing


async def test_top_level_list_pages_with_links(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    for name in ("a.ifc", "b.ifc", "c.ifc"):
        await _stored_file(client, auth_headers("alice"), itwin_id, name=name)
    first = await client.get(
        "/storage/", params={"iTwinId": itwin_id, "$top": 2}, headers=auth_headers("alice")
    )
    body = first.json()
    root = body["_links"]["folder"]["href"].rsplit("/", 1)[1]
    assert [item["displayName"] for item in body["items"]] == ["a.ifc", "b.ifc"]
    assert {item["type"] for item in body["items"]} == {"file"}
    assert body["_links"]["folder"] == {"href": f"http://twinbridge.test/storage/folders/{root}"}
    assert (
        body["_links"]["self"]["href"] == f"http://twinbridge.test/storage/?iTwinId={itwin_id}&$skip=0&$top=2"
    )
    assert (
        body["_links"]["next"]["href"] == f"http://twinbridge.test/storage/?iTwinId={itwin_id}&$skip=2&$top=2"
    )
    assert "prev" not in body["_links"]
    second = (await client.get(body["_links"]["next"]["href"], headers=auth_headers("alice"))).json()
    assert [item["displayName"] for item in second["items"]] == ["c.ifc"]
    assert "next" not in second["_links"]
    assert second["_links"]["prev"]["href"].endswith("$skip=0&$top=2")


async def test_root_folder_is_the_same_on_every_call_and_can_be_read(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    first = await _root_folder_id(client, auth_headers("alice"), itwin_id)
    assert await _root_folder_id(client, auth_headers("alice"), itwin_id) == first
    folder = (await client.get(f"/storage/folders/{first}", headers=auth_headers("alice"))).json()["folder"]
    assert folder["id"] == first
    assert folder["parentFolderId"] is None
    assert folder["path"] == ""


async def test_files_in_folder_list_pages_with_links(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    for name in ("a.ifc", "b.ifc"):
        file = await _stored_file(client, auth_headers("alice"), itwin_id, name=name)
    folder = file["parentFolderId"]
    page = await client.get(
        f"/storage/folders/{folder}/files", params={"$top": 1, "$skip": 1}, headers=auth_headers("alice")
    )
    body = page.json()
    assert [item["displayName"] for item in body["files"]] == ["b.ifc"]
    assert "type" not in body["files"][0]
    assert (
        body["_links"]["prev"]["href"]
        == f"http://twinbridge.test/storage/folders/{folder}/files?$skip=0&$top=1"
    )
    assert "next" not in body["_links"]
    too_big = await client.get(
        f"/storage/folders/{folder}/files", params={"$top": 1001}, headers=auth_headers("alice")
    )
    assert too_big.status_code == 422
    assert too_big.json()["error"]["code"] == "InvalidStorageRequest"


async def test_stored_file_from_another_feature_is_complete_and_readable(
    runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "output.ifc"
    source.write_bytes(CONTENT)
    async with runtime.database.transaction() as transaction:
        stored = await StorageService(transaction, runtime.blobs).store_file(
            itwin_id, "output.ifc", source, "alice"
        )
    async with runtime.database.transaction(write=False) as transaction:
        service = StorageService(transaction, runtime.blobs)
        with await service.open_for_read(stored.id) as stream:
            assert stream.read() == CONTENT
        assert (await service.local_path(stored.id)).read_bytes() == CONTENT
        assert (await service.local_path(stored.id)).suffix == ".ifc"
    listed = await client.get("/storage/", params={"iTwinId": itwin_id}, headers=auth_headers("alice"))
    assert [item["id"] for item in listed.json()["items"]] == [stored.id]
    location = (
        await client.get(f"/storage/files/{stored.id}/download", headers=auth_headers("alice"))
    ).headers["location"]
    assert (await client.get(location)).content == CONTENT


async def test_stored_file_is_removed_when_its_transaction_rolls_back(
    runtime: Runtime, itwin_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "output.ifc"
    source.write_bytes(CONTENT)

    async def store_then_fail() -> None:
        async with runtime.database.transaction() as transaction:
            await StorageService(transaction, runtime.blobs).store_file(
                itwin_id, "output.ifc", source, "alice"
            )
            raise RuntimeError("the run failed after storing its output")

    with pytest.raises(RuntimeError):
        await store_then_fail()
    assert _blob_files(runtime) == []


async def test_runs_cannot_read_a_file_of_another_itwin(
    runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, tmp_path: Path
) -> None:
    source = tmp_path / "mapping.json"
    source.write_bytes(b"{}")
    other = await client.post("/itwins", json={"displayName": "Other"}, headers=auth_headers("alice"))
    other_itwin_id = other.json()["iTwin"]["id"]
    async with runtime.database.transaction() as transaction:
        stored = await StorageService(transaction, runtime.blobs).store_file(
            itwin_id, "m.json", source, "alice"
        )
    async with runtime.database.transaction(write=False) as transaction:
        service = StorageService(transaction, runtime.blobs)
        assert (await service.local_path(stored.id, itwin_id)).read_bytes() == b"{}"
        with pytest.raises(FileNotFound):
            await service.local_path(stored.id, other_itwin_id)
        with pytest.raises(FileNotFound):
            await service.open_for_read(stored.id, other_itwin_id)


async def test_storage_without_trailing_slash_lists_too(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    response = await client.get("/storage", params={"iTwinId": itwin_id}, headers=auth_headers("alice"))
    assert response.status_code == 200
    assert response.json()["items"] == []
    assert response.json()["_links"]["self"]["href"].startswith("http://twinbridge.test/storage?iTwinId=")


async def test_top_level_list_shows_subfolders_before_files_across_pages(
    runtime: Runtime, client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    file = await _stored_file(client, auth_headers("alice"), itwin_id, name="a.ifc")
    async with runtime.database.transaction() as transaction:
        await transaction.execute(
            FOLDERS.insert_sql,
            FOLDERS.values(
                StorageFolder(
                    id="5d3c2b1a-0000-4000-8000-000000000001",
                    itwin_id=itwin_id,
                    parent_id=file["parentFolderId"],
                    display_name="Designs",
                    created_by="alice",
                    modified_by="alice",
                )
            ),
        )
    params = {"iTwinId": itwin_id, "$top": 1}
    first = (await client.get("/storage/", params=params, headers=auth_headers("alice"))).json()
    assert [(item["type"], item["displayName"], item["path"]) for item in first["items"]] == [
        ("folder", "Designs", "Designs")
    ]
    assert first["items"][0]["parentFolderId"] == file["parentFolderId"]
    second = (await client.get(first["_links"]["next"]["href"], headers=auth_headers("alice"))).json()
    assert [(item["type"], item["id"]) for item in second["items"]] == [("file", file["id"])]
    assert "next" not in second["_links"]
    folder = await client.get(
        "/storage/folders/5d3c2b1a-0000-4000-8000-000000000001", headers=auth_headers("alice")
    )
    assert folder.json()["folder"]["_links"]["parentFolder"] == {
        "href": f"http://twinbridge.test/storage/folders/{file['parentFolderId']}"
    }


# Update file content: a complete file's bytes are replaced in three steps; it keeps the old ones until then.


async def _content(client: httpx.AsyncClient, headers: dict[str, str], file_id: str) -> bytes:
    redirect = await client.get(f"/storage/files/{file_id}/download", headers=headers)
    assert redirect.status_code == 302, redirect.text
    return (await client.get(redirect.headers["location"])).content


async def test_update_content_replaces_the_bytes_once_completed(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    headers = auth_headers("alice")
    file = await _stored_file(client, headers, itwin_id)
    started = await client.post(f"/storage/files/{file['id']}/updatecontent", headers=headers)
    assert started.status_code == 200, started.text
    links = started.json()["_links"]
    assert links["completeUrl"]["href"] == f"http://twinbridge.test/storage/files/{file['id']}/complete"
    assert links["uploadUrl"]["href"].startswith(f"http://twinbridge.test/storage/files/{file['id']}/upload?")
    new_content = CONTENT.replace(b"DATA;", b"DATA;\n#1=IFCPERSON($,$,'x',$,$,$,$,$);")
    assert (await _upload(client, links, new_content)).status_code == 201
    assert await _content(client, headers, file["id"]) == CONTENT  # not yet: the update is not complete
    completed = await client.post(links["completeUrl"]["href"], headers=headers)
    assert completed.status_code == 200, completed.text
    assert completed.json()["file"]["size"] == len(new_content)
    assert completed.json()["file"]["id"] == file["id"]
    assert await _content(client, headers, file["id"]) == new_content
    assert len(_blob_files(runtime)) == 1  # the old content is gone
    assert (await _upload(client, links, CONTENT)).status_code == 404  # the upload URL stopped working


async def test_update_content_may_rename_and_completing_without_an_upload_says_so(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    headers = auth_headers("alice")
    file = await _stored_file(client, headers, itwin_id)
    started = await client.post(
        f"/storage/files/{file['id']}/updatecontent", json={"displayName": "v2.ifc"}, headers=headers
    )
    refused = await client.post(started.json()["_links"]["completeUrl"]["href"], headers=headers)
    assert refused.status_code == 422
    assert refused.json()["error"]["details"][0]["code"] == "FileNotUploaded"
    described = (await client.get(f"/storage/files/{file['id']}", headers=headers)).json()["file"]
    assert (described["displayName"], described["size"]) == ("v2.ifc", len(CONTENT))


async def test_a_second_update_discards_the_first_pending_upload(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    headers = auth_headers("alice")
    file = await _stored_file(client, headers, itwin_id)
    first = (await client.post(f"/storage/files/{file['id']}/updatecontent", headers=headers)).json()
    assert (await _upload(client, first["_links"], b"first pending")).status_code == 201
    second = (await client.post(f"/storage/files/{file['id']}/updatecontent", headers=headers)).json()
    assert (await _upload(client, first["_links"], b"stale URL")).status_code == 404
    assert (await _upload(client, second["_links"], b"second")).status_code == 201
    assert (await client.post(second["_links"]["completeUrl"]["href"], headers=headers)).status_code == 200
    assert await _content(client, headers, file["id"]) == b"second"
    assert len(_blob_files(runtime)) == 1


async def test_update_content_needs_write_access_to_a_complete_file(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    await _add_member(client, auth_headers, itwin_id, "rita", "Reader")
    file = await _stored_file(client, auth_headers("alice"), itwin_id)
    reader = await client.post(f"/storage/files/{file['id']}/updatecontent", headers=auth_headers("rita"))
    assert reader.status_code == 403
    unknown = await client.post("/storage/files/nope/updatecontent", headers=auth_headers("alice"))
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "FileNotFound"
    root = await _root_folder_id(client, auth_headers("alice"), itwin_id)
    incomplete = (await _create(client, auth_headers("alice"), root))["completeUrl"]["href"].split("/")[-2]
    not_yet = await client.post(f"/storage/files/{incomplete}/updatecontent", headers=auth_headers("alice"))
    assert not_yet.status_code == 404


async def test_deleting_a_file_during_an_update_removes_both_contents(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    headers = auth_headers("alice")
    file = await _stored_file(client, headers, itwin_id)
    links = (await client.post(f"/storage/files/{file['id']}/updatecontent", headers=headers)).json()[
        "_links"
    ]
    assert (await _upload(client, links, b"pending")).status_code == 201
    assert len(_blob_files(runtime)) == 2
    assert (await client.delete(f"/storage/files/{file['id']}", headers=headers)).status_code == 204
    assert _blob_files(runtime) == []


# Folders: create, get, list, update, delete with their content.


async def _folder(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    parent_id: str,
    name: str,
    description: str | None = None,
) -> dict:
    body: dict[str, object] = {"displayName": name}
    if description is not None:
        body["description"] = description
    response = await client.post(f"/storage/folders/{parent_id}/folders", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json()["folder"])


async def _file_in(
    client: httpx.AsyncClient, headers: dict[str, str], folder_id: str, name: str, content: bytes = CONTENT
) -> dict:
    links = await _create(client, headers, folder_id, name)
    assert (await _upload(client, links, content)).status_code == 201
    completed = await client.post(links["completeUrl"]["href"], headers=headers)
    assert completed.status_code == 200, completed.text
    return dict(completed.json()["file"])


async def test_created_folder_is_described_like_upstream_and_read_back(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    root = await _root_folder_id(client, auth_headers("alice"), itwin_id)
    folder = await _folder(client, auth_headers("alice"), root, "Designs", "Design files")
    member = f"http://twinbridge.test/itwins/{itwin_id}/members/alice"
    assert {key: value for key, value in folder.items() if not key.endswith("DateTime")} == {
        "id": folder["id"],
        "displayName": "Designs",
        "description": "Design files",
        "path": "Designs",
        "lastModifiedByDisplayName": "alice",
        "parentFolderId": root,
        "_links": {
            "createdBy": {"href": member},
            "lastModifiedBy": {"href": member},
            "parentFolder": {"href": f"http://twinbridge.test/storage/folders/{root}"},
        },
    }
    assert folder["createdDateTime"].endswith("Z")
    fetched = await client.get(f"/storage/folders/{folder['id']}", headers=auth_headers("alice"))
    assert fetched.json() == {"folder": folder}
    nested = await _folder(client, auth_headers("alice"), folder["id"], "Level 1")
    assert (nested["path"], nested["parentFolderId"], nested["description"]) == (
        "Designs/Level 1",
        folder["id"],
        None,
    )


async def test_folder_lists_show_subfolders_then_files_in_pages(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    headers = auth_headers("alice")
    root = await _root_folder_id(client, headers, itwin_id)
    designs = await _folder(client, headers, root, "Designs")
    sub_a = await _folder(client, headers, designs["id"], "A")
    sub_b = await _folder(client, headers, designs["id"], "B")
    file = await _file_in(client, headers, designs["id"], "plan.ifc")
    assert file["path"] == "Designs/plan.ifc"

    folders = (await client.get(f"/storage/folders/{designs['id']}/folders", headers=headers)).json()
    assert folders["folders"] == [sub_a, sub_b]
    assert folders["_links"]["self"]["href"] == (
        f"http://twinbridge.test/storage/folders/{designs['id']}/folders?$skip=0&$top=100"
    )
    first = (
        await client.get(f"/storage/folders/{designs['id']}/list", params={"$top": 2}, headers=headers)
    ).json()
    assert [(item["type"], item["displayName"], item["path"]) for item in first["items"]] == [
        ("folder", "A", "Designs/A"),
        ("folder", "B", "Designs/B"),
    ]
    second = (await client.get(first["_links"]["next"]["href"], headers=headers)).json()
    assert second["items"] == [{"type": "file", **file}]
    assert "next" not in second["_links"]
    top_level = (await client.get("/storage/", params={"iTwinId": itwin_id}, headers=headers)).json()
    assert [(item["type"], item["id"]) for item in top_level["items"]] == [("folder", designs["id"])]
    root_list = (await client.get(f"/storage/folders/{root}/list", headers=headers)).json()
    assert root_list["items"] == top_level["items"]


async def test_patch_renames_a_folder_and_the_paths_below_it_follow(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    await _add_member(client, auth_headers, itwin_id, "carl", "Contributor")
    headers = auth_headers("alice")
    root = await _root_folder_id(client, headers, itwin_id)
    designs = await _folder(client, headers, root, "Designs", "old")
    nested = await _folder(client, headers, designs["id"], "Level 1")
    file = await _file_in(client, headers, nested["id"], "plan.ifc")
    renamed = await client.patch(
        f"/storage/folders/{designs['id']}", json={"displayName": "Plans"}, headers=auth_headers("carl")
    )
    assert renamed.status_code == 200, renamed.text
    body = renamed.json()["folder"]
    assert (body["displayName"], body["description"], body["path"]) == ("Plans", "old", "Plans")
    assert body["lastModifiedByDisplayName"] == "carl"
    assert body["_links"]["lastModifiedBy"]["href"].endswith("/members/carl")
    assert body["_links"]["createdBy"]["href"].endswith("/members/alice")
    cleared = await client.patch(
        f"/storage/folders/{designs['id']}", json={"description": None}, headers=headers
    )
    assert (cleared.json()["folder"]["displayName"], cleared.json()["folder"]["description"]) == (
        "Plans",
        None,
    )
    moved_nested = (await client.get(f"/storage/folders/{nested['id']}", headers=headers)).json()["folder"]
    assert moved_nested["path"] == "Plans/Level 1"
    moved_file = (await client.get(f"/storage/files/{file['id']}", headers=headers)).json()["file"]
    assert moved_file["path"] == "Plans/Level 1/plan.ifc"


async def test_deleting_a_folder_deletes_its_subtree_and_their_bytes(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    headers = auth_headers("alice")
    root = await _root_folder_id(client, headers, itwin_id)
    doomed = await _folder(client, headers, root, "Doomed")
    nested = await _folder(client, headers, doomed["id"], "Nested")
    kept = await _folder(client, headers, root, "Kept")
    files = [
        await _file_in(client, headers, doomed["id"], "a.ifc", b"a"),
        await _file_in(client, headers, nested["id"], "b.ifc", b"b"),
    ]
    pending = await client.post(f"/storage/files/{files[1]['id']}/updatecontent", headers=headers)
    assert (await _upload(client, pending.json()["_links"], b"pending")).status_code == 201
    kept_file = await _file_in(client, headers, kept["id"], "c.ifc", b"c")
    assert len(_blob_files(runtime)) == 4

    response = await client.delete(f"/storage/folders/{doomed['id']}", headers=headers)
    assert response.status_code == 204
    assert response.content == b""
    assert "content-type" not in response.headers
    for path in (f"/storage/folders/{doomed['id']}", f"/storage/folders/{nested['id']}"):
        gone = await client.get(path, headers=headers)
        assert (gone.status_code, gone.json()["error"]["code"]) == (404, "FolderNotFound")
    for file in files:
        assert (await client.get(f"/storage/files/{file['id']}", headers=headers)).status_code == 404
    assert [path.read_bytes() for path in _blob_files(runtime)] == [b"c"]
    assert (await client.get(f"/storage/files/{kept_file['id']}", headers=headers)).status_code == 200
    listed = (await client.get(f"/storage/folders/{root}/list", headers=headers)).json()["items"]
    assert [item["id"] for item in listed] == [kept["id"]]


async def test_a_folder_deletion_that_rolls_back_keeps_the_folder_and_its_bytes(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, runtime: Runtime
) -> None:
    headers = auth_headers("alice")
    root = await _root_folder_id(client, headers, itwin_id)
    folder = await _folder(client, headers, root, "Designs")
    file = await _file_in(client, headers, folder["id"], "a.ifc", b"a")

    async def delete_then_fail() -> None:
        async with runtime.database.transaction() as transaction:
            await StorageService(transaction, runtime.blobs).delete_folder(folder["id"], "alice")
            raise RuntimeError("something after the deletion failed")

    with pytest.raises(RuntimeError):
        await delete_then_fail()
    assert [path.read_bytes() for path in _blob_files(runtime)] == [b"a"]
    assert (await client.get(f"/storage/files/{file['id']}", headers=headers)).status_code == 200


async def test_root_folder_cannot_be_deleted_or_changed(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    root = await _root_folder_id(client, auth_headers("alice"), itwin_id)
    deleted = await client.delete(f"/storage/folders/{root}", headers=auth_headers("alice"))
    assert deleted.status_code == 422
    assert deleted.json()["error"] == {
        "code": "InvalidStorageRequest",
        "message": "Cannot perform operation.",
        "details": [
            {
                "code": "RootFolder",
                "message": "The root folder of an iTwin cannot be deleted.",
                "target": "folderId",
            }
        ],
    }
    renamed = await client.patch(
        f"/storage/folders/{root}", json={"displayName": "x"}, headers=auth_headers("alice")
    )
    assert renamed.status_code == 422
    assert renamed.json()["error"]["code"] == "InvalidCreateFolderRequest"
    assert (await client.get(f"/storage/folders/{root}", headers=auth_headers("alice"))).json()["folder"][
        "displayName"
    ] == "root"


@pytest.mark.parametrize(
    ("body", "code", "target"),
    [
        ({"displayName": "a/b"}, "InvalidValue", "displayName"),
        ({"displayName": 'say "hi"'}, "InvalidValue", "displayName"),
        ({"displayName": "tab\there"}, "InvalidValue", "displayName"),
        ({"displayName": ".."}, "InvalidValue", "displayName"),
        ({"displayName": "x" * 256}, "InvalidValue", "displayName"),
        ({"displayName": ""}, "InvalidValue", "displayName"),
        ({"description": "no name"}, "MissingRequiredProperty", "displayName"),
    ],
)
async def test_invalid_folder_bodies_are_invalid_create_folder_requests(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str, body: dict, code: str, target: str
) -> None:
    root = await _root_folder_id(client, auth_headers("alice"), itwin_id)
    response = await client.post(f"/storage/folders/{root}/folders", json=body, headers=auth_headers("alice"))
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "InvalidCreateFolderRequest"
    assert [(detail["code"], detail["target"]) for detail in error["details"]] == [(code, target)]
    folder = await _folder(client, auth_headers("alice"), root, "Valid")
    if "displayName" in body:
        patched = await client.patch(
            f"/storage/folders/{folder['id']}", json=body, headers=auth_headers("alice")
        )
        assert patched.status_code == 422
        assert patched.json()["error"]["code"] == "InvalidCreateFolderRequest"
    nameless = await client.patch(
        f"/storage/folders/{folder['id']}", json={"displayName": None}, headers=auth_headers("alice")
    )
    assert nameless.status_code == 422


async def test_folder_operations_follow_the_itwin_roles(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    await _add_member(client, auth_headers, itwin_id, "rita", "Reader")
    root = await _root_folder_id(client, auth_headers("alice"), itwin_id)
    folder = await _folder(client, auth_headers("alice"), root, "Designs")
    reader = auth_headers("rita")
    assert (await client.get(f"/storage/folders/{folder['id']}", headers=reader)).status_code == 200
    assert (await client.get(f"/storage/folders/{root}/folders", headers=reader)).status_code == 200
    assert (await client.get(f"/storage/folders/{root}/list", headers=reader)).status_code == 200
    writes = [
        client.post(f"/storage/folders/{root}/folders", json={"displayName": "x"}, headers=reader),
        client.patch(f"/storage/folders/{folder['id']}", json={"displayName": "x"}, headers=reader),
        client.delete(f"/storage/folders/{folder['id']}", headers=reader),
    ]
    for write in writes:
        response = await write
        assert response.status_code == 403
        assert response.json()["error"]["code"] == "InsufficientPermissions"
    stranger = auth_headers("mallory")
    assert (await client.get(f"/storage/folders/{folder['id']}/list", headers=stranger)).status_code == 403
    assert (await client.get(f"/storage/folders/{folder['id']}", headers=auth_headers("alice"))).json()[
        "folder"
    ]["displayName"] == "Designs"


async def test_unknown_folders_are_folder_not_found_for_every_operation(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    headers = auth_headers("alice")
    for response in (
        await client.get("/storage/folders/nope/folders", headers=headers),
        await client.get("/storage/folders/nope/list", headers=headers),
        await client.post("/storage/folders/nope/folders", json={"displayName": "x"}, headers=headers),
        await client.patch("/storage/folders/nope", json={"displayName": "x"}, headers=headers),
        await client.delete("/storage/folders/nope", headers=headers),
    ):
        assert response.status_code == 404
        assert response.json()["error"] == {
            "code": "FolderNotFound",
            "message": "Requested folder not available.",
        }
