"""Routing by the first word of the path: each feature's router sees only the requests under its prefix.

FastAPI matches a request against the routes of every included router in turn, through several layers of
Python per route; with fifty routes that was a third of a cheap request. A PrefixRoute sends everything
under `/export` (say) straight to the Export router, which matches among its own few routes. The OpenAPI
document is made from the routers themselves, so it still lists every operation.

A dependency that reads its query parameters or headers from the request itself (FastAPI validates every
declared parameter on every request) names them with `documented_parameters`, and the OpenAPI document
lists them on every operation that depends on it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import Receive, Scope, Send

Function = TypeVar("Function", bound=Callable[..., Any])
_DOCUMENTED_PARAMETERS = "__openapi_parameters__"


def documented_parameters(*parameters: dict[str, Any]) -> Callable[[Function], Function]:
    """The OpenAPI parameter objects a dependency reads from the request by hand."""

    def mark(dependency: Function) -> Function:
        setattr(dependency, _DOCUMENTED_PARAMETERS, list(parameters))
        return dependency

    return mark


def _parameters_read_by_hand(dependant: Dependant) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = list(getattr(dependant.call, _DOCUMENTED_PARAMETERS, []))
    for dependency in dependant.dependencies:
        found += _parameters_read_by_hand(dependency)
    return found


def _document_parameters_read_by_hand(route: BaseRoute) -> None:
    if not isinstance(route, APIRoute):
        return
    parameters = _parameters_read_by_hand(route.dependant)
    if parameters:
        extra = dict(route.openapi_extra or {})
        named = {(item["name"], item["in"]) for item in extra.get("parameters", [])}
        extra["parameters"] = [
            *extra.get("parameters", []),
            *(item for item in parameters if (item["name"], item["in"]) not in named),
        ]
        route.openapi_extra = extra


class PrefixRoute(BaseRoute):
    """Every path that is `prefix` or starts with `prefix/` goes to `router`, whole."""

    def __init__(self, prefix: str, router: APIRouter) -> None:
        self.prefix = prefix
        self.router = router
        self._prefix_slash = prefix + "/"

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path == self.prefix or path.startswith(self._prefix_slash):
                return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.router(scope, receive, send)

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        return self.router.url_path_for(name, **path_params)


def include_routers(app: FastAPI, routers: Sequence[APIRouter]) -> None:
    """Routers with a prefix are reached through a PrefixRoute, the others are included as usual."""
    for router in routers:
        for route in router.routes:
            _document_parameters_read_by_hand(route)
        if router.prefix:
            app.router.routes.append(PrefixRoute(router.prefix, router))
        else:
            app.include_router(router)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            routes: list[BaseRoute] = []
            for route in app.routes:
                routes += route.router.routes if isinstance(route, PrefixRoute) else [route]
            app.openapi_schema = get_openapi(
                title=app.title, version=app.version, summary=app.summary, routes=routes
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
