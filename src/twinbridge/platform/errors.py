"""The error envelope of api.bentley.com: every failure is an exception carrying the contract's fields.

One handler (`twinbridge.platform.handlers`) renders them as
`{"error": {"code", "message", "target"?, "details"?}}`; no endpoint builds an error body itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

CANNOT_PERFORM_OPERATION = "Cannot perform operation."


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str
    target: str | None = None

    def as_dict(self) -> dict[str, str]:
        body = {"code": self.code, "message": self.message}
        if self.target is not None:
            body["target"] = self.target
        return body


def missing_property(name: str) -> ErrorDetail:
    return ErrorDetail("MissingRequiredProperty", f"{name} was not provided.", name)


def missing_parameter(name: str) -> ErrorDetail:
    return ErrorDetail("MissingRequiredParameter", f"{name} was not provided.", name)


def invalid_value(name: str, message: str | None = None) -> ErrorDetail:
    return ErrorDetail("InvalidValue", message or f"Provided {name} value is not valid.", name)


MALFORMED_JSON = ErrorDetail("InvalidRequestBody", "Error parsing JSON, malformed JSON.")
PAGE_SIZE_OUT_OF_LIMITS = ErrorDetail("InvalidValue", "Page size is out of limits.", "$top")


class ApiError(Exception):
    """An error answered in the contract's envelope."""

    status_code: ClassVar[int] = 500
    default_code: ClassVar[str] = "InternalServerError"
    default_message: ClassVar[str] = "The server could not complete the request."

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        target: str | None = None,
        details: list[ErrorDetail] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code or self.default_code
        self.message = message or self.default_message
        self.target = target
        self.details = details or []
        self.headers = headers or {}
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.target is not None:
            error["target"] = self.target
        if self.details:
            error["details"] = [detail.as_dict() for detail in self.details]
        return {"error": error}


class Unauthenticated(ApiError):
    """401: the call does not prove who makes it. The subclasses carry the API gateway's codes; the reason
    a token was refused is in `details`."""

    status_code = 401
    default_code = "Unauthorized"
    # The gateway's answer to a refused token (iTwin/imodels-clients' integration test of an invalid token).
    default_message = (
        "Access denied due to invalid access_token. "
        "Make sure that issuer is correct, the token is not expired and is not corrupted."
    )


class HeaderNotFound(Unauthenticated):
    default_code = "HeaderNotFound"
    default_message = "Header Authorization was not found in the request. Access denied."


class InvalidAuthorizationScheme(Unauthenticated):
    """The header's first word is not `Bearer` (the gateway's wording, from iTwin/itwins-client's tests)."""

    default_code = "InvalidAuthorizationScheme"

    def __init__(self, scheme: str, details: list[ErrorDetail] | None = None) -> None:
        super().__init__(f"Authorization scheme '{scheme}' is not valid.", details=details)


class InvalidHeaderValue(Unauthenticated):
    """`Bearer` followed by nothing, or by something that is not a token at all."""

    default_code = "InvalidHeaderValue"


class InvalidAccessToken(Unauthenticated):
    """A token that is well formed but refused: expired, signed by an unknown key, from another issuer, …"""

    default_code = "Unauthorized"


class RequiredScopeMissing(Unauthenticated):
    """A valid token without a scope the operation requires."""

    default_code = "RequiredScopeMissing"
    default_message = (
        "Access denied due to missing required scope. The access token does not grant this operation."
    )


class InsufficientPermissions(ApiError):
    status_code = 403
    default_code = "InsufficientPermissions"
    default_message = "The user has insufficient permissions for the requested operation."


class NotFound(ApiError):
    status_code = 404
    default_code = "ResourceNotFound"
    default_message = "The requested resource was not found."


class MethodNotAllowed(ApiError):
    status_code = 405
    default_code = "MethodNotAllowed"
    default_message = "The request method is not supported by this resource."


class Conflict(ApiError):
    status_code = 409
    default_code = "Conflict"
    default_message = "The request conflicts with the current state of the resource."


class PayloadTooLarge(ApiError):
    status_code = 413
    default_code = "PayloadTooLarge"
    default_message = "The request body is larger than this server accepts."


class InvalidRequest(ApiError):
    """422: the contract's shape is an operation-specific code, 'Cannot perform operation.' and details."""

    status_code = 422
    default_code = "InvalidRequest"
    default_message = CANNOT_PERFORM_OPERATION


class TooManyRequests(ApiError):
    status_code = 429
    default_code = "TooManyRequests"
    default_message = "More requests were received than the subscription rate-limit allows."


class RateLimitExceeded(TooManyRequests):
    default_code = "RateLimitExceeded"
    default_message = (
        "The client sent more requests than allowed by this API for the current tier of the client."
    )


class InternalServerError(ApiError):
    status_code = 500


class InsufficientStorage(ApiError):
    """507: the server's disk (or its database's) is full; what the request was writing is not kept."""

    status_code = 507
    default_code = "InsufficientStorage"
    default_message = "The server has no space left to store the request's data; try again later."


class OAuthError(Exception):
    """Errors of the built-in issuer's token endpoint, which speaks RFC 6749 section 5.2, not the envelope."""

    def __init__(
        self, error: str, description: str, status_code: int = 400, headers: dict[str, str] | None = None
    ) -> None:
        self.error = error
        self.description = description
        self.status_code = status_code
        self.headers = headers or {}
        super().__init__(description)

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}
