"""The OpenAPI document as the server behaves: error answers by the kind of operation, strings as taken."""

from __future__ import annotations

import re
from typing import Any

from twinbridge.platform.openapi import (
    ANY_JSON_NAME,
    NO_NUL_PATTERN,
    OperationFacts,
    _constrain_strings,
    _refused_parameters_described,
    given_not_null,
    one_of_in_any_case,
)


def test_a_read_without_token_or_resource_answers_only_validation_and_unexpected_errors() -> None:
    facts = OperationFacts(
        "GET", checks_token=False, names_a_resource=False, reads_body=False, streams_body=False
    )
    assert facts.error_statuses() == [422, 500]


def test_a_write_with_a_body_and_a_token_answers_every_error_of_its_kind() -> None:
    facts = OperationFacts(
        "POST", checks_token=True, names_a_resource=False, reads_body=True, streams_body=False
    )
    assert facts.error_statuses() == [401, 403, 404, 409, 413, 422, 429, 500, 503, 507]


def test_an_upload_answers_413_and_507_without_a_token() -> None:
    facts = OperationFacts(
        "PUT", checks_token=False, names_a_resource=True, reads_body=False, streams_body=True
    )
    assert facts.error_statuses() == [403, 404, 409, 413, 422, 500, 503, 507]


def test_strings_refuse_nul_and_objects_refuse_it_in_names_and_unread_values() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "state": {"type": "string", "enum": ["a"]},
            "folder": {"type": "string", "pattern": "^x$"},
        },
    }
    _constrain_strings(schema)
    assert schema["properties"]["name"]["pattern"] == NO_NUL_PATTERN
    assert "pattern" not in schema["properties"]["state"]
    assert schema["properties"]["folder"]["pattern"] == "^x$"
    assert schema["propertyNames"] == {"pattern": NO_NUL_PATTERN}
    assert schema["additionalProperties"] == {"$ref": f"#/components/schemas/{ANY_JSON_NAME}"}
    assert re.search(NO_NUL_PATTERN, "a\x00b") is None


def test_a_parameter_that_takes_no_value_is_named_in_the_description_instead() -> None:
    operation: dict[str, Any] = {
        "description": "Lists.",
        "parameters": [
            {"name": "$top", "in": "query", "schema": {"type": "integer"}},
            {
                "name": "$continuationToken",
                "in": "query",
                "description": "Not served.",
                "schema": {"not": {}},
            },
        ],
    }
    _refused_parameters_described(operation)
    assert [parameter["name"] for parameter in operation["parameters"]] == ["$top"]
    assert operation["description"] == "Lists.\n\nRefused (422): `$continuationToken`: Not served."


def test_a_property_given_but_never_null_is_documented_without_null_or_default() -> None:
    schema: dict[str, Any] = {
        "anyOf": [{"type": "string", "minLength": 1}, {"type": "null"}],
        "default": None,
    }
    given_not_null(schema)
    assert schema == {"type": "string", "minLength": 1}


def test_words_in_any_case_or_nothing() -> None:
    pattern = one_of_in_any_case(["Active", "Trial"], padded=True)
    assert [bool(re.match(pattern, value)) for value in ["", "active", " TRIAL ", "Inactive"]] == [
        True,
        True,
        True,
        False,
    ]
