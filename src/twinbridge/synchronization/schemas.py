"""Bodies of the Synchronization API (api-contract.md §3) and the shapes of its responses."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from twinbridge.db.models import Job, Run, SyncConnection, SyncSourceFile, Task
from twinbridge.platform.time import format_timestamp
from twinbridge.runs.links import connection_body as shared_connection_body

AuthenticationType = Literal["User", "Service"]
# The current list of the docs, plus PROSTRUCTURES and AVEVAPID seen in clients (contract §4.6).
ConnectorType = Literal[
    "AUTOPLANT", "AVEVAPID", "CIVIL", "CIVIL3D", "DWG", "GEOSPATIAL", "IFC", "MSTN", "NWD", "OBD",
    "OPENTOWER", "PROSTRUCTURES", "SPPID", "SPXREVIEW", "REVIT",
]  # fmt: skip


class ManifestFileMapping(BaseModel):
    model_config = ConfigDict(extra="ignore")

    source_file_id: str = Field(alias="sourceFileId", min_length=1, max_length=255)


class StorageFileMapping(BaseModel):
    model_config = ConfigDict(extra="ignore")

    storage_file_id: str = Field(alias="storageFileId", min_length=1, max_length=255)
    connector_type: ConnectorType = Field(alias="connectorType")


class ConnectionCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    imodel_id: str = Field(alias="iModelId", min_length=1, max_length=36)
    display_name: str | None = Field(default=None, alias="displayName", max_length=255)
    authentication_type: AuthenticationType = Field(default="User", alias="authenticationType")


class ManifestConnectionCreate(ConnectionCreate):
    source_files: list[ManifestFileMapping] = Field(alias="sourceFiles")


class StorageConnectionCreate(ConnectionCreate):
    source_files: list[StorageFileMapping] = Field(alias="sourceFiles")


class ConnectionUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    display_name: str | None = Field(default=None, alias="displayName", max_length=255)
    authentication_type: AuthenticationType | None = Field(default=None, alias="authenticationType")


class ManifestRunFile(BaseModel):
    """A file of a manifest run: its id must be one of the connection's sourceFileIds."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    name: str | None = None
    # Required unless `action` is "unmap".
    url: str | None = Field(default=None, min_length=1)
    connector_type: ConnectorType | None = Field(default=None, alias="connectorType")
    # Deprecated upstream in favour of connectorType; still accepted.
    connector: str | None = None
    action: str | None = None
    parent_id: str | None = Field(default=None, alias="parentId")
    document_attribute: dict[str, Any] | None = Field(default=None, alias="documentAttribute")
    children: list[ManifestRunFile] = Field(default_factory=list)


class ManifestRunCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    document_attribute_schema_url: str | None = Field(default=None, alias="documentAttributeSchemaUrl")
    # Absent: the connection's source files, each with what the connection's latest run gave it.
    source_files: list[ManifestRunFile] | None = Field(default=None, alias="sourceFiles", min_length=1)


def connection_path(kind: str) -> str:
    return f"/synchronization/imodels/{kind}connections"


def connection_body(connection: SyncConnection, base_url: str) -> dict[str, Any]:
    return shared_connection_body(connection, connection.kind, base_url)


def connection_summary(connection: SyncConnection) -> dict[str, Any]:
    return {"id": connection.id, "displayName": connection.display_name}


def source_file_body(source_file: SyncSourceFile, base_url: str, minimal: bool = False) -> dict[str, Any]:
    if source_file.kind == "manifest":
        return {"id": source_file.id, "sourceFileId": source_file.file_key}
    body: dict[str, Any] = {
        "id": source_file.id,
        "storageFileId": source_file.file_key,
        "lastKnownFileName": source_file.last_known_file_name,
        "_links": {"file": {"href": f"{base_url}/storage/files/{source_file.file_key}"}},
    }
    if not minimal:
        body["connectorType"] = source_file.connector_type
    return body


def _task_body(task: Task, kind: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": task.id,
        "startDateTime": format_timestamp(task.started_at),
        "endDateTime": format_timestamp(task.ended_at),
        "retryAttempts": task.retry_attempts,
        "storageFileId" if kind == "storage" else "sourceFileId": task.source_file_id,
        "state": task.state,
        "result": task.result,
    }
    if task.error:
        body["error"] = task.error
    if task.details:
        body["details"] = task.details
    return body


def _job_body(job: Job, kind: str) -> dict[str, Any]:
    return {
        "id": job.id,
        "startDateTime": format_timestamp(job.started_at),
        "endDateTime": format_timestamp(job.ended_at),
        "state": job.state,
        "result": job.result,
        "connectorType": job.connector_type,
        "tasks": [_task_body(task, kind) for task in job.tasks],
    }


def run_body(run: Run) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": run.id,
        "connectionId": run.connection_id,
        "startDateTime": format_timestamp(run.started_at),
        "endDateTime": format_timestamp(run.ended_at),
        "phase": run.phase,
        "state": run.state,
        "result": run.result,
        "jobs": [_job_body(job, run.kind) for job in run.jobs],
    }
    if run.error:
        body["error"] = run.error
    return body


def run_summary(run: Run) -> dict[str, Any]:
    return {"id": run.id, "state": run.state, "result": run.result}
