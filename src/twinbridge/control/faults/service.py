"""Fault rules and how they fire. They live in the memory of the API process that was told them (per
process: in scale-out mode each API process has rules of its own), and no database row holds them.

A rule matches a request by operation id (the operationId of /openapi.json), by method, and by a path glob
(`fnmatch`: `*` also matches `/`), each only when given; no rule matches the control API itself. A matching
rule fires with its probability (drawn from a random generator of its own, seeded when asked, so that a
test sees the same sequence every time) until its count is used up, when it expires. Rules are tried in the
order they were made: every firing `latency` rule adds its wait, and the first firing `status` or `drop`
rule answers the request (the rules after it are not tried, so their counts are not used).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from http import HTTPStatus
from typing import TYPE_CHECKING, Literal

from twinbridge.platform.errors import (
    ApiError,
    Conflict,
    InsufficientPermissions,
    InsufficientStorage,
    InternalServerError,
    InvalidRequest,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthenticated,
    invalid_value,
    missing_property,
)
from twinbridge.platform.ids import new_guid

if TYPE_CHECKING:
    from twinbridge.control.faults.schemas import FaultRuleBody

Action = Literal["status", "latency", "drop"]

# The platform's own errors, whose code and message a rule answers when it names only a status.
_PLATFORM_ERRORS: dict[int, type[ApiError]] = {
    error.status_code: error
    for error in (
        Unauthenticated,
        InsufficientPermissions,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        InvalidRequest,
        TooManyRequests,
        InternalServerError,
        InsufficientStorage,
    )
}


class FaultAnswer(ApiError):
    """The error a `status` rule answers, in the contract's envelope like every other error."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str]) -> None:
        super().__init__(message, code=code, headers=headers)
        self.status_code = status  # type: ignore[misc]


def default_code_and_message(status: int) -> tuple[str, str]:
    """What the server itself answers with this status, or the status's name for one it never answers."""
    known = _PLATFORM_ERRORS.get(status)
    if known is not None:
        return known.default_code, known.default_message
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return "Error", f"The request failed with status {status}."
    return "".join(word.capitalize() for word in phrase.replace("-", " ").split()), f"{phrase}."


@dataclass
class FaultRule:
    id: str
    action: Action
    operation_id: str | None = None
    method: str | None = None
    path: str | None = None
    status: int | None = None
    code: str | None = None
    message: str | None = None
    retry_after: int | None = None
    latency_ms: int | None = None
    probability: float = 1.0
    seed: int | None = None
    remaining: int | None = None  # None: fires without end
    fired: int = 0
    random: random.Random = field(default_factory=random.Random, repr=False)

    def matches(self, method: str, path: str, operation_id: Callable[[], str | None]) -> bool:
        if self.method is not None and self.method != method:
            return False
        if self.path is not None and not fnmatchcase(path, self.path):
            return False
        return self.operation_id is None or self.operation_id == operation_id()

    def draw(self) -> bool:
        """Whether the rule fires this time; a firing uses one of its count."""
        if self.probability < 1.0 and not self.random.random() < self.probability:
            return False
        self.fired += 1
        if self.remaining is not None:
            self.remaining -= 1
        return True

    def answer(self) -> FaultAnswer:
        assert self.status is not None
        default_code, default_message = default_code_and_message(self.status)
        headers = {"retry-after": str(self.retry_after)} if self.retry_after is not None else {}
        return FaultAnswer(self.status, self.code or default_code, self.message or default_message, headers)


@dataclass(frozen=True)
class Firing:
    """What the rules do to one request: wait this long, then answer by `answering` (or handle it)."""

    rules: list[FaultRule]
    latency_ms: int
    answering: FaultRule | None


NO_FIRING = Firing([], 0, None)


class FaultRules:
    def __init__(self) -> None:
        self.rules: list[FaultRule] = []

    def add(self, body: FaultRuleBody, known_operation_ids: frozenset[str]) -> FaultRule:
        """A new rule; 422 naming the property for a combination the body's schema cannot refuse alone."""
        if body.action == "status" and body.status is None:
            raise InvalidRequest(details=[missing_property("status")])
        if body.action == "latency" and body.latency_ms is None:
            raise InvalidRequest(details=[missing_property("latencyMs")])
        for name, value in (
            ("status", body.status),
            ("code", body.code),
            ("message", body.message),
            ("retryAfter", body.retry_after),
        ):
            if value is not None and body.action != "status":
                raise InvalidRequest(
                    details=[invalid_value(name, f"{name} is only read with action 'status'.")]
                )
        if body.operation_id is not None and body.operation_id not in known_operation_ids:
            raise InvalidRequest(
                details=[
                    invalid_value(
                        "operationId", f"No operation of /openapi.json has operationId '{body.operation_id}'."
                    )
                ]
            )
        rule = FaultRule(
            id=new_guid(),
            action=body.action,
            operation_id=body.operation_id,
            method=body.method,
            path=body.path,
            status=body.status,
            code=body.code,
            message=body.message,
            retry_after=body.retry_after,
            latency_ms=body.latency_ms,
            probability=body.probability,
            seed=body.seed,
            remaining=body.count,
            random=random.Random(body.seed),
        )
        self.rules.append(rule)
        return rule

    def remove(self, rule_id: str) -> None:
        for index, rule in enumerate(self.rules):
            if rule.id == rule_id:
                del self.rules[index]
                return
        raise NotFound(code="FaultNotFound", message=f"There is no fault rule with id '{rule_id}'.")

    def clear(self) -> None:
        self.rules.clear()

    def fire(self, method: str, path: str, operation_id: Callable[[], str | None]) -> Firing:
        """The rules that fire for a request (`operation_id` is asked only if a rule names one)."""
        if not self.rules:
            return NO_FIRING
        fired: list[FaultRule] = []
        latency_ms = 0
        answering: FaultRule | None = None
        for rule in self.rules:
            if not rule.matches(method, path, operation_id) or not rule.draw():
                continue
            fired.append(rule)
            latency_ms += rule.latency_ms or 0
            if rule.action != "latency":
                answering = rule
                break
        if fired:
            self.rules = [rule for rule in self.rules if rule.remaining != 0]
            return Firing(fired, latency_ms, answering)
        return NO_FIRING
