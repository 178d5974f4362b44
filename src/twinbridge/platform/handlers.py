"""The one place where exceptions become HTTP responses."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import Receive, Scope, Send

from twinbridge.platform.disk import is_disk_full
from twinbridge.platform.errors import (
    MALFORMED_JSON,
    ApiError,
    ErrorDetail,
    InsufficientStorage,
    InternalServerError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    OAuthError,
    PayloadTooLarge,
    invalid_value,
    missing_parameter,
    missing_property,
)
from twinbridge.platform.routing import allowed_methods

logger = structlog.get_logger(__name__)

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
INVALID_REQUEST_CODE_ATTRIBUTE = "__twinbridge_invalid_request_code__"
TARGET_NAMES_ATTRIBUTE = "__twinbridge_target_names__"


def invalid_request_code(code: str, targets: dict[str, str] | None = None) -> Callable[[Endpoint], Endpoint]:
    """Names the 422 code of an operation (e.g. InvalidExportConnectionRequest) for its validation errors.

    `targets` renames fields in details where an operation's documented errors spell them differently
    (seed 002 names the body's `iModelId` as `imodelId`).
    """

    def decorate(endpoint: Endpoint) -> Endpoint:
        setattr(endpoint, INVALID_REQUEST_CODE_ATTRIBUTE, code)
        setattr(endpoint, TARGET_NAMES_ATTRIBUTE, targets or {})
        return endpoint

    return decorate


def _endpoint(request: Request) -> Any:
    return getattr(request.scope.get("route"), "endpoint", None)


def _operation_invalid_request_code(request: Request) -> str:
    return str(getattr(_endpoint(request), INVALID_REQUEST_CODE_ATTRIBUTE, InvalidRequest.default_code))


def _path(location: Sequence[int | str]) -> str:
    """('body', 'sourceFiles', 0, 'connectorType') -> 'sourceFiles[0].connectorType'."""
    target = ""
    for part in location[1:]:
        if isinstance(part, int):
            target += f"[{part}]"
        else:
            target += f".{part}" if target else str(part)
    return target


def validation_details(
    errors: Sequence[Any], target_names: dict[str, str] | None = None
) -> list[ErrorDetail]:
    renames = target_names or {}

    def _target(location: Sequence[int | str]) -> str:
        name = _path(location)
        return renames.get(name, name)

    details: list[ErrorDetail] = []
    for error in errors:
        location = tuple(error.get("loc", ()))
        kind = error.get("type", "")
        if kind == "json_invalid":
            detail = MALFORMED_JSON
        elif location == ("body",) and kind == "missing":
            detail = ErrorDetail("MissingRequestBody", "Request body was not provided.")
        elif location == ("body",):
            detail = ErrorDetail("InvalidRequestBody", "Request body must be a JSON object.")
        elif kind == "missing" and location[0] == "body":
            detail = missing_property(_target(location))
        elif kind == "missing":
            detail = missing_parameter(_target(location))
        else:
            target = _target(location)
            reason = str(error.get("msg", "")).rstrip(".")
            detail = invalid_value(target, f"Provided {target} value is not valid: {reason}.")
        if detail not in details:
            details.append(detail)
    return details


def _render(error: ApiError) -> JSONResponse:
    return JSONResponse(error.body(), status_code=error.status_code, headers=error.headers or None)


async def handle_api_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ApiError)
    if isinstance(error, InvalidRequest) and error.code == InvalidRequest.default_code:
        error.code = _operation_invalid_request_code(request)
    return _render(error)


async def handle_validation_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, RequestValidationError)
    target_names = getattr(_endpoint(request), TARGET_NAMES_ATTRIBUTE, {})
    invalid = InvalidRequest(
        code=_operation_invalid_request_code(request),
        details=validation_details(error.errors(), target_names),
    )
    return _render(invalid)


async def handle_http_exception(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, StarletteHTTPException)
    rendered: ApiError
    if error.status_code == 404:
        rendered = NotFound()
    elif error.status_code == 405:
        rendered = MethodNotAllowed()
        rendered.headers = {"allow": ", ".join(allowed_methods(request.app, request.url.path))}
        return _render(rendered)
    elif error.status_code == 413:
        rendered = PayloadTooLarge()
    else:
        rendered = ApiError(str(error.detail), code="HttpError")
        rendered.status_code = error.status_code  # type: ignore[misc]
    rendered.headers = dict(error.headers or {})
    return _render(rendered)


async def handle_oauth_error(request: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, OAuthError)
    headers = {"Cache-Control": "no-store", **error.headers}
    return JSONResponse(error.body(), status_code=error.status_code, headers=headers)


async def handle_unexpected_error(request: Request, error: Exception) -> JSONResponse:
    # Logged with its traceback for the operator; the caller gets the envelope and never a traceback.
    logger.exception("unhandled_error", path=request.url.path, error=repr(error))
    return _render(InternalServerError())


async def handle_os_error(request: Request, error: Exception) -> JSONResponse:
    """A full disk is the server's condition, not a bug: 507, logged without a traceback. What was being
    written is not kept (temporary files and blobs are removed where they are written)."""
    if is_disk_full(error):
        logger.warning("disk_full", path=request.url.path, error=str(error))
        return _render(InsufficientStorage())
    return await handle_unexpected_error(request, error)


async def answer_unexpected_error(scope: Scope, receive: Receive, send: Send, error: Exception) -> None:
    """The 500 of an error no handler took, sent by the outermost middleware, which then returns normally:
    an exception that left the app would make the server close the client's keep-alive connection."""
    response = await handle_unexpected_error(Request(scope, receive), error)
    await response(scope, receive, send)


async def answer_api_error(scope: Scope, receive: Receive, send: Send, error: ApiError) -> None:
    """An error answered by a middleware, before any operation: rendered as the handler renders it."""
    await _render(error)(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, handle_api_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(OAuthError, handle_oauth_error)
    app.add_exception_handler(OSError, handle_os_error)
    app.add_exception_handler(Exception, handle_unexpected_error)
