"""Bodies of the Export API (api-contract.md §2), and the shapes of its responses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from twinbridge.db.models import Job, Run, Task
from twinbridge.platform.outbound import requestable_url
from twinbridge.platform.time import format_timestamp
from twinbridge.runs.links import ConnectionLike
from twinbridge.runs.links import connection_body as shared_connection_body
from twinbridge.runs.states import RunKind

AuthenticationType = Literal["User", "Service"]
IfcVersion = Literal["IFC4.3", "IFC2x3", "IFC2x3 CV 2.0", "IFC4 RV 1.2"]
DEFAULT_IFC_VERSION: IfcVersion = "IFC4.3"


class ExportConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    imodel_id: str = Field(alias="iModelId", min_length=1, max_length=36)
    display_name: str | None = Field(default=None, alias="displayName", max_length=255)
    authentication_type: AuthenticationType = Field(default="User", alias="authenticationType")


class InputOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    mapping_file_id: str | None = Field(default=None, alias="mappingFileId")
    changeset_id: str | None = Field(default=None, alias="changesetId")
    saved_view_id: str | None = Field(default=None, alias="savedViewId")
    # The contract spells this one with a lowercase "f".
    mapping_file_blob_url: str | None = Field(default=None, alias="mappingfileBlobUrl")
    # Added upstream in Nov 2025; an empty array is not accepted.
    model_ids: list[str] | None = Field(default=None, alias="modelIds", min_length=1)

    @field_validator("mapping_file_blob_url")
    @classmethod
    def _is_http_url(cls, value: str | None) -> str | None:
        return requestable_url(value)


class OutputOptions(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    location: Literal["USER_BLOB_STORAGE", "ITWIN_STORAGE"] | None = None
    output_sas_url: str | None = Field(default=None, alias="outputSasUrl")
    logs_sas_url: str | None = Field(default=None, alias="logsSasUrl")
    folder_id: str | None = Field(default=None, alias="folderId")

    @field_validator("output_sas_url", "logs_sas_url")
    @classmethod
    def _are_http_urls(cls, value: str | None) -> str | None:
        return requestable_url(value)


class ExportRunCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    export_type: Literal["IFC"] = Field(alias="exportType")
    ifc_version: IfcVersion = Field(default=DEFAULT_IFC_VERSION, alias="ifcVersion")
    input_options: InputOptions = Field(default_factory=InputOptions, alias="inputOptions")
    output_options: OutputOptions = Field(default_factory=OutputOptions, alias="outputOptions")


def connection_body(connection: ConnectionLike, base_url: str) -> dict[str, Any]:
    return shared_connection_body(connection, RunKind.EXPORT, base_url)


def _task_body(task: Task) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": task.id,
        "startDateTime": format_timestamp(task.started_at),
        "endDateTime": format_timestamp(task.ended_at),
        "retryAttempts": task.retry_attempts,
        "state": task.state,
        "result": task.result,
    }
    if task.output_file_id:
        body["exportOutputFileId"] = task.output_file_id
    if task.error:
        body["error"] = task.error
    return body


def _job_body(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "startDateTime": format_timestamp(job.started_at),
        "endDateTime": format_timestamp(job.ended_at),
        "state": job.state,
        "result": job.result,
        "tasks": [_task_body(task) for task in job.tasks],
    }


def run_body(run: Run) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": run.id,
        "connectionId": run.connection_id,
        "startDateTime": format_timestamp(run.started_at),
        "endDateTime": format_timestamp(run.ended_at),
        "state": run.state,
        "result": run.result,
        "jobs": [_job_body(job) for job in run.jobs],
    }
    if run.error:
        body["error"] = run.error
    return body
