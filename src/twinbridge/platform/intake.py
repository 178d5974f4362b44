"""What a request must be before its operation reads it: every operation's ASGI app sits behind one
`GuardedOperation` (installed by `twinbridge.platform.routing.include_routers`), after routing, so that it
knows the operation and costs a GET no more than a look at its path parameters and query string.

- No NUL character (U+0000) in a path parameter, a query value, a JSON string or a form field: PostgreSQL
  text cannot hold one, and SQLite is refused alike. A 422 in the operation's envelope names the parameter
  or the field (`RequestValidationError`, rendered by `twinbridge.platform.handlers`).
- The token before the body: FastAPI reads a request's body before it resolves dependencies, so a body
  sent to an operation that needs a token waits until the token is valid (`authenticate`); without one the
  401 is answered and the body never read.
- A bounded body: refused by its `Content-Length`, or as it streams, past the operation's limit (413).
  The limit is `TWINBRIDGE_MAX_BODY_SIZE`; an operation marked `streams_body` (the uploads) reads its body
  itself, as a stream to storage, with its own limit.
- A JSON body is UTF-8 (RFC 8259): another encoding is malformed JSON, a 422 like any other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import parse_qsl

import orjson
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from twinbridge.platform.errors import PayloadTooLarge

Function = TypeVar("Function", bound=Callable[..., Any])
Authenticate = Callable[[Scope], Awaitable[None]]
Location = tuple[int | str, ...]

_STREAMS_BODY = "__twinbridge_streams_body__"
_CHECKS_TOKEN = "__twinbridge_checks_token__"
# The default of TWINBRIDGE_MAX_BODY_SIZE: JSON bodies of these APIs are a few kilobytes.
DEFAULT_MAX_BODY_SIZE = 1024 * 1024
METHODS_WITH_BODY = frozenset({"POST", "PUT", "PATCH", "DELETE"})
NUL = "\x00"
NUL_REASON = "must not contain the NUL character (U+0000)"


def streams_body(endpoint: Function) -> Function:
    """Marks an operation that reads its body itself as a stream, with a limit of its own (an upload)."""
    setattr(endpoint, _STREAMS_BODY, True)
    return endpoint


def checks_token(dependency: Function) -> Function:
    """Marks the dependency that validates the caller's token: operations that depend on it get their token
    checked before their body is read."""
    setattr(dependency, _CHECKS_TOKEN, True)
    return dependency


def _depends_on_token(dependant: Dependant) -> bool:
    if getattr(dependant.call, _CHECKS_TOKEN, False):
        return True
    return any(_depends_on_token(dependency) for dependency in dependant.dependencies)


def operation_checks_token(route: APIRoute) -> bool:
    return _depends_on_token(route.dependant)


def operation_streams_body(route: APIRoute) -> bool:
    return bool(getattr(route.endpoint, _STREAMS_BODY, False))


def payload_too_large() -> PayloadTooLarge:
    """The 413 of a refused body; the connection closes, so that the client stops sending the rest."""
    return PayloadTooLarge(headers={"connection": "close"})


def _nul_error(location: Location) -> dict[str, Any]:
    return {"type": "string_nul", "loc": location, "msg": NUL_REASON, "input": None}


def _printable(name: str) -> str:
    return name.replace(NUL, "\\u0000")


def nul_in_query(query: bytes) -> list[dict[str, Any]]:
    """One error per query parameter whose name or value holds a NUL; none for a query without `%00`."""
    if b"%00" not in query and b"\x00" not in query:
        return []
    pairs = parse_qsl(query.decode("latin-1"), keep_blank_values=True, encoding="utf-8", errors="replace")
    names = dict.fromkeys(name for name, value in pairs if NUL in name or NUL in value)
    return [_nul_error(("query", _printable(name))) for name in names]


def nul_in_json(document: Any, location: Location = ("body",)) -> Iterator[Location]:
    """The location of every string of a parsed JSON document (keys too) that holds a NUL."""
    if isinstance(document, str):
        if NUL in document:
            yield location
    elif isinstance(document, dict):
        for key, value in document.items():
            if NUL in key:
                yield (*location, _printable(key))
            yield from nul_in_json(value, (*location, key))
    elif isinstance(document, list):
        for index, item in enumerate(document):
            yield from nul_in_json(item, (*location, index))


def _is_json(content_type: str) -> bool:
    """As FastAPI decides whether to parse a body as JSON: application/json or application/*+json."""
    media_type = content_type.partition(";")[0].strip().lower()
    main, _, sub = media_type.partition("/")
    return main == "application" and (sub == "json" or sub.endswith("+json"))


def body_errors(body: bytes, content_type: str) -> list[dict[str, Any]]:
    """What makes a complete body unreadable: not UTF-8 (JSON), or a NUL in a string or a form field."""
    if _is_json(content_type):
        try:
            body.decode("utf-8")
        except UnicodeDecodeError as failure:
            return [{"type": "json_invalid", "loc": ("body", failure.start), "msg": "JSON is not UTF-8"}]
        if b"\\u0000" not in body:
            return []
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            return []  # malformed: FastAPI reports it
        return [_nul_error(location) for location in nul_in_json(document)]
    if content_type.lower().startswith("application/x-www-form-urlencoded"):
        return [
            _nul_error(("body", *location[1:])) for location in (error["loc"] for error in nul_in_query(body))
        ]
    if b"\x00" in body and content_type.lower().startswith("multipart/form-data"):
        return [_nul_error(("body",))]
    return []


@dataclass(frozen=True)
class IntakeRules:
    """One app's rules (its operations' routes may be shared by several apps: tests make many)."""

    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    authenticate: Authenticate | None = None


INTAKE_RULES_STATE = "intake_rules"
_DEFAULT_RULES = IntakeRules()


class GuardedOperation:
    """One operation's ASGI app behind the checks above. What it needs to know of the operation is worked
    out once, here: whether it takes a token, whether it streams its body, whether it has path parameters.
    The limit and the way to authenticate are the app's (`IntakeRules` in the app's state)."""

    def __init__(self, route: APIRoute, app: ASGIApp) -> None:
        self.app = app
        self.streams_body = operation_streams_body(route)
        self.checks_token = operation_checks_token(route)
        self.has_path_parameters = bool(route.param_convertors)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        errors: list[dict[str, Any]] = []
        if self.has_path_parameters:
            errors += [
                _nul_error(("path", name))
                for name, value in scope["path_params"].items()
                if isinstance(value, str) and NUL in value
            ]
        if scope["query_string"]:
            errors += nul_in_query(scope["query_string"])
        authenticated = False
        if scope["method"] in METHODS_WITH_BODY:
            length, content_type, has_body = _body_headers(scope["headers"])
            if has_body:
                rules = _rules(scope)
                if self.checks_token and rules.authenticate is not None:
                    await rules.authenticate(scope)
                    authenticated = True
                if not self.streams_body:
                    receive = await _read_whole_body(
                        rules.max_body_size, length, content_type, receive, errors
                    )
        if errors:
            rules = _rules(scope)
            if self.checks_token and rules.authenticate is not None and not authenticated:
                await rules.authenticate(scope)
            raise RequestValidationError(errors)
        await self.app(scope, receive, send)


def _rules(scope: Scope) -> IntakeRules:
    app = scope.get("app")
    rules = getattr(app.state, INTAKE_RULES_STATE, None) if app is not None else None
    return rules if isinstance(rules, IntakeRules) else _DEFAULT_RULES


async def _read_whole_body(
    max_body_size: int, length: int | None, content_type: str, receive: Receive, errors: list[dict[str, Any]]
) -> Receive:
    """The body, read (at most the limit) and checked; the operation gets it back as one message."""
    if length is not None and length > max_body_size:
        raise payload_too_large()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return _replay([message], receive)  # the client went away: the operation sees it
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > max_body_size:
            raise payload_too_large()
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    errors += body_errors(body, content_type)
    return _replay([{"type": "http.request", "body": body, "more_body": False}], receive)


def _body_headers(headers: Sequence[tuple[bytes, bytes]]) -> tuple[int | None, str, bool]:
    """Content-Length (None if absent or unreadable), Content-Type, and whether a body comes at all."""
    length: int | None = None
    content_type = ""
    chunked = False
    for name, value in headers:
        if name == b"content-length":
            try:
                length = int(value)
            except ValueError:
                length = None
        elif name == b"content-type":
            content_type = value.decode("latin-1")
        elif name == b"transfer-encoding":
            chunked = True
    return length, content_type, chunked or bool(length)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    """A `receive` that answers `messages` first, then what the client sends next (its disconnect)."""
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed


def guard(route: APIRoute) -> None:
    """Puts `route`'s ASGI app behind a GuardedOperation (once: routes may be shared by several apps)."""
    if not isinstance(route.app, GuardedOperation):
        route.app = GuardedOperation(route, route.app)
