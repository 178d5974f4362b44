"""Prefix routing: a request reaches the routes of its path's shape, and only a route that matches answers."""

from __future__ import annotations

from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query

from twinbridge.platform.routing import PrefixRoute, include_routers, query_parameter_names


def _app() -> FastAPI:
    router = APIRouter(prefix="/things")

    @router.get("")
    async def list_things() -> dict[str, str]:
        return {"route": "list"}

    @router.get("/{thing_id}")
    async def get_thing(thing_id: str) -> dict[str, str]:
        return {"route": "get", "id": thing_id}

    @router.get("/special")  # declared after the parameter: FastAPI's order says `get_thing` answers
    async def special() -> dict[str, str]:
        return {"route": "special"}

    @router.get("/{thing_id}/parts/{part_id}")
    async def get_part(thing_id: str, part_id: str) -> dict[str, str]:
        return {"route": "part", "id": thing_id, "part": part_id}

    @router.get("/{thing_id}/pieces/{piece_id}")
    async def get_piece(thing_id: str, piece_id: str) -> dict[str, str]:
        return {"route": "piece", "id": thing_id, "piece": piece_id}

    @router.delete("/{thing_id}/parts/{part_id}", status_code=204)
    async def delete_part(thing_id: str, part_id: str) -> None:
        return None

    app = FastAPI()
    include_routers(app, [router])
    return app


async def _get(app: FastAPI, method: str, path: str) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as client:
        return await client.request(method, path)


async def test_each_request_reaches_the_route_of_its_shape() -> None:
    app = _app()
    assert (await _get(app, "GET", "/things")).json() == {"route": "list"}
    assert (await _get(app, "GET", "/things/a")).json() == {"route": "get", "id": "a"}
    assert (await _get(app, "GET", "/things/a/parts/b")).json() == {"route": "part", "id": "a", "part": "b"}
    assert (await _get(app, "GET", "/things/a/pieces/c")).json() == {
        "route": "piece",
        "id": "a",
        "piece": "c",
    }
    assert (await _get(app, "DELETE", "/things/a/parts/b")).status_code == 204


async def test_route_order_is_kept_among_routes_of_one_shape() -> None:
    assert (await _get(_app(), "GET", "/things/special")).json() == {"route": "get", "id": "special"}


async def test_a_wrong_method_is_405_and_an_unknown_shape_404() -> None:
    app = _app()
    assert (await _get(app, "POST", "/things/a/parts/b")).status_code == 405
    assert (await _get(app, "GET", "/things/a/other/b")).status_code == 404
    assert (await _get(app, "GET", "/things/a/b/c/d/e")).status_code == 404


def test_the_openapi_document_still_lists_every_operation() -> None:
    app = _app()
    assert any(isinstance(route, PrefixRoute) for route in app.routes)
    paths = app.openapi()["paths"]
    assert set(paths) == {
        "/things",
        "/things/{thing_id}",
        "/things/special",
        "/things/{thing_id}/parts/{part_id}",
        "/things/{thing_id}/pieces/{piece_id}",
    }


def test_query_names_are_collected_and_two_spellings_of_one_name_are_refused() -> None:
    router = APIRouter(prefix="/things")

    @router.get("")
    async def list_things(imodel_id: Annotated[str, Query(alias="imodelId")]) -> dict[str, str]:
        return {}

    app = FastAPI()
    include_routers(app, [router])
    assert query_parameter_names(app) == {"imodelid": "imodelId"}

    other = APIRouter(prefix="/others")

    @other.get("")
    async def list_others(imodel_id: Annotated[str, Query(alias="iModelId")]) -> dict[str, str]:
        return {}

    include_routers(app, [other])
    with pytest.raises(RuntimeError, match="spelled both"):
        query_parameter_names(app)
