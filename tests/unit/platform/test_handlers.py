from __future__ import annotations

from twinbridge.platform.handlers import validation_details


def test_missing_body_property_names_the_property() -> None:
    details = validation_details([{"loc": ("body", "iModelId"), "type": "missing", "msg": "Field required"}])
    assert [detail.as_dict() for detail in details] == [
        {"code": "MissingRequiredProperty", "message": "iModelId was not provided.", "target": "iModelId"}
    ]


def test_nested_invalid_value_targets_the_path_into_the_body() -> None:
    details = validation_details(
        [{"loc": ("body", "sourceFiles", 0, "connectorType"), "type": "enum", "msg": "Input should be 'IFC'"}]
    )
    assert details[0].code == "InvalidValue"
    assert details[0].target == "sourceFiles[0].connectorType"


def test_malformed_json_gives_the_contract_detail() -> None:
    details = validation_details([{"loc": ("body", 1), "type": "json_invalid", "msg": "JSON decode error"}])
    assert details[0].as_dict() == {
        "code": "InvalidRequestBody",
        "message": "Error parsing JSON, malformed JSON.",
    }


def test_repeated_errors_are_reported_once() -> None:
    error = {"loc": ("query", "imodelId"), "type": "missing", "msg": "Field required"}
    assert len(validation_details([error, error])) == 1


def test_missing_query_parameter_is_a_missing_parameter() -> None:
    details = validation_details([{"loc": ("query", "iTwinId"), "type": "missing", "msg": "Field required"}])
    assert details[0].as_dict() == {
        "code": "MissingRequiredParameter",
        "message": "iTwinId was not provided.",
        "target": "iTwinId",
    }
