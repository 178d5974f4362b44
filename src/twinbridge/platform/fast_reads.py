"""A fast path for the GETs that clients poll, in front of the framework's routing.

A request through FastAPI's routing and dependencies and the async ORM costs milliseconds; polling clients
and dashboards send many of them. A fast read answers the common case, a caller whose token was validated
before reading something it may read, from one SQLite statement on the event loop's thread
(`twinbridge.db.sqlite_reads`), with the same body bytes, headers, request log and metrics as its endpoint.

It only ever answers 200. Everything else falls through to the regular endpoint, which answers it exactly
as before: a token not seen yet (it is validated there, then cached), a missing scope, a resource that
does not exist or may not be read, a query that does not parse, a caller over the rate limit, a database
that cannot answer at once, and PostgreSQL (no one-hop reader). So the rules stay in one place: a fast
read checks what the endpoint checks and, when in doubt, lets the endpoint decide.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Receive, Scope, Send

from twinbridge.auth.scopes import ScopeRequirement
from twinbridge.auth.tokens import Caller, bearer_token
from twinbridge.db.sqlite_reads import SqliteReads
from twinbridge.platform.errors import ApiError
from twinbridge.runtime import Runtime


@dataclass(frozen=True)
class FastReadRequest:
    caller: Caller
    path: str
    path_parameters: dict[str, str]
    query: list[tuple[str, str]]
    base_url: str

    def query_value(self, name: str) -> str | None:
        """The last value of a query parameter, as FastAPI reads a scalar parameter."""
        found = None
        for key, value in self.query:
            if key == name:
                found = value
        return found


class FastRead(Protocol):
    """One GET operation's fast path: its route template, its scope, and its 200 body (None: fall through).

    `answer` may raise ApiError (a query that does not parse) or sqlite3.Error: the request falls through.
    """

    route: ClassVar[str]
    requirement: ClassVar[ScopeRequirement]

    def answer(self, reads: SqliteReads, request: FastReadRequest) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class RouteLabel:
    """Stands in for the matched route in the scope, so that metrics label the request by its template."""

    path: str


def _pattern(template: str) -> re.Pattern[str]:
    """The route template's regular expression, with path parameters matching like Starlette's `str`."""
    parts = re.split(r"\{(\w+)\}", template)
    expression = "".join(
        f"(?P<{part}>[^/]+)" if index % 2 else re.escape(part) for index, part in enumerate(parts)
    )
    return re.compile(expression)


def _bearer_token(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            return bearer_token(value.decode("latin-1"))
    return None


# FastAPI's JSONResponse settings in one encoder built once (json.dumps with options builds one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":"))


def render_json(body: dict[str, Any]) -> bytes:
    """The bytes of FastAPI's JSONResponse for the same content."""
    return _ENCODER.encode(body).encode()


class FastReadMiddleware:
    def __init__(self, app: ASGIApp, runtime: Runtime, reads: Sequence[FastRead]) -> None:
        self.app = app
        self.runtime = runtime
        self.routes = [(_pattern(read.route), read, RouteLabel(read.route)) for read in reads]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or self.runtime.sqlite_reads is None:
            await self.app(scope, receive, send)
            return
        body = await self._answer(scope, self.runtime.sqlite_reads)
        if body is None:
            await self.app(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-length", str(len(body)).encode()),
                    (b"content-type", b"application/json"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _route(self, path: str) -> tuple[re.Match[str], FastRead, RouteLabel] | None:
        for pattern, read, label in self.routes:
            match = pattern.fullmatch(path)
            if match is not None:
                return match, read, label
        return None

    async def _answer(self, scope: Scope, reads: SqliteReads) -> bytes | None:
        path = scope["path"]
        found = self._route(path)
        if found is None:
            return None
        match, read, label = found
        token = _bearer_token(scope)
        caller = self.runtime.tokens.cached(token) if token else None
        if caller is None or not read.requirement.is_met_by(caller.scopes):
            return None
        request = FastReadRequest(
            caller=caller,
            path=path,
            path_parameters=match.groupdict(),
            query=parse_qsl(scope["query_string"].decode("latin-1"), keep_blank_values=True),
            base_url=self.runtime.settings.base_url,
        )
        try:
            content = read.answer(reads, request)
        except (ApiError, sqlite3.Error):
            return None
        if content is None:
            return None
        limiter = self.runtime.rate_limiter
        if limiter is not None and not await limiter.allows(caller.subject):
            return None  # the endpoint answers the operation's 429
        scope["route"] = label
        scope.setdefault("state", {})["caller_subject"] = caller.subject
        return render_json(content)
