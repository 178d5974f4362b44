"""The body of a scripted-run rule and its view."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from twinbridge.db.models import ScriptedRun, ScriptedRunRule
from twinbridge.platform.time import format_timestamp

# A step may show any state of the contract's Execution State but Completed (the result's own).
StepState = Literal[
    "NotStarted", "Idle", "Queued", "WaitingToExecute", "WaitingToRetry", "Executing", "Finalizing"
]
ResultName = Literal["Success", "PartialSuccess", "Error", "TimedOut", "Canceled", "Skipped"]
MAX_STEP_MILLISECONDS = 600_000
MAX_STEPS = 50


class _Strict(BaseModel):
    """Unknown properties are refused, so that a misspelt one is a 422 rather than a rule that does less."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class StepBody(_Strict):
    state: StepState
    duration_ms: int = Field(default=0, alias="durationMs", ge=0, le=MAX_STEP_MILLISECONDS)
    # The run stays in this state until POST /_twinbridge/holds/{runId}/release (durationMs is then unused).
    hold: bool = False
    # Synchronization runs' `phase` while in this state.
    phase: Literal["Preprocessor", "MasterFile", "ReferenceFile"] | None = None


class TaskErrorBody(_Strict):
    """A TaskError in the contract's shape (api-contract.md §4.5); what is left out gets a plain default."""

    error_code: str = Field(alias="errorCode", min_length=1, max_length=200)
    message: str | None = Field(default=None, max_length=2000)
    details: str | None = Field(default=None, max_length=10_000)
    bridge_exit_code: int | None = Field(default=None, alias="bridgeExitCode")
    system: str | None = Field(default=None, max_length=200)
    phase: str | None = Field(default=None, max_length=200)
    category: str | None = Field(default=None, max_length=200)
    description_key: str | None = Field(default=None, alias="descriptionKey", max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    kb_article_link: str | None = Field(default=None, alias="kbArticleLink", max_length=2000)
    can_user_fix: bool | None = Field(default=None, alias="canUserFix")


class RunErrorBody(_Strict):
    """A run-level error in the contract's shape (api-contract.md §4: `{errorKey, description}`)."""

    error_key: str = Field(alias="errorKey", min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class OutputFileBody(_Strict):
    """An export's output: new content (base64), or a file already in storage. Exactly one of the two."""

    content: str | None = Field(default=None, max_length=2_000_000)
    file_name: str | None = Field(default=None, alias="fileName", min_length=1, max_length=250)
    file_id: str | None = Field(default=None, alias="fileId", min_length=1, max_length=255)

    @field_validator("content")
    @classmethod
    def _base64(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise ValueError("base64 content") from None
        return value


class ScriptRuleBody(_Strict):
    """What a rule matches (a connection, every connection of an iModel, or every run), for how many runs,
    and what those runs do: a script, or an engine fault."""

    connection_id: str | None = Field(default=None, alias="connectionId", min_length=1, max_length=255)
    imodel_id: str | None = Field(default=None, alias="iModelId", min_length=1, max_length=255)
    count: int | None = Field(default=None, ge=1)
    steps: list[StepBody] | None = Field(default=None, max_length=MAX_STEPS)
    result: ResultName | None = None
    task_error: TaskErrorBody | None = Field(default=None, alias="taskError")
    run_error: RunErrorBody | None = Field(default=None, alias="runError")
    output_file: OutputFileBody | None = Field(default=None, alias="outputFile")
    engine_fault: Literal["crash"] | None = Field(default=None, alias="engineFault")
    # With engineFault: each retry of the run waits in WaitingToRetry until POST …/holds/{runId}/release.
    hold_retry: bool | None = Field(default=None, alias="holdRetry")


def rule_view(rule: ScriptedRunRule) -> dict[str, Any]:
    script = rule.script or {}
    output = script.get("outputFile")
    if output and "content" in output:  # the content is not echoed back: its name and size say what it is
        output = {"fileName": output.get("fileName"), "size": len(base64.b64decode(output["content"]))}
    return {
        "id": rule.id,
        "connectionId": rule.connection_id,
        "iModelId": rule.imodel_id,
        "count": rule.remaining,
        "engineFault": rule.engine_fault,
        "holdRetry": script.get("holdRetry"),
        "steps": script.get("steps"),
        "result": script.get("result"),
        "taskError": script.get("taskError"),
        "runError": script.get("runError"),
        "outputFile": output,
        "createdDateTime": format_timestamp(rule.created_at),
    }


def hold_view(scripted: ScriptedRun) -> dict[str, Any]:
    return {"runId": scripted.run_id, "state": scripted.held_state, "scriptId": scripted.rule_id}
