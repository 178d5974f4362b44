"""Bad input gets a 4xx in the contract's envelope, never a 500, on SQLite and on PostgreSQL: offsets past
what a database takes, sizes past any file, NUL characters, oversized and non-UTF-8 bodies; a busy database
is a 503 and a full disk a 507."""

from __future__ import annotations

import errno
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, BinaryIO

import httpx
import pytest

from twinbridge.app import create_app
from twinbridge.config import Settings
from twinbridge.db import database as database_module
from twinbridge.imodels.schemas import MAX_BASELINE_FILE_SIZE
from twinbridge.platform.intake import NUL_REASON
from twinbridge.platform.paging import MAX_SKIP
from twinbridge.runtime import Runtime
from twinbridge.storage.blobs import LocalBlobStorage

Headers = Callable[..., dict[str, str]]


@pytest.fixture
async def itwin_id(client: httpx.AsyncClient, auth_headers: Headers) -> str:
    response = await client.post("/itwins", json={"displayName": "Plant"}, headers=auth_headers("alice"))
    assert response.status_code == 201, response.text
    return str(response.json()["iTwin"]["id"])


def _details(response: httpx.Response) -> list[dict[str, str]]:
    return list(response.json()["error"]["details"])


def _list_urls(client: httpx.AsyncClient, itwin_id: str) -> list[str]:
    """Every operation that pages, with its required parameters: ids that exist where a list reads them."""
    app = client._transport.app  # type: ignore[attr-defined]
    urls = []
    for path, operations in app.openapi()["paths"].items():
        parameters = operations.get("get", {}).get("parameters", [])
        if not any(parameter["name"] == "$skip" for parameter in parameters):
            continue
        query = {
            parameter["name"]: itwin_id if parameter["name"].lower() == "itwinid" else str(uuid.uuid4())
            for parameter in parameters
            if parameter["in"] == "query" and parameter.get("required")
        }
        filled = path.replace("{itwin_id}", itwin_id)
        for word in filled.split("/"):
            if word.startswith("{"):
                filled = filled.replace(word, str(uuid.uuid4()))
        urls.append(str(httpx.URL(filled, params=query)))
    return urls


async def test_every_list_refuses_a_skip_past_the_largest_offset_and_takes_the_largest(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    headers = auth_headers("alice")
    urls = _list_urls(client, itwin_id)
    assert len(urls) >= 15
    for url in urls:
        joiner = "&" if "?" in url else "?"
        for skip in (MAX_SKIP + 1, 10**30):
            response = await client.get(f"{url}{joiner}$skip={skip}", headers=headers)
            assert response.status_code == 422, (url, response.text)
            assert [detail["target"] for detail in _details(response)] == ["$skip"], url
    for url in (
        f"/itwins/{itwin_id}/members",
        f"/imodels?iTwinId={itwin_id}",
        f"/storage/?iTwinId={itwin_id}",
    ):
        joiner = "&" if "?" in url else "?"
        response = await client.get(f"{url}{joiner}$skip={MAX_SKIP}", headers=headers)
        assert response.status_code == 200, (url, response.text)
        assert "next" not in response.json()["_links"]


async def test_a_baseline_file_larger_than_any_upload_is_refused(
    client: httpx.AsyncClient, auth_headers: Headers, itwin_id: str
) -> None:
    for size in (10**30, MAX_BASELINE_FILE_SIZE + 1):
        response = await client.post(
            "/imodels",
            json={"iTwinId": itwin_id, "name": "Huge", "baselineFile": {"size": size}},
            headers=auth_headers("alice"),
        )
        assert response.status_code == 422, response.text
        assert [detail["target"] for detail in _details(response)] == ["baselineFile.size"]


@pytest.mark.parametrize(
    ("method", "path", "body", "target"),
    [
        ("POST", "/itwins", {"displayName": "a\x00b"}, "displayName"),
        ("GET", "/itwins/{itwin}%00", None, "itwin_id"),
        ("GET", "/itwins?search=a%00", None, "search"),
        ("POST", "/itwins/{itwin}/members", {"subject": "bob\x00", "role": "Reader"}, "subject"),
        ("DELETE", "/itwins/{itwin}/members/bob%00", None, "subject"),
        ("GET", "/imodels?iTwinId={itwin}%00", None, "iTwinId"),
    ],
)
async def test_a_nul_character_in_a_name_id_query_value_or_member_subject_is_a_422_naming_it(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    itwin_id: str,
    method: str,
    path: str,
    body: dict[str, Any] | None,
    target: str,
) -> None:
    response = await client.request(
        method, path.format(itwin=itwin_id), json=body, headers=auth_headers("alice")
    )
    assert response.status_code == 422, response.text
    assert _details(response) == [
        {
            "code": "InvalidValue",
            "message": f"Provided {target} value is not valid: {NUL_REASON}.",
            "target": target,
        }
    ]
    listed = await client.get("/itwins", headers=auth_headers("alice"))
    assert [item["displayName"] for item in listed.json()["iTwins"]] == ["Plant"]


async def test_a_json_body_that_is_not_utf8_is_malformed_json(
    client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    response = await client.post(
        "/itwins",
        content='{"displayName": "Usine é"}'.encode("latin-1"),
        headers={**auth_headers("alice"), "content-type": "application/json"},
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": {
            "code": "InvalidiTwinsRequest",
            "message": "Cannot perform operation.",
            "details": [{"code": "InvalidRequestBody", "message": "Error parsing JSON, malformed JSON."}],
        }
    }


@pytest.fixture
async def small_body_client(
    make_settings: Callable[..., Settings], runtime: Runtime
) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a 2 KiB body limit, on the same database as `client`."""
    settings = make_settings(max_body_size=2048)
    transport = httpx.ASGITransport(app=create_app(settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as small:
        yield small


async def test_a_body_past_the_limit_is_413_and_one_without_a_token_401_before_either_is_read(
    small_body_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    large = {"displayName": "Plant", "description": "x" * 4096}
    refused = await small_body_client.post("/itwins", json=large, headers=auth_headers("alice"))
    assert refused.status_code == 413
    assert refused.json() == {
        "error": {
            "code": "PayloadTooLarge",
            "message": "The request body is larger than this server accepts.",
        }
    }
    assert refused.headers["connection"] == "close"
    read: list[bytes] = []

    async def body() -> AsyncIterator[bytes]:
        read.append(b"{}")
        yield b"{}"

    anonymous = await small_body_client.post("/itwins", content=body())
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "HeaderNotFound"
    assert read == []
    listed = await small_body_client.get("/itwins", headers=auth_headers("alice"))
    assert listed.json()["iTwins"] == []


async def test_uploads_keep_their_own_limit_past_the_body_limit(
    small_body_client: httpx.AsyncClient, auth_headers: Headers
) -> None:
    headers = auth_headers("alice")
    created = await small_body_client.post("/itwins", json={"displayName": "Plant"}, headers=headers)
    itwin = created.json()["iTwin"]["id"]
    root = await small_body_client.get("/storage/", params={"iTwinId": itwin}, headers=headers)
    folder = root.json()["_links"]["folder"]["href"].rsplit("/", 1)[1]
    links = (
        await small_body_client.post(
            f"/storage/folders/{folder}/files", json={"displayName": "big.ifc"}, headers=headers
        )
    ).json()["_links"]
    uploaded = await small_body_client.put(links["uploadUrl"]["href"], content=b"x" * 10_000)
    assert uploaded.status_code == 201, uploaded.text
    completed = await small_body_client.post(links["completeUrl"]["href"], headers=headers)
    assert completed.json()["file"]["size"] == 10_000


async def test_a_write_while_another_process_holds_sqlite_is_503_with_retry_after_and_reads_go_on(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    runtime: Runtime,
    itwin_id: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    if not runtime.settings.is_sqlite:
        pytest.skip("PostgreSQL has no database-wide write lock")
    monkeypatch.setattr(database_module, "WRITE_LOCK_WAIT_SECONDS", 0.2)
    other_process = sqlite3.connect(runtime.settings.sqlite_path, isolation_level=None)
    other_process.execute("BEGIN IMMEDIATE")
    try:
        busy = await client.post("/itwins", json={"displayName": "Mill"}, headers=auth_headers("alice"))
        read = await client.get(f"/itwins/{itwin_id}", headers=auth_headers("alice"))
    finally:
        other_process.execute("ROLLBACK")
        other_process.close()
    assert busy.status_code == 503
    assert busy.headers["retry-after"] == "1"
    assert busy.json() == {
        "error": {
            "code": "ServiceUnavailable",
            "message": "The database is busy with another writer; try again shortly.",
        }
    }
    assert read.json()["iTwin"]["displayName"] == "Plant"


async def _new_upload(client: httpx.AsyncClient, headers: dict[str, str], itwin_id: str) -> dict[str, Any]:
    root = await client.get("/storage/", params={"iTwinId": itwin_id}, headers=headers)
    folder = root.json()["_links"]["folder"]["href"].rsplit("/", 1)[1]
    created = await client.post(
        f"/storage/folders/{folder}/files", json={"displayName": "model.ifc"}, headers=headers
    )
    return dict(created.json()["_links"])


def _files_under(directory: Path) -> list[Path]:
    return [path for path in directory.rglob("*") if path.is_file()]


class _FileOnAFullDisk:
    """A file opened for writing on a disk that filled up after its first bytes."""

    def __init__(self, handle: BinaryIO) -> None:
        self.handle = handle
        handle.write(b"partial")
        handle.flush()

    def write(self, data: bytes) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")

    def __enter__(self) -> _FileOnAFullDisk:
        return self

    def __exit__(self, *exception: object) -> None:
        self.handle.close()


@pytest.mark.parametrize("full_at", ["receiving", "storing"])
async def test_an_upload_on_a_full_disk_is_507_and_keeps_nothing(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    runtime: Runtime,
    itwin_id: str,
    monkeypatch: pytest.MonkeyPatch,
    full_at: str,
) -> None:
    headers = auth_headers("alice")
    links = await _new_upload(client, headers, itwin_id)
    if full_at == "receiving":  # the body's temporary file
        original_open = Path.open

        def open_on_a_full_disk(path: Path, mode: str = "r", *arguments: Any, **keywords: Any) -> Any:
            handle = original_open(path, mode, *arguments, **keywords)
            return _FileOnAFullDisk(handle) if mode == "wb" else handle

        monkeypatch.setattr(Path, "open", open_on_a_full_disk)
    else:  # the blob it is copied to

        def put_on_a_full_disk(storage: LocalBlobStorage, key: str, source: Path) -> None:
            raise OSError(errno.ENOSPC, "No space left on device")

        monkeypatch.setattr(LocalBlobStorage, "put_file", put_on_a_full_disk)
    response = await client.put(links["uploadUrl"]["href"], content=b"ISO-10303-21;" * 100)
    monkeypatch.undo()
    assert response.status_code == 507
    assert response.json() == {
        "error": {
            "code": "InsufficientStorage",
            "message": "The server has no space left to store the request's data; try again later.",
        }
    }
    assert _files_under(runtime.settings.data_dir / "tmp") == []
    assert _files_under(runtime.settings.data_dir / "blobs") == []
    completed = await client.post(links["completeUrl"]["href"], headers=headers)
    assert completed.status_code == 422, completed.text  # nothing was uploaded
    retried = await client.put(links["uploadUrl"]["href"], content=b"ISO-10303-21;")
    assert retried.status_code == 201
