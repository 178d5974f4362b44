"""Faults and the request journal, as one pure-ASGI middleware that sees every request.

`twinbridge.features.add_middleware` installs it only when TWINBRIDGE_CONTROL_API is set: a normal server's
requests never pass through it. It sits inside the request-context middleware (so fault answers carry the
request id and are counted in the metrics) and after `CanonicalRequest` (so rules match the paths the
operations are routed by, whatever spelling the client used); the journal keeps the path as sent.

Its state (the rules, the journal) is `RequestControl`, kept on `app.state` in the process's memory: per
process, so in scale-out mode each API process has rules and a journal of its own.
"""

from __future__ import annotations

import asyncio
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twinbridge.auth.tokens import bearer_token
from twinbridge.control.access import CONTROL_PREFIX
from twinbridge.control.faults.service import NO_FIRING, FaultRules, Firing
from twinbridge.control.journal.service import CapturedBody, Journal, JournalEntry
from twinbridge.platform.errors import ApiError
from twinbridge.platform.handlers import answer_api_error
from twinbridge.platform.paths import PATH_AS_SENT
from twinbridge.platform.routing import operations_of
from twinbridge.platform.time import format_timestamp, utc_now

if TYPE_CHECKING:
    from twinbridge.config import Settings
    from twinbridge.runtime import Runtime

REQUEST_CONTROL_STATE = "request_control"
JOURNAL_PATH = f"{CONTROL_PREFIX}/journal"
_CONTROL_PREFIX_SLASH = CONTROL_PREFIX + "/"
# A header value no HTTP server may send (a line break): see `drop_connection`.
_UNSENDABLE_HEADER = (b"x-twinbridge-fault", b"connection dropped\r\n")


class ConnectionDropped(Exception):
    """A `drop` rule fired on a server that wrote the answer's start anyway (the in-process test client);
    uvicorn never sees it."""


def _operation_id(route: APIRoute) -> str:
    """As FastAPI names the operation in /openapi.json."""
    return route.operation_id or route.unique_id


class OperationIds:
    """The operationId (as /openapi.json names it) of a method and path, found before the request is routed,
    by trying the app's operations in the order the router tries them."""

    def __init__(self, app: FastAPI) -> None:
        routes = operations_of(app)
        # A route left out of the document (`/storage` beside `/storage/`) is named as the first documented
        # route of its endpoint.
        documented: dict[tuple[object, str], str] = {}
        for route in routes:
            if route.include_in_schema:
                for method in route.methods or ():
                    documented.setdefault((route.endpoint, method), _operation_id(route))
        self.operations: list[tuple[re.Pattern[str], str, str]] = [
            (
                route.path_regex,
                method,
                _operation_id(route)
                if route.include_in_schema
                else documented.get((route.endpoint, method), _operation_id(route)),
            )
            for route in routes
            for method in route.methods or ()
        ]
        # What a fault rule may name: any documented operation but those of the control API.
        self.known = frozenset(
            _operation_id(route)
            for route in routes
            if route.include_in_schema and not route.path.startswith(_CONTROL_PREFIX_SLASH)
        )

    def find(self, method: str, path: str) -> str | None:
        for pattern, route_method, operation_id in self.operations:
            if method == route_method and pattern.match(path):
                return operation_id
        return None


@dataclass
class RequestControl:
    """The faults and the journal of this process."""

    faults: FaultRules
    journal: Journal
    _operation_ids: OperationIds | None = None

    def operation_ids(self, app: FastAPI) -> OperationIds:
        if self._operation_ids is None:
            self._operation_ids = OperationIds(app)
        return self._operation_ids


def install(app: FastAPI, settings: Settings) -> None:
    control = RequestControl(FaultRules(), Journal(settings.journal_size, settings.journal_bodies))
    setattr(app.state, REQUEST_CONTROL_STATE, control)
    app.add_middleware(RequestControlMiddleware, control=control)


async def get_request_control(request: Request) -> RequestControl:
    control: RequestControl = getattr(request.app.state, REQUEST_CONTROL_STATE)
    return control


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _caller(scope: Scope) -> str | None:
    """The token's subject as the operation found it, or as an earlier request's validation left it in the
    validator's cache (a request answered by a fault was never authenticated; its token is not validated
    here a second time)."""
    subject = scope.get("state", {}).get("caller_subject")
    if subject is not None:
        return str(subject)
    header = _header(scope, b"authorization")
    if header is None:
        return None
    try:
        token = bearer_token(header)
    except ApiError:
        return None
    runtime: Runtime = scope["app"].state.runtime
    cached = runtime.tokens.cached(token)
    return cached.subject if cached is not None else None


async def drop_connection(send: Send) -> None:
    """Ends the request without an answer: the client sees its connection closed.

    ASGI has no message that closes a connection. uvicorn closes it, writing nothing, when an app returns
    after a response start that the server took but could not write; a start with a header value no server
    may send is such a start (both of uvicorn's HTTP implementations refuse it before writing a byte). A
    server that sends it all the same gets ConnectionDropped raised after the start, and closes then.
    """
    try:
        await send({"type": "http.response.start", "status": 500, "headers": [_UNSENDABLE_HEADER]})
    except Exception:  # the server refused the start: it closes the connection when the app returns
        return
    raise ConnectionDropped()


class RequestControlMiddleware:
    def __init__(self, app: ASGIApp, control: RequestControl) -> None:
        self.app = app
        self.control = control

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        is_control = path == CONTROL_PREFIX or path.startswith(_CONTROL_PREFIX_SLASH)
        journal = self.control.journal
        if (is_control and path == JOURNAL_PATH) or not (journal.enabled or self.control.faults.rules):
            await self.app(scope, receive, send)  # the journal's own operations are not journaled
            return
        method: str = scope["method"]
        timestamp = format_timestamp(utc_now()) or ""
        started = time.perf_counter()
        found: list[str | None] = []

        def operation_id() -> str | None:
            if not found:
                found.append(self.control.operation_ids(scope["app"]).find(method, path))
            return found[0]

        firing = NO_FIRING if is_control else self.control.faults.fire(method, path, operation_id)
        if not journal.enabled:
            await self._handle(firing, scope, receive, send)
            return

        status: int | None = None
        error_code: str | None = None
        request_body = CapturedBody(_header(scope, b"content-type") or "") if journal.bodies else None
        response_body: CapturedBody | None = None

        async def receive_captured() -> Message:
            message = await receive()
            if request_body is not None and message["type"] == "http.request":
                request_body.add(message.get("body", b""))
            return message

        async def send_captured(message: Message) -> None:
            nonlocal status, response_body
            if message["type"] == "http.response.start":
                status = message["status"]
                if journal.bodies or status >= 400:  # an error's code is read from its envelope
                    content_type = next(
                        (
                            value.decode("latin-1")
                            for key, value in message.get("headers", ())
                            if key == b"content-type"
                        ),
                        "",
                    )
                    response_body = CapturedBody(content_type)
            elif message["type"] == "http.response.body" and response_body is not None:
                response_body.add(message.get("body", b""))
            await send(message)

        try:
            await self._handle(firing, scope, receive_captured, send_captured)
        except Exception:
            if status is None:  # the request-context middleware answers it with the envelope of a 500
                status, error_code = 500, "InternalServerError"
            raise
        finally:
            if firing.answering is not None and firing.answering.action == "drop":
                status = None
            elif response_body is not None and status is not None and status >= 400:
                error_code = response_body.error_code()
            journal.record(
                JournalEntry(
                    sequence=0,
                    timestamp=timestamp,
                    method=method,
                    path=str(scope.get(PATH_AS_SENT, path)),
                    query=scope["query_string"].decode("latin-1"),
                    operation_id=operation_id(),
                    status=status,
                    error_code=error_code,
                    caller=_caller(scope),
                    duration_ms=round((time.perf_counter() - started) * 1000, 2),
                    fault_ids=[rule.id for rule in firing.rules],
                    answered_by_fault=firing.answering is not None,
                    request_body=request_body,
                    response_body=response_body if journal.bodies else None,
                )
            )

    async def _handle(self, firing: Firing, scope: Scope, receive: Receive, send: Send) -> None:
        if firing.latency_ms:
            await asyncio.sleep(firing.latency_ms / 1000)
        answering = firing.answering
        if answering is None:
            await self.app(scope, receive, send)
        elif answering.action == "drop":
            await drop_connection(send)
        else:
            await answer_api_error(scope, receive, send, answering.answer())
