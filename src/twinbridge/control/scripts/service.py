"""The rules of scripted runs: what a rule may say, which rule a run follows, and holds.

A rule matches a connection, every connection of an iModel, or every run; the newest matching rule that has
runs left wins, and is counted when a worker first takes the run (the run keeps that script when retried).
With TWINBRIDGE_SCRIPTED_RUNS_ONLY a run no rule matches follows `DEFAULT_SCRIPT`. Services never commit.
"""

from __future__ import annotations

from typing import Any

from twinbridge.control.scripts.repository import ScriptRepository
from twinbridge.control.scripts.schemas import ScriptRuleBody
from twinbridge.db.database import Transaction
from twinbridge.db.models import Run, ScriptedRun, ScriptedRunRule
from twinbridge.platform.errors import InvalidRequest, NotFound, invalid_value
from twinbridge.platform.ids import new_guid
from twinbridge.runs.task_errors import USER_NOT_AUTHENTICATED, task_error

INVALID = "InvalidScriptRequest"
_SCRIPT_FIELDS = {
    "steps": "steps",
    "result": "result",
    "task_error": "taskError",
    "run_error": "runError",
    "output_file": "outputFile",
}
DEFAULT_STEPS: list[dict[str, Any]] = [
    {"state": "Executing", "durationMs": 100, "hold": False, "phase": None}
]
# What every run no rule matches follows with TWINBRIDGE_SCRIPTED_RUNS_ONLY (exports store a small IFC file).
DEFAULT_SCRIPT: dict[str, Any] = {
    "steps": DEFAULT_STEPS,
    "result": "Success",
    "taskError": None,
    "runError": None,
    "outputFile": None,
}


class ScriptNotFound(NotFound):
    default_code = "ScriptNotFound"
    default_message = "Requested scripted-run rule is not available."


class HoldNotFound(NotFound):
    default_code = "HoldNotFound"
    default_message = "The run is not held."


def _invalid(target: str, message: str) -> InvalidRequest:
    return InvalidRequest(code=INVALID, details=[invalid_value(target, message)])


def _task_error(body: ScriptRuleBody) -> dict[str, Any] | None:
    """The rule's task error in the contract's full shape, its missing fields filled with plain defaults."""
    given = body.task_error
    if given is None:
        return None
    error = task_error(
        code=given.error_code,
        message=given.message or "Failed to process.",
        details=given.details or "",
        description_key=given.description_key or given.error_code,
        description=given.description or given.message or "Failed to process.",
        can_user_fix=bool(given.can_user_fix),
        system=given.system or "twinbridge",
        phase=given.phase or "export_file",
        exit_code=1 if given.bridge_exit_code is None else given.bridge_exit_code,
    )
    if given.category is not None:
        error["category"] = given.category
    if given.kb_article_link is not None:
        error["kbArticleLink"] = given.kb_article_link
    return error


def _run_error(body: ScriptRuleBody) -> dict[str, Any] | None:
    given = body.run_error
    if given is None:
        return None
    if given.error_key == USER_NOT_AUTHENTICATED["errorKey"] and given.description is None:
        return dict(USER_NOT_AUTHENTICATED)
    return {"errorKey": given.error_key, "description": given.description or given.error_key}


class ScriptService:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction
        self.repository = ScriptRepository(transaction)

    async def create(self, body: ScriptRuleBody, *, scripted_runs_only: bool) -> ScriptedRunRule:
        if body.connection_id is not None and body.imodel_id is not None:
            raise _invalid("iModelId", "Give connectionId or iModelId (or neither: every run), not both.")
        if body.engine_fault is not None:
            sent = [name for field, name in _SCRIPT_FIELDS.items() if getattr(body, field) is not None]
            if sent:
                raise _invalid(
                    "engineFault", f"An engine fault makes a real run crash; it takes no {sent[0]}."
                )
            if scripted_runs_only:
                raise _invalid(
                    "engineFault",
                    "An engine fault needs real runs; this server runs with TWINBRIDGE_SCRIPTED_RUNS_ONLY.",
                )
            script: dict[str, Any] = {"holdRetry": bool(body.hold_retry)}
        elif body.hold_retry is not None:
            raise _invalid("holdRetry", "holdRetry goes with an engineFault; a script holds with its steps.")
        else:
            script = {
                "steps": DEFAULT_STEPS
                if body.steps is None
                else [step.model_dump(by_alias=True) for step in body.steps],
                "result": body.result or "Success",
                "taskError": _task_error(body),
                "runError": _run_error(body),
                "outputFile": await self._output_file(body),
            }
        rule = ScriptedRunRule(
            id=new_guid(),
            connection_id=body.connection_id,
            imodel_id=body.imodel_id,
            script=script,
            engine_fault=body.engine_fault,
            remaining=body.count,
        )
        return await self.repository.add_rule(rule)

    async def _output_file(self, body: ScriptRuleBody) -> dict[str, Any] | None:
        given = body.output_file
        if given is None:
            return None
        if (given.content is None) == (given.file_id is None):
            raise _invalid(
                "outputFile", "Give outputFile.content (base64) or outputFile.fileId, one of the two."
            )
        if given.file_id is not None:
            if given.file_name is not None:
                raise _invalid("outputFile.fileName", "A stored file (outputFile.fileId) keeps its own name.")
            from twinbridge.storage.repository import StorageRepository

            if await StorageRepository(self.transaction).get_file(given.file_id) is None:
                raise _invalid("outputFile.fileId", f"No file '{given.file_id}' is in storage.")
            return {"fileId": given.file_id}
        return {"content": given.content, "fileName": given.file_name}

    async def rules(self) -> list[ScriptedRunRule]:
        return await self.repository.rules()

    async def delete(self, rule_id: str) -> None:
        if not await self.repository.delete_rule(rule_id):
            raise ScriptNotFound()

    async def delete_all(self) -> None:
        await self.repository.delete_rules()

    async def release(self, run_id: str) -> None:
        if not await self.repository.release(run_id):
            raise HoldNotFound()

    async def held(self) -> list[ScriptedRun]:
        return await self.repository.held()

    async def script_for(self, run: Run, *, scripted_runs_only: bool) -> tuple[ScriptedRun, bool] | None:
        """What the run follows, and whether it was chosen now (False: on an earlier attempt); None when it
        is a real run."""
        chosen = await self.repository.scripted_run(run.id)
        if chosen is not None:
            return chosen, False
        while (rule := await self.repository.matching_rule(run.connection_id, run.imodel_id)) is not None:
            if await self.repository.use(rule):
                scripted = ScriptedRun(run.id, rule.id, rule.script, rule.engine_fault)
                return await self.repository.add_scripted_run(scripted), True
        if scripted_runs_only:
            return await self.repository.add_scripted_run(ScriptedRun(run.id, None, DEFAULT_SCRIPT)), True
        return None
