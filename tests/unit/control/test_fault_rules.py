"""Which fault rules fire for a request, and in what order (FaultRules alone, no app)."""

from __future__ import annotations

import random
from typing import Any

from twinbridge.control.faults.schemas import FaultRuleBody
from twinbridge.control.faults.service import FaultRules, default_code_and_message

KNOWN = frozenset({"list_itwins", "get_itwin"})


def _rules(*bodies: dict[str, Any]) -> FaultRules:
    rules = FaultRules()
    for body in bodies:
        rules.add(FaultRuleBody.model_validate(body), KNOWN)
    return rules


def _never_asked() -> str | None:
    raise AssertionError("no rule names an operation, so none is looked up")


def test_a_path_glob_matches_across_slashes_and_a_method_narrows_it() -> None:
    rules = _rules({"method": "DELETE", "path": "/itwins/*", "action": "drop"})

    assert rules.fire("DELETE", "/itwins/a/members/b", _never_asked).answering is rules.rules[0]
    assert rules.fire("GET", "/itwins/a", _never_asked).answering is None
    assert rules.fire("DELETE", "/itwins", _never_asked).answering is None
    assert rules.fire("DELETE", "/imodels/a", _never_asked).answering is None


def test_a_rule_naming_an_operation_matches_its_requests_whatever_the_path() -> None:
    rules = _rules({"operationId": "get_itwin", "action": "status", "status": 500})

    assert rules.fire("GET", "/itwins/a", lambda: "get_itwin").answering is not None
    assert rules.fire("GET", "/itwins", lambda: "list_itwins").answering is None


def test_latency_rules_add_up_until_the_first_rule_that_answers() -> None:
    rules = _rules(
        {"path": "/itwins", "action": "latency", "latencyMs": 30},
        {"path": "/imodels", "action": "drop"},
        {"action": "latency", "latencyMs": 20},
        {"action": "status", "status": 503, "latencyMs": 5, "count": 3},
        {"action": "status", "status": 500, "count": 3},
    )

    firing = rules.fire("GET", "/itwins", _never_asked)

    assert firing.latency_ms == 55
    assert firing.answering is rules.rules[3]
    assert [rule.remaining for rule in rules.rules[3:]] == [2, 3]  # the last rule was not tried
    assert [rule.fired for rule in rules.rules] == [1, 0, 1, 1, 0]


def test_a_rule_expires_after_its_count() -> None:
    rules = _rules({"action": "status", "status": 429, "retryAfter": 1, "count": 2})

    answers = [rules.fire("GET", "/itwins", _never_asked).answering for _ in range(3)]

    assert [answer is not None for answer in answers] == [True, True, False]
    assert rules.rules == []


def test_a_seeded_rule_fires_as_its_seed_draws_and_probability_zero_never_fires() -> None:
    rules = _rules(
        {"action": "latency", "latencyMs": 1, "probability": 0.3, "seed": 42},
        {"action": "drop", "probability": 0},
    )
    draws = random.Random(42)

    fired = [rules.fire("GET", "/health", _never_asked).latency_ms == 1 for _ in range(50)]

    assert fired == [draws.random() < 0.3 for _ in range(50)]
    assert rules.rules[1].fired == 0


def test_a_status_rule_answers_the_platforms_error_unless_it_names_its_own() -> None:
    rules = _rules(
        {"action": "status", "status": 429, "retryAfter": 7},
        {"action": "status", "status": 418, "code": "Teapot", "message": "Short and stout."},
    )

    throttled, teapot = (rule.answer() for rule in rules.rules)

    assert (throttled.status_code, throttled.code, throttled.headers) == (
        429,
        "TooManyRequests",
        {"retry-after": "7"},
    )
    assert teapot.body() == {"error": {"code": "Teapot", "message": "Short and stout."}}
    assert default_code_and_message(503) == ("ServiceUnavailable", "Service Unavailable.")
    assert default_code_and_message(404) == ("ResourceNotFound", "The requested resource was not found.")
