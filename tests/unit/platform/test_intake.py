"""What a request must be before its operation reads it: NUL characters found where they are, bodies read
within their limit, the token checked before the body."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Request
from pydantic import BaseModel
from starlette.types import Scope

from twinbridge.platform.errors import HeaderNotFound
from twinbridge.platform.handlers import install_error_handlers
from twinbridge.platform.intake import (
    NUL_REASON,
    body_errors,
    checks_token,
    nul_in_json,
    nul_in_query,
    streams_body,
)
from twinbridge.platform.routing import include_routers


def test_a_query_without_an_encoded_nul_is_not_parsed_at_all() -> None:
    assert nul_in_query(b"iTwinId=abc&$top=5") == []


def test_each_query_parameter_holding_a_nul_is_named_once() -> None:
    errors = nul_in_query(b"search=a%00b&iTwinId=x&search=%00&na%00me=1")
    assert [error["loc"] for error in errors] == [("query", "search"), ("query", "na\\u0000me")]
    assert {error["msg"] for error in errors} == {NUL_REASON}


def test_nul_in_json_names_nested_fields_list_items_and_keys() -> None:
    document = {"displayName": "ok", "sourceFiles": [{"connectorType": "IFC"}, {"path": "a\x00"}], "k\x00": 1}
    assert list(nul_in_json(document)) == [("body", "sourceFiles", 1, "path"), ("body", "k\\u0000")]


def test_a_json_body_with_an_escaped_nul_names_its_field() -> None:
    errors = body_errors(b'{"displayName": "a\\u0000b"}', "application/json; charset=utf-8")
    assert [error["loc"] for error in errors] == [("body", "displayName")]


def test_an_escaped_backslash_before_u0000_is_no_nul() -> None:
    assert body_errors(b'{"displayName": "C:\\\\u0000"}', "application/json") == []


def test_a_json_body_that_is_not_utf8_is_malformed_json() -> None:
    errors = body_errors('{"displayName": "é"}'.encode("latin-1"), "application/vnd.bentley+json")
    assert [error["type"] for error in errors] == ["json_invalid"]


def test_form_fields_holding_a_nul_are_named() -> None:
    errors = body_errors(b"grant_type=client_credentials&client_id=a%00", "application/x-www-form-urlencoded")
    assert [error["loc"] for error in errors] == [("body", "client_id")]


def test_bodies_of_other_types_are_left_to_the_operation() -> None:
    assert body_errors(b"\x00\xff", "application/octet-stream") == []


# ---- over HTTP, on a small app


class Named(BaseModel):
    name: str


def _app(max_body_size: int = 64) -> tuple[FastAPI, list[str]]:
    """An app with a token-checking operation, an open one and a streaming upload; `seen` records what ran."""
    seen: list[str] = []

    @checks_token
    async def caller(request: Request) -> str:
        seen.append("dependency")
        return request.headers["authorization"]

    async def authenticate(scope: Scope) -> None:
        seen.append("authenticate")
        if not any(name == b"authorization" for name, _ in scope["headers"]):
            raise HeaderNotFound()

    router = APIRouter(prefix="/things")

    @router.post("/{thing_id}")
    async def create(thing_id: str, body: Named, who: str = Depends(caller)) -> dict[str, Any]:
        return {"id": thing_id, "name": body.name}

    @router.get("/{thing_id}")
    async def read(thing_id: str, search: str = "") -> dict[str, Any]:
        return {"id": thing_id, "search": search}

    @router.put("/{thing_id}/upload")
    @streams_body
    async def upload(thing_id: str, request: Request) -> dict[str, Any]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    app = FastAPI()
    install_error_handlers(app)
    include_routers(app, [router], max_body_size=max_body_size, authenticate=authenticate)
    return app, seen


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")


async def test_a_body_without_a_token_is_refused_before_it_is_read() -> None:
    app, seen = _app()
    sent: list[bytes] = []

    async def body() -> Any:
        for chunk in (b'{"name":', b' "x"}'):
            sent.append(chunk)
            yield chunk

    async with _client(app) as client:
        response = await client.post("/things/a", content=body())
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "HeaderNotFound"
    assert sent == []
    assert seen == ["authenticate"]


async def test_a_body_larger_than_the_limit_is_refused_by_its_length_or_as_it_streams() -> None:
    app, _ = _app(max_body_size=64)
    headers = {"authorization": "Bearer t", "content-type": "application/json"}

    async def streamed() -> Any:
        for _ in range(10):
            yield b" " * 10

    async with _client(app) as client:
        declared = await client.post("/things/a", content=b" " * 65, headers=headers)
        chunked = await client.post("/things/a", content=streamed(), headers=headers)
        within = await client.post("/things/a", json={"name": "x" * 40}, headers=headers)
    for refused in (declared, chunked):
        assert refused.status_code == 413
        assert refused.json()["error"]["code"] == "PayloadTooLarge"
        assert refused.headers["connection"] == "close"
    assert within.json() == {"id": "a", "name": "x" * 40}


async def test_an_operation_that_streams_its_body_keeps_its_own_limit() -> None:
    app, seen = _app(max_body_size=64)
    async with _client(app) as client:
        response = await client.put("/things/a/upload", content=b"x" * 1000)
    assert response.json() == {"size": 1000}
    assert seen == []  # no token asked of an upload


async def test_nul_in_a_path_parameter_query_value_or_body_is_a_422_naming_it() -> None:
    app, _ = _app()
    headers = {"authorization": "Bearer t"}
    async with _client(app) as client:
        in_path = await client.get("/things/a%00")
        in_query = await client.get("/things/a", params={"search": "x\x00"})
        in_body = await client.post("/things/a", json={"name": "x\x00"}, headers=headers)
    targets = [
        [detail["target"] for detail in response.json()["error"]["details"]]
        for response in (in_path, in_query, in_body)
    ]
    assert [response.status_code for response in (in_path, in_query, in_body)] == [422, 422, 422]
    assert targets == [["thing_id"], ["search"], ["name"]]
    assert in_body.json()["error"]["details"][0]["message"] == (
        f"Provided name value is not valid: {NUL_REASON}."
    )


async def test_a_nul_in_the_path_of_an_operation_that_needs_a_token_is_401_without_one() -> None:
    app, _ = _app()
    async with _client(app) as client:
        response = await client.post("/things/a%00", json={"name": "x"})
    assert response.status_code == 401


async def test_a_request_that_passes_reaches_the_operation_with_its_body_once_its_token_is_checked() -> None:
    app, seen = _app()
    async with _client(app) as client:
        response = await client.post("/things/a", json={"name": "x"}, headers={"authorization": "Bearer t"})
    assert response.json() == {"id": "a", "name": "x"}
    assert seen == ["authenticate", "dependency"]


async def test_a_get_is_not_asked_for_a_token_by_the_guard() -> None:
    app, seen = _app()
    async with _client(app) as client:
        response = await client.get("/things/a", params={"search": "s"})
    assert response.json() == {"id": "a", "search": "s"}
    assert seen == []
