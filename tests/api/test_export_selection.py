"""Never more data than asked: an export run that cannot honour `savedViewId` or `modelIds` fails before
it writes anything, to the caller's outputSasUrl or to storage, with a task error the user can act on."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from tests.api.export_world import World, create_connection, start_run
from tests.api.export_world import world as world  # the fixture
from twinbridge.config import Settings
from twinbridge.features import run_executors
from twinbridge.runs.worker import RunWorker
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]


class BlobContainer:
    """A caller's blob storage: records every PUT it receives."""

    def __init__(self) -> None:
        self.puts: list[str] = []
        container = self

        class Handler(BaseHTTPRequestHandler):
            def do_PUT(self) -> None:
                self.rfile.read(int(self.headers.get("content-length", "0")))
                container.puts.append(self.path)
                self.send_response(201)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def container() -> Iterator[BlobContainer]:
    started = BlobContainer()
    yield started
    started.close()


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    """The caller's container is on this machine: the server may write to private addresses here."""
    return make_settings(fetch_allow_private=True)


@pytest.fixture
async def executed(runtime: Runtime) -> Callable[[], Awaitable[None]]:
    async def execute() -> None:
        worker = RunWorker(runtime, run_executors())
        while await worker.run_once():
            pass

    return execute


async def _run(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    container: BlobContainer,
    execute: Callable[[], Awaitable[None]],
    input_options: dict[str, Any],
) -> dict[str, Any]:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    started = await start_run(
        client,
        auth_headers("alice"),
        connection["id"],
        inputOptions=input_options,
        outputOptions={
            "location": "USER_BLOB_STORAGE",
            "outputSasUrl": f"{container.url}/out/model.ifc?sig=x",
        },
    )
    assert started.status_code == 202, started.text
    await execute()
    run = (await client.get(started.headers["location"], headers=auth_headers("alice"))).json()["run"]
    return dict(run)


async def _stored_files(runtime: Runtime, world: World) -> int:
    async with runtime.database.transaction(write=False) as transaction:
        count = await transaction.value(
            "SELECT count(*) FROM storage_files WHERE itwin_id = :itwin_id", {"itwin_id": world.itwin_id}
        )
    return int(count)


async def test_a_saved_view_fails_the_run_before_anything_is_written(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    container: BlobContainer,
    executed: Callable[[], Awaitable[None]],
) -> None:
    run = await _run(client, auth_headers, world, container, executed, {"savedViewId": "view-1"})
    task = run["jobs"][0]["tasks"][0]
    assert (run["state"], run["result"]) == ("Completed", "Error")
    assert task["error"]["errorCode"] == "SavedViewNotSupported"
    assert task["error"]["canUserFix"] is True
    assert "savedViewId 'view-1' cannot be applied" in task["error"]["details"]
    assert "exportOutputFileId" not in task or task["exportOutputFileId"] is None
    assert container.puts == []
    assert await _stored_files(runtime, world) == 0


async def test_model_ids_naming_no_model_fail_the_run_before_anything_is_written(
    client: httpx.AsyncClient,
    auth_headers: Headers,
    world: World,
    runtime: Runtime,
    container: BlobContainer,
    executed: Callable[[], Awaitable[None]],
) -> None:
    run = await _run(client, auth_headers, world, container, executed, {"modelIds": ["0x9999"]})
    task = run["jobs"][0]["tasks"][0]
    assert (run["state"], run["result"]) == ("Completed", "Error")
    assert task["error"]["errorCode"] == "ModelNotFound"
    assert task["error"]["canUserFix"] is True
    assert task["error"]["details"] == (
        "inputOptions.modelIds names '0x9999', which is not a model of iModel 'Blocks'; nothing was exported."
    )
    assert container.puts == []
    assert await _stored_files(runtime, world) == 0
    # The same run without the wrong id writes to both: the container above would have seen a PUT.
    done = await _run(client, auth_headers, world, container, executed, {})
    assert done["result"] == "Success", done
    assert container.puts == ["/out/model.ifc?sig=x"]
    assert await _stored_files(runtime, world) == 1
