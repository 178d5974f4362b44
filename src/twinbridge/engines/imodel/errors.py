"""Engine failures as Python exceptions.

The engine answers a failed op with `{"error": {"code", "message", ...}}`; `EngineError.from_reply` turns that
into the subclass for the code so that callers can catch what they can handle (a file that is not an iModel,
an unknown element) apart from what they cannot (the process died or hung).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar


class EngineError(Exception):
    """A failure reported by (or observed on) an iModel engine process."""

    default_code: ClassVar[str] = "ENGINE_ERROR"

    def __init__(
        self, message: str, *, code: str | None = None, details: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code or self.default_code
        self.message = message
        self.details: dict[str, Any] = dict(details or {})

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    @staticmethod
    def from_reply(error: Mapping[str, Any] | None) -> EngineError:
        """The exception for an engine error payload, chosen by its code."""
        error = error or {}
        code = str(error.get("code") or EngineError.default_code)
        message = str(error.get("message") or "the engine reported an error without a message")
        details = {key: value for key, value in error.items() if key not in ("code", "message")}
        error_class = _BY_CODE.get(code, EngineError)
        return error_class(message, code=code, details=details)


class EngineRequestError(EngineError):
    """The engine rejected the command itself (bad arguments, unknown op or handle): a bug on our side."""

    default_code = "BAD_REQUEST"


class IModelFileError(EngineError):
    """The file cannot be used as an iModel: missing, not an iModel, corrupt, or unreadable."""

    default_code = "OPEN_FAILED"


class QueryError(EngineError):
    """An ECSQL statement failed."""

    default_code = "QUERY_FAILED"


class ElementNotFoundError(EngineError):
    """Element ids given to the engine are not geometric elements of the iModel."""

    default_code = "ELEMENT_NOT_FOUND"


class GraphicsExportError(EngineError):
    """The native faceter reported a failure (not a crash) for a batch of elements."""

    default_code = "EXPORT_FAILED"


class EngineCancelledError(EngineError):
    """A streaming op was cancelled on request."""

    default_code = "CANCELLED"


class GenerateError(EngineError):
    """Writing a synthetic or new iModel failed."""

    default_code = "GENERATE_FAILED"


class SchemaUpgradeError(EngineError):
    """The iModel's profile or schemas cannot be brought up to the engine's: it is newer than the engine
    (SCHEMA_TOO_NEW), or the native library refused the upgrade (UPGRADE_FAILED)."""

    default_code = "UPGRADE_FAILED"


class EngineUnavailableError(EngineError):
    """The engine process could not be started (no node, no engine.js, npm packages missing)."""

    default_code = "ENGINE_UNAVAILABLE"


class EngineCrashedError(EngineError):
    """The engine process exited while a command was running (e.g. a native crash on a damaged element)."""

    default_code = "ENGINE_CRASHED"


class EngineTimeoutError(EngineError):
    """The engine did not answer in time; the process has been killed."""

    default_code = "ENGINE_TIMEOUT"


class EngineProtocolError(EngineError):
    """The engine wrote something that is not a valid frame; the process cannot be trusted any more."""

    default_code = "ENGINE_PROTOCOL"


_BY_CODE: dict[str, type[EngineError]] = {
    "BAD_JSON": EngineRequestError,
    "BAD_REQUEST": EngineRequestError,
    "UNKNOWN_OP": EngineRequestError,
    "UNKNOWN_HANDLE": EngineRequestError,
    "READ_ONLY": EngineRequestError,
    "FILE_NOT_FOUND": IModelFileError,
    "FILE_EXISTS": IModelFileError,
    "NOT_AN_IMODEL": IModelFileError,
    "OPEN_FAILED": IModelFileError,
    "QUERY_FAILED": QueryError,
    "ELEMENT_NOT_FOUND": ElementNotFoundError,
    "EXPORT_FAILED": GraphicsExportError,
    "CANCELLED": EngineCancelledError,
    "CREATE_FAILED": GenerateError,
    "SCHEMA_IMPORT_FAILED": GenerateError,
    "INSERT_FAILED": GenerateError,
    "GENERATE_FAILED": GenerateError,
    "UPGRADE_FAILED": SchemaUpgradeError,
    "SCHEMA_TOO_NEW": SchemaUpgradeError,
}
