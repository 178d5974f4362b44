"""Engine error payloads become the exception class of their code."""

from __future__ import annotations

from twinbridge.engines.imodel.errors import (
    ElementNotFoundError,
    EngineError,
    EngineRequestError,
    IModelFileError,
    QueryError,
)


def test_error_codes_map_to_exception_classes_with_code_and_message() -> None:
    error = EngineError.from_reply({"code": "NOT_AN_IMODEL", "message": "not a SQLite/iModel file: x"})

    assert isinstance(error, IModelFileError)
    assert error.code == "NOT_AN_IMODEL"
    assert error.message == "not a SQLite/iModel file: x"
    assert str(error) == "NOT_AN_IMODEL: not a SQLite/iModel file: x"


def test_extra_fields_of_the_payload_are_kept_as_details() -> None:
    error = EngineError.from_reply({"code": "ELEMENT_NOT_FOUND", "message": "m", "missing": ["0x1"]})

    assert isinstance(error, ElementNotFoundError)
    assert error.details == {"missing": ["0x1"]}


def test_unknown_codes_stay_plain_engine_errors() -> None:
    error = EngineError.from_reply({"code": "SOMETHING_NEW", "message": "m"})

    assert type(error) is EngineError
    assert error.code == "SOMETHING_NEW"


def test_request_and_query_failures_have_their_own_classes() -> None:
    assert isinstance(EngineError.from_reply({"code": "UNKNOWN_HANDLE"}), EngineRequestError)
    assert isinstance(EngineError.from_reply({"code": "QUERY_FAILED", "message": "syntax"}), QueryError)
    assert EngineError.from_reply(None).code == "ENGINE_ERROR"
