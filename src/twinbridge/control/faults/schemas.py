"""The body of a fault rule."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class FaultRuleBody(BaseModel):
    """What a rule matches, how often it fires, and what it does then. Unknown properties are refused, so a
    misspelt one is a 422 rather than a rule that fires on everything."""

    model_config = ConfigDict(extra="forbid")

    operation_id: str | None = Field(default=None, alias="operationId", min_length=1, max_length=200)
    method: str | None = Field(default=None, min_length=1, max_length=10)
    path: str | None = Field(default=None, min_length=1, max_length=2000, pattern=r"^[/*?\[]")
    action: Literal["status", "latency", "drop"]
    status: int | None = Field(default=None, ge=400, le=599)
    code: str | None = Field(default=None, min_length=1, max_length=200)
    message: str | None = Field(default=None, min_length=1, max_length=2000)
    retry_after: int | None = Field(default=None, alias="retryAfter", ge=0, le=86400)
    latency_ms: int | None = Field(default=None, alias="latencyMs", ge=0, le=600_000)
    probability: float = Field(default=1.0, ge=0.0, le=1.0)
    count: int | None = Field(default=None, ge=1)
    seed: int | None = None

    @field_validator("method")
    @classmethod
    def _known_method(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if value.upper() not in HTTP_METHODS:
            raise ValueError(f"one of {', '.join(sorted(HTTP_METHODS))}")
        return value.upper()
