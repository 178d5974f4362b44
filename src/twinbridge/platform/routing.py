"""Routing by the first word of the path: each feature's router sees only the requests under its prefix.

FastAPI matches a request against the routes of every included router in turn, through several layers of
Python per route; with fifty routes that was a third of a cheap request. A PrefixRoute sends everything
under `/export` (say) straight to the Export router, which matches among its own few routes. The OpenAPI
document is made from the routers themselves, so it still lists every operation.

An endpoint (or a dependency) that reads query parameters or headers from the request itself (FastAPI
validates every declared parameter on every request) names them with `documented_parameters`, and the
OpenAPI document lists them on its operation (on every operation that depends on it).
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

from twinbridge.platform.intake import (
    DEFAULT_MAX_BODY_SIZE,
    INTAKE_RULES_STATE,
    Authenticate,
    IntakeRules,
    guard,
)
from twinbridge.platform.openapi import complete_document

Function = TypeVar("Function", bound=Callable[..., Any])
_DOCUMENTED_PARAMETERS = "__openapi_parameters__"


def documented_parameters(*parameters: dict[str, Any]) -> Callable[[Function], Function]:
    """The OpenAPI parameter objects an endpoint or a dependency reads from the request by hand."""

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


# A route's path as words: the literal ones, and None where a path parameter stands.
Shape = tuple[str | None, ...]


def _shape(path_format: str) -> Shape:
    return tuple(None if word.startswith("{") else word for word in path_format.split("/"))


class PrefixRoute(BaseRoute):
    """Every path that is `prefix` or starts with `prefix/` goes to `router`, or rather to a router of only
    the routes whose path has the request's shape (its literal words where they have them), so that FastAPI
    tries the two or three routes that can match, not the twenty-seven of the Synchronization API."""

    def __init__(self, prefix: str, router: APIRouter) -> None:
        self.prefix = prefix
        self.router = router
        self._prefix_slash = prefix + "/"
        self._shapes: dict[int, list[tuple[Shape, list[BaseRoute]]]] = {}
        for route in router.routes:
            path_format = getattr(route, "path_format", None)
            # A route with a converter (`{rest:path}`) has no fixed number of words: no shapes then.
            if path_format is None or ":" in getattr(route, "path", ":"):
                self._shapes.clear()
                break
            shape = _shape(path_format)
            of_length = self._shapes.setdefault(len(shape), [])
            same = next((routes for known, routes in of_length if known == shape), None)
            if same is None:
                of_length.append((shape, [route]))
            else:
                same.append(route)
        self._routers: dict[tuple[int, ...], APIRouter] = {}

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path == self.prefix or path.startswith(self._prefix_slash):
                return Match.FULL, {}
        return Match.NONE, {}

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._router_for(scope["path"])(scope, receive, send)

    def _router_for(self, path: str) -> APIRouter:
        words = path.split("/")
        candidates = self._shapes.get(len(words))
        if not candidates:
            return self.router  # no route has this many words: the whole router answers 404 (or redirects)
        found = tuple(
            index
            for index, (shape, _) in enumerate(candidates)
            if all(word is None or word == words[position] for position, word in enumerate(shape))
        )
        if not found:
            return self.router
        key = (len(words), *found)
        router = self._routers.get(key)
        if router is None:
            routes = [route for index in found for route in candidates[index][1]]
            router = self._routers[key] = APIRouter(routes=routes)
        return router

    def url_path_for(self, name: str, /, **path_params: Any) -> Any:
        return self.router.url_path_for(name, **path_params)


def _operations(routes: Sequence[BaseRoute]) -> list[APIRoute]:
    """The operations among `routes`, also those of routers reached by prefix or included whole."""
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif isinstance(route, PrefixRoute):
            found += _operations(route.router.routes)
        elif isinstance(getattr(route, "original_router", None), APIRouter):  # FastAPI's included router
            found += _operations(route.original_router.routes)  # type: ignore[attr-defined]
    return found


def operations_of(app: FastAPI) -> list[APIRoute]:
    """Every operation of `app`, in the order the router tries them."""
    return _operations(app.routes)


_METHODS_BY_PATH = "methods_by_path"


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods documented at `path`: those of its most specific path template (literal words count
    before parameters, so `/itwins/favorites` is not `/itwins/{itwin_id}`). What a 405's `Allow` lists;
    Starlette's lists those of the first route it found there, one of several when each method has a route
    of its own."""
    templates: dict[str, tuple[Any, int, set[str]]] | None = getattr(app.state, _METHODS_BY_PATH, None)
    if templates is None:
        templates = {}
        for route in _operations(app.routes):
            literal_words = sum(1 for word in route.path_format.split("/") if not word.startswith("{"))
            known = templates.setdefault(route.path_format, (route.path_regex, literal_words, set()))
            known[2].update(route.methods or ())
        setattr(app.state, _METHODS_BY_PATH, templates)
    matching = [(literal, methods) for pattern, literal, methods in templates.values() if pattern.match(path)]
    if not matching:
        return []
    most_specific = max(literal for literal, _ in matching)
    return sorted(set().union(*(methods for literal, methods in matching if literal == most_specific)))


def query_parameter_names(app: FastAPI) -> dict[str, str]:
    """Every query parameter name an operation reads (declared, or documented as read by hand), by its
    lowercase form: what `platform.paths.CanonicalRequest` rewrites names in any case to."""
    names: dict[str, str] = {}
    for route in _operations(app.routes):
        spelled = [field.alias for field in route.dependant.query_params]
        spelled += [
            item["name"] for item in _parameters_read_by_hand(route.dependant) if item["in"] == "query"
        ]
        for name in spelled:
            known = names.setdefault(name.lower(), name)
            if known != name:
                raise RuntimeError(f"query parameter spelled both {known!r} and {name!r} ({route.path})")
    return names


def include_routers(
    app: FastAPI,
    routers: Sequence[APIRouter],
    *,
    max_body_size: int = DEFAULT_MAX_BODY_SIZE,
    authenticate: Authenticate | None = None,
) -> None:
    """Routers with a prefix are reached through a PrefixRoute, the routes of the others directly.

    Every operation is put behind a `twinbridge.platform.intake.GuardedOperation`: bodies of at most
    `max_body_size` bytes (unless it streams its own), `authenticate` before the body of an operation that
    checks a token, no NUL character in what it reads.
    """
    setattr(app.state, INTAKE_RULES_STATE, IntakeRules(max_body_size, authenticate))
    for router in routers:
        for route in router.routes:
            _document_parameters_read_by_hand(route)
            if isinstance(route, APIRoute):
                guard(route)
        if router.prefix:
            app.router.routes.append(PrefixRoute(router.prefix, router))
        else:
            # The router's own routes, not copies of them (what FastAPI's include_router makes): they are the
            # ones put behind a GuardedOperation.
            app.router.routes.extend(router.routes)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            routes: list[BaseRoute] = []
            for route in app.routes:
                routes += route.router.routes if isinstance(route, PrefixRoute) else [route]
            document = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=routes)
            app.openapi_schema = complete_document(document, _operations(routes))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
