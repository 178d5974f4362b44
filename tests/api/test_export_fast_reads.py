"""The fast paths of GET connection and the connection list answer exactly like their endpoints.

They exist on SQLite only (on PostgreSQL every request takes the endpoint), so this module runs on SQLite.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest

from tests.api.export_world import World, create_connection, start_run
from tests.api.export_world import world as world  # the fixture
from twinbridge.app import create_app
from twinbridge.config import Settings
from twinbridge.db.engine import unit_of_work
from twinbridge.db.sqlite_reads import SqliteReads
from twinbridge.itwins.service import ITwinService
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]
# Headers that differ between any two responses.
VARYING_HEADERS = {"x-request-id", "x-correlation-id"}


@pytest.fixture
def database_url() -> None:
    """SQLite only: the fast reads do not exist on PostgreSQL."""
    return


@contextmanager
def regular_path_only(runtime: Runtime) -> Iterator[None]:
    """Every request takes the endpoint, as on PostgreSQL."""
    reads, runtime.sqlite_reads = runtime.sqlite_reads, None
    try:
        yield
    finally:
        runtime.sqlite_reads = reads


@contextmanager
def without_orm_reads(runtime: Runtime) -> Iterator[None]:
    """A request that reaches an endpoint's read session fails: what is answered came from a fast read."""

    def refuse() -> Any:
        raise AssertionError("the request took the regular path")

    sessions = runtime.read_sessions
    runtime.read_sessions = refuse  # type: ignore[assignment]
    try:
        yield
    finally:
        runtime.read_sessions = sessions


async def _both_ways(
    client: httpx.AsyncClient, runtime: Runtime, url: str, headers: dict[str, str], **params: Any
) -> tuple[httpx.Response, httpx.Response]:
    """The same GET answered by the fast read, then by the endpoint."""
    await client.get(url, params=params, headers=headers)  # the token is validated once, then cached
    with without_orm_reads(runtime):
        fast = await client.get(url, params=params, headers=headers)
    with regular_path_only(runtime):
        regular = await client.get(url, params=params, headers=headers)
    return fast, regular


def _assert_same_answer(fast: httpx.Response, regular: httpx.Response) -> None:
    assert fast.status_code == regular.status_code == 200
    assert fast.content == regular.content
    assert {key: value for key, value in fast.headers.items() if key not in VARYING_HEADERS} == {
        key: value for key, value in regular.headers.items() if key not in VARYING_HEADERS
    }


async def test_get_connection_fast_read_answers_the_bytes_of_the_endpoint(
    client: httpx.AsyncClient, runtime: Runtime, auth_headers: Headers, world: World
) -> None:
    headers = auth_headers("alice")
    connection = await create_connection(client, headers, world.imodel_id, displayName="Façade ✓ 北")
    url = f"/export/connections/{connection['id']}"
    _assert_same_answer(*await _both_ways(client, runtime, url, headers))
    await start_run(client, headers, connection["id"])
    fast, regular = await _both_ways(client, runtime, url, headers)
    _assert_same_answer(fast, regular)
    assert "lastRun" in fast.json()["connection"]["_links"]


async def test_connection_list_fast_read_answers_the_bytes_of_the_endpoint_on_every_page(
    client: httpx.AsyncClient, runtime: Runtime, auth_headers: Headers, world: World
) -> None:
    for name in ("a", "b", "c"):
        connection = await create_connection(client, auth_headers("alice"), world.imodel_id, displayName=name)
    await start_run(client, auth_headers("alice"), connection["id"])
    headers = auth_headers("rita")
    for params in (
        {"imodelId": world.imodel_id},
        {"imodelId": world.imodel_id, "$top": "2"},
        {"imodelId": world.imodel_id, "$top": "1", "$skip": "1", "other": "kept"},
        {"imodelId": world.imodel_id, "$skip": "5"},
    ):
        _assert_same_answer(*await _both_ways(client, runtime, "/export/connections", headers, **params))


async def test_fast_reads_see_every_commit_at_once(
    client: httpx.AsyncClient, runtime: Runtime, auth_headers: Headers, world: World
) -> None:
    alice, rita = auth_headers("alice"), auth_headers("rita")
    connection = await create_connection(client, alice, world.imodel_id)
    url = f"/export/connections/{connection['id']}"
    assert (await client.get(url, headers=rita)).status_code == 200
    created = await start_run(client, alice, connection["id"])
    assert (await client.get(url, headers=rita)).json()["connection"]["_links"]["lastRun"]["href"] == (
        created.headers["location"]
    )
    async with unit_of_work(runtime.sessions) as session:
        await ITwinService(session).remove_member(world.itwin_id, "rita")
    # No longer a member: the fast read declines and the endpoint answers 403.
    forbidden = await client.get(url, headers=rita)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"]["code"] == "InsufficientPermissions"
    listed = await client.get("/export/connections", params={"imodelId": world.imodel_id}, headers=rita)
    assert listed.status_code == 403


async def test_what_a_fast_read_declines_is_answered_by_the_endpoint(
    client: httpx.AsyncClient, runtime: Runtime, auth_headers: Headers, world: World
) -> None:
    headers = auth_headers("alice")
    await create_connection(client, headers, world.imodel_id)
    unknown = await client.get("/export/connections/unknown", headers=headers)
    assert (unknown.status_code, unknown.json()["error"]["code"]) == (404, "ConnectionNotFound")
    out_of_limits = await client.get(
        "/export/connections", params={"imodelId": world.imodel_id, "$top": "0"}, headers=headers
    )
    assert out_of_limits.status_code == 422
    assert out_of_limits.json()["error"]["details"][0]["target"] == "$top"
    missing = await client.get("/export/connections", headers=headers)
    assert missing.json()["error"]["details"][0]["target"] == "imodelId"
    unknown_imodel = await client.get("/export/connections", params={"imodelId": "x"}, headers=headers)
    assert unknown_imodel.json()["error"]["message"] == "Requested iModelId is not available."
    synchronization_only = auth_headers("alice", scopes="synchronization:read")
    no_scope = await client.get(
        "/export/connections", params={"imodelId": world.imodel_id}, headers=synchronization_only
    )
    assert no_scope.status_code == 401


async def test_a_token_never_seen_is_validated_by_the_endpoint_first(
    client: httpx.AsyncClient, runtime: Runtime, auth_headers: Headers, world: World
) -> None:
    connection = await create_connection(client, auth_headers("alice"), world.imodel_id)
    headers = auth_headers("rita")
    # The fast read knows only tokens validated before; a new one must reach the endpoint.
    with without_orm_reads(runtime), pytest.raises(AssertionError, match="regular path"):
        await client.get(f"/export/connections/{connection['id']}", headers=headers)
    assert (await client.get(f"/export/connections/{connection['id']}", headers=headers)).status_code == 200
    forged = {"Authorization": headers["Authorization"][:-4] + "AAAA"}
    assert (await client.get(f"/export/connections/{connection['id']}", headers=forged)).status_code == 401


async def test_a_busy_database_sends_the_read_to_the_endpoint(
    client: httpx.AsyncClient,
    runtime: Runtime,
    auth_headers: Headers,
    world: World,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    headers = auth_headers("alice")
    connection = await create_connection(client, headers, world.imodel_id)

    def locked(self: SqliteReads, sql: str, parameters: dict[str, Any]) -> list[tuple[Any, ...]]:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(SqliteReads, "rows", locked)
    response = await client.get(f"/export/connections/{connection['id']}", headers=headers)
    assert response.status_code == 200
    assert response.json()["connection"]["id"] == connection["id"]


async def test_fast_reads_count_against_the_rate_limit_and_the_endpoint_answers_429(
    make_settings: Callable[..., Settings], auth_headers: Headers, world: World
) -> None:
    limited = Runtime.create(make_settings(rate_limit="3/minute"))
    transport = httpx.ASGITransport(app=create_app(limited.settings, limited))
    try:
        async with httpx.AsyncClient(transport=transport, base_url=limited.settings.base_url) as client:
            headers = auth_headers("alice")  # the same issuer and key: the data dir is the same
            url = "/export/connections"
            params = {"imodelId": world.imodel_id}
            statuses = [(await client.get(url, params=params, headers=headers)).status_code for _ in range(4)]
            assert statuses == [200, 200, 200, 429]
            refused = await client.get(url, params=params, headers=headers)
            assert refused.json()["error"]["code"] == "TooManyRequests"
            assert int(refused.headers["retry-after"]) >= 1
    finally:
        await limited.aclose()


async def test_fast_reads_are_logged_and_counted_under_their_route(
    client: httpx.AsyncClient, runtime: Runtime, auth_headers: Headers, world: World
) -> None:
    headers = auth_headers("alice")
    connection = await create_connection(client, headers, world.imodel_id)
    for _ in range(3):
        await client.get(f"/export/connections/{connection['id']}", headers=headers)
    metrics = (await client.get("/metrics")).text
    labels = 'method="GET",route="/export/connections/{connection_id}",status="200"'
    assert f"twinbridge_http_requests_total{{{labels}}} 3.0" in metrics
