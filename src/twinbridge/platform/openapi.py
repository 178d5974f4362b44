"""The OpenAPI document as the server behaves: every status an operation can answer with its body, and
parameters and bodies constrained as the server checks them.

FastAPI documents the success answer and a 422 of its own shape. To that `complete_document` adds, from
what each operation is (`OperationFacts`), the answers every operation of its kind can give, in the
contract's envelope (`ErrorResponse`): 401 and 429 where a token is checked, 403 and 404 where a resource
is named, 409, 503 (the SQLite writer lock) and 507 (a full disk) on writes, 413 where a body is read, 500
anywhere. An operation documents what is its own (a 303, a 302, the OAuth errors of the built-in issuer)
with FastAPI's `responses=`; `errors_as` names an operation whose errors are another body than the envelope.

Strings are documented as the server takes them: no NUL character anywhere (`twinbridge.platform.intake`
refuses it), and a path parameter is never empty.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi.routing import APIRoute

from twinbridge.platform.intake import operation_checks_token, operation_streams_body

Function = TypeVar("Function", bound=Callable[..., Any])

ERROR_RESPONSE_NAME = "ErrorResponse"
ERROR_RESPONSE_SCHEMA: dict[str, Any] = {
    "title": ERROR_RESPONSE_NAME,
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "target": {"type": "string"},
                "details": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["code", "message"],
                        "properties": {
                            "code": {"type": "string"},
                            "message": {"type": "string"},
                            "target": {"type": "string"},
                        },
                    },
                },
            },
        }
    },
}
ENVELOPE_REFERENCE = {"$ref": f"#/components/schemas/{ERROR_RESPONSE_NAME}"}
# RFC 6749 section 5.2: the errors of the built-in issuer's endpoints.
OAUTH_ERROR_SCHEMA: dict[str, Any] = {
    "title": "OAuthError",
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}, "error_description": {"type": "string"}},
}

DESCRIPTIONS = {
    400: "Bad request.",
    401: "No token, or a token refused (HeaderNotFound, InvalidAuthorizationScheme, InvalidHeaderValue, "
    "Unauthorized, RequiredScopeMissing).",
    403: "The caller may not do this to the resource.",
    404: "The resource, or one the request names, does not exist.",
    409: "The request conflicts with the resource's state.",
    413: "The request body is larger than the operation reads.",
    422: "A parameter or the body is not valid; `details` names each.",
    429: "Too many requests from this caller; `retry-after` says when to try again.",
    500: "An unexpected failure; the server's log has its traceback.",
    503: "The database is busy with another writer; `retry-after` says when to try again.",
    507: "The server's disk is full; nothing of the request was kept.",
}
RETRY_AFTER_HEADER = {
    "retry-after": {"description": "Seconds to wait.", "schema": {"type": "integer", "minimum": 1}}
}
BEARER_SCHEME = "bearer"
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# A string the server takes: without the NUL character, which no database column can hold.
NO_NUL_PATTERN = "^[^\\u0000]*$"

_ERRORS_AS = "__twinbridge_errors_as__"


def any_case(word: str) -> str:
    """A regular expression of `word` in any case (JSON Schema patterns have no flags)."""
    return "".join(f"[{c.lower()}{c.upper()}]" if c.lower() != c.upper() else re.escape(c) for c in word)


def one_of_in_any_case(words: Iterable[str], *, padded: bool = False) -> str:
    """The pattern of a parameter that takes one of `words` in any case, or nothing (an empty value);
    `padded`: with white space around, which the server strips."""
    choice = "|".join(any_case(word) for word in words)
    space = "\\s*" if padded else ""
    return f"^({space}({choice}){space})?$"


def given_not_null(schema: dict[str, Any]) -> None:
    """`json_schema_extra` of an optional property that may be left out but not given as null (its
    validator refuses null): documented without the null pydantic gives `X | None`, and without a default."""
    schema.pop("default", None)
    branches = [branch for branch in schema.pop("anyOf", []) if branch.get("type") != "null"]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches


def errors_as(schema: dict[str, Any], statuses: Iterable[int]) -> Callable[[Function], Function]:
    """An operation whose own errors, with these statuses, are `schema` (the OAuth errors of RFC 6749,
    say) rather than the envelope (which its 422, 413 and 500 still are)."""

    def mark(endpoint: Function) -> Function:
        setattr(endpoint, _ERRORS_AS, (schema, tuple(statuses)))
        return endpoint

    return mark


@dataclass(frozen=True)
class OperationFacts:
    """What the statuses an operation can answer follow from."""

    method: str
    checks_token: bool
    names_a_resource: bool
    reads_body: bool
    streams_body: bool

    @classmethod
    def of(cls, route: APIRoute, method: str) -> OperationFacts:
        required_query = any(field.field_info.is_required() for field in route.dependant.query_params)
        return cls(
            method=method,
            checks_token=operation_checks_token(route),
            names_a_resource=bool(route.dependant.path_params) or required_query,
            reads_body=route.body_field is not None,
            streams_body=operation_streams_body(route),
        )

    def error_statuses(self) -> list[int]:
        statuses = {422, 500}
        if self.checks_token:
            statuses |= {401, 429}
        if self.names_a_resource or self.streams_body or self.checks_token:
            statuses |= {403, 404}
        if self.method in WRITE_METHODS:
            statuses |= {409, 503, 507}
        if self.reads_body or self.streams_body:
            statuses.add(413)
        return sorted(statuses)


def _error_response(status: int, schema: dict[str, Any]) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": DESCRIPTIONS.get(status, "Error."),
        "content": {"application/json": {"schema": schema}},
    }
    if status in (429, 503):
        response["headers"] = RETRY_AFTER_HEADER
    return response


def _constrain_strings(node: Any) -> None:
    """Every string schema without a pattern, format or fixed values refuses the NUL character; so do an
    object's property names and the values of properties it does not name."""
    if isinstance(node, dict):
        if (
            node.get("type") == "string"
            and not {"pattern", "format", "enum", "const"} & node.keys()
            and node.get("maxLength") != 0
        ):
            node["pattern"] = NO_NUL_PATTERN
        if node.get("type") == "object":
            node.setdefault("propertyNames", {"pattern": NO_NUL_PATTERN})
            if node.get("additionalProperties", True) is True:
                # What an object may hold besides its properties (a body's unread properties, a free-form
                # object's values): any JSON without a NUL.
                node["additionalProperties"] = {"$ref": f"#/components/schemas/{ANY_JSON_NAME}"}
        for value in node.values():
            _constrain_strings(value)
    elif isinstance(node, list):
        for item in node:
            _constrain_strings(item)


def _non_empty_path_parameters(operation: dict[str, Any]) -> None:
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "path":
            parameter.setdefault("schema", {}).setdefault("minLength", 1)


def _refused_parameters_described(operation: dict[str, Any]) -> None:
    """A parameter that no value is accepted for (`not: {}`: one upstream has, refused here with 422) is
    named in the operation's description rather than offered as a parameter."""
    parameters = operation.get("parameters", [])
    refused = [parameter for parameter in parameters if parameter.get("schema") == {"not": {}}]
    if refused:
        operation["parameters"] = [parameter for parameter in parameters if parameter not in refused]
        notes = " ".join(
            f"`{parameter['name']}`: {parameter.get('description', '')}" for parameter in refused
        )
        operation["description"] = f"{operation.get('description', '')}\n\nRefused (422): {notes}".strip()


# Any JSON value without a NUL character in its strings or property names: what the properties of a body
# that the operation does not read may hold (twinbridge.platform.intake refuses a NUL anywhere in a body).
ANY_JSON_NAME = "AnyJsonWithoutNul"
ANY_JSON_SCHEMA: dict[str, Any] = {
    "title": ANY_JSON_NAME,
    "anyOf": [
        {"type": "string", "pattern": NO_NUL_PATTERN},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "null"},
        {"type": "array", "items": {"$ref": f"#/components/schemas/{ANY_JSON_NAME}"}},
        {
            "type": "object",
            "propertyNames": {"pattern": NO_NUL_PATTERN},
            "additionalProperties": {"$ref": f"#/components/schemas/{ANY_JSON_NAME}"},
        },
    ],
}


def complete_document(document: dict[str, Any], routes: Iterable[APIRoute]) -> dict[str, Any]:
    """`document` (FastAPI's, of `routes`) with every operation's error answers and its strings as taken."""
    document.setdefault("components", {}).setdefault("securitySchemes", {})[BEARER_SCHEME] = {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token of an accepted issuer (TWINBRIDGE_AUTH_ISSUERS).",
    }
    components = document["components"].setdefault("schemas", {})
    components[ERROR_RESPONSE_NAME] = copy.deepcopy(ERROR_RESPONSE_SCHEMA)
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    paths = document.get("paths", {})
    for route in routes:
        for method in sorted(route.methods or ()):
            operation = paths.get(route.path_format, {}).get(method.lower())
            if operation is None:
                continue
            responses = operation.setdefault("responses", {})
            statuses = dict.fromkeys(OperationFacts.of(route, method).error_statuses(), ENVELOPE_REFERENCE)
            own = getattr(route.endpoint, _ERRORS_AS, None)
            if own is not None:
                schema, own_statuses = own
                statuses.update(dict.fromkeys(own_statuses, schema))
            for status, schema in sorted(statuses.items()):
                responses[str(status)] = {**responses.get(str(status), {}), **_error_response(status, schema)}
            if operation_checks_token(route):
                operation["security"] = [{BEARER_SCHEME: []}]
            _non_empty_path_parameters(operation)
            _refused_parameters_described(operation)
    _constrain_strings(document)
    components[ANY_JSON_NAME] = copy.deepcopy(ANY_JSON_SCHEMA)
    return document
