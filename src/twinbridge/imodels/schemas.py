"""Request bodies and response bodies of the iModels API (v2), in the shapes Bentley's clients send and read.

A changeset here is the step from one stored version of an iModel to the next: version n (n >= 1) is
changeset n, the baseline (version 0) is no changeset. Each version is a whole snapshot file, so a
changeset's `_links.download` and every checkpoint's download give that snapshot (see docs/compatibility.md).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.config import JsonDict

from twinbridge.db.models import IModel, IModelVersion, NamedVersion
from twinbridge.platform.openapi import given_not_null
from twinbridge.platform.time import format_timestamp

STORAGE_TYPE = "azure"
# The largest file an upload URL can take: Azure's largest block blob (50,000 blocks of 4,000 MiB).
MAX_BASELINE_FILE_SIZE = 50_000 * 4000 * 1024 * 1024


# `_not_blank` for the OpenAPI document: a character that is not white space (and no NUL).
NOT_BLANK: JsonDict = {"pattern": "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"}


def _name_given_not_null(schema: dict[str, Any]) -> None:
    given_not_null(schema)
    schema.update(NOT_BLANK)


def _served_creation_modes(schema: JsonDict) -> None:
    """fromiModelVersion is read only to be refused (it is not served): the document does not offer it."""
    schema["anyOf"] = [{"type": "string", "enum": ["empty", "fromBaseline"]}, {"type": "null"}]


def _at_least_one_of(*names: str) -> dict[str, Any]:
    """A PATCH body's schema rule: at least one of these properties (the service refuses an empty one)."""
    return {"anyOf": [{"required": [name]} for name in names]}


def _not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("it must not be empty or only whitespace")
    return value


class BaselineFileProperties(BaseModel):
    size: int = Field(
        gt=0, le=MAX_BASELINE_FILE_SIZE, description="Size in bytes of the file that will be uploaded."
    )


class GeoPoint(BaseModel):
    latitude: float = Field(ge=-90, le=90)
    longitude: float = Field(ge=-180, le=180)


class Extent(BaseModel):
    """A latitude/longitude box; a west longitude greater than the east one crosses the antimeridian."""

    south_west: GeoPoint = Field(alias="southWest")
    north_east: GeoPoint = Field(alias="northEast")

    @model_validator(mode="after")
    def _south_below_north(self) -> Extent:
        if self.south_west.latitude > self.north_east.latitude:
            raise ValueError("southWest.latitude must not be greater than northEast.latitude")
        return self

    def as_dict(self) -> dict[str, Any]:
        return self.model_dump(by_alias=True)


class GeographicCoordinateSystem(BaseModel):
    horizontal_crs_id: str = Field(alias="horizontalCRSId", min_length=1, max_length=255)


class IModelCreate(BaseModel):
    """Every creation mode's body; `creation_mode()` in the service tells which one a body asks for."""

    model_config = ConfigDict(extra="ignore")

    itwin_id: str = Field(alias="iTwinId", min_length=1)
    name: str = Field(min_length=1, max_length=255, json_schema_extra=NOT_BLANK)
    description: str | None = Field(default=None, max_length=255)
    creation_mode: Literal["empty", "fromBaseline", "fromiModelVersion"] | None = Field(
        default=None, alias="creationMode", json_schema_extra=_served_creation_modes
    )
    baseline_file: BaselineFileProperties | None = Field(default=None, alias="baselineFile")
    extent: Extent | None = None
    geographic_coordinate_system: GeographicCoordinateSystem | None = Field(
        default=None, alias="geographicCoordinateSystem"
    )
    containers_enabled: int | None = Field(default=None, alias="containersEnabled")
    # Read only to be refused with a clear message: creating from another iModel's version is not served.
    template: dict[str, Any] | None = Field(default=None, json_schema_extra={"anyOf": [{"type": "null"}]})

    name_not_blank = field_validator("name")(_not_blank)


class IModelUpdate(BaseModel):
    """PATCH: only the properties given change; `null` clears description and extent."""

    model_config = ConfigDict(
        extra="ignore", json_schema_extra=_at_least_one_of("name", "description", "extent")
    )

    name: str | None = Field(
        default=None, min_length=1, max_length=255, json_schema_extra=_name_given_not_null
    )
    description: str | None = Field(default=None, max_length=255)
    extent: Extent | None = None

    name_not_blank = field_validator("name")(_not_blank)


class NamedVersionCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str = Field(min_length=1, max_length=255, json_schema_extra=NOT_BLANK)
    description: str | None = Field(default=None, max_length=255)
    changeset_id: str | None = Field(default=None, alias="changesetId", min_length=1)

    name_not_blank = field_validator("name")(_not_blank)


class NamedVersionUpdate(BaseModel):
    model_config = ConfigDict(
        extra="ignore", json_schema_extra=_at_least_one_of("name", "description", "state")
    )

    name: str | None = Field(
        default=None, min_length=1, max_length=255, json_schema_extra=_name_given_not_null
    )
    description: str | None = Field(default=None, max_length=255)
    state: Literal["visible", "hidden"] | None = Field(default=None, json_schema_extra=given_not_null)

    name_not_blank = field_validator("name")(_not_blank)


# ---- response bodies


def imodel_href(base_url: str, imodel_id: str) -> str:
    return f"{base_url}/imodels/{imodel_id}"


def storage_link(href: str) -> dict[str, str]:
    """An upload or download link: Bentley's storage clients pick their client by `storageType`."""
    return {"href": href, "storageType": STORAGE_TYPE}


def imodel_body(imodel: IModel, base_url: str, upload_secret: str | None = None) -> dict[str, object]:
    """`upload_secret` (the create response of the fromBaseline flow, and only it, as upstream) adds the
    baseline's `upload` and `complete` links: the secret is kept only hashed and goes to the creator alone."""
    href = imodel_href(base_url, imodel.id)
    links: dict[str, object] = {
        "creator": None,
        "changesets": {"href": f"{href}/changesets"},
        "namedVersions": {"href": f"{href}/namedversions"},
    }
    if upload_secret is not None:
        links["upload"] = storage_link(f"{href}/baselinefile/upload?token={upload_secret}")
        links["complete"] = {"href": f"{href}/baselinefile/complete"}
    return {
        "id": imodel.id,
        "displayName": imodel.name,
        "name": imodel.name,
        "description": imodel.description,
        "state": imodel.state,
        "createdDateTime": format_timestamp(imodel.created_at),
        "lastChangesetPushDateTime": format_timestamp(imodel.last_changeset_pushed_at)
        if imodel.last_changeset_pushed_at
        else None,
        "iTwinId": imodel.itwin_id,
        "isSecured": False,
        "dataCenterLocation": "Local",
        "extent": imodel.extent,
        "geographicCoordinateSystem": {"horizontalCRSId": imodel.horizontal_crs_id}
        if imodel.horizontal_crs_id
        else None,
        "containersEnabled": 0,
        "_links": links,
    }


def minimal_imodel_body(imodel: IModel) -> dict[str, object]:
    return {"id": imodel.id, "displayName": imodel.name}


def baseline_file_body(
    imodel: IModel, baseline: IModelVersion | None, download: dict[str, str] | None
) -> dict[str, object]:
    return {
        "id": imodel.id,
        "displayName": f"{imodel.id}.bim",
        "fileSize": baseline.size if baseline else imodel.baseline_expected_size,
        "state": "initialized" if baseline else "waitingForFile",
        "_links": {"creator": None, "download": download},
    }


def create_operation_body(imodel: IModel) -> dict[str, object]:
    """How creating the iModel went: empty iModels are made at once, baselines wait for their file."""
    return {
        "state": "successful" if imodel.state == "initialized" else "waitingForFile",
        "clonedFrom": None,
        "forkedFrom": None,
    }


def changeset_href(base_url: str, imodel_id: str, changeset: str | int) -> str:
    return f"{imodel_href(base_url, imodel_id)}/changesets/{changeset}"


def changeset_body(
    version: IModelVersion, base_url: str, download: dict[str, str] | None, representation: bool = True
) -> dict[str, object]:
    """A changeset: MinimalChangeset fields, and for `representation` the full Changeset's."""
    links: dict[str, object] = {
        "self": {"href": changeset_href(base_url, version.imodel_id, str(version.changeset_id))},
        "creator": None,
    }
    body: dict[str, object] = {
        "id": version.changeset_id,
        "displayName": str(version.changeset_index),
        "description": version.description or "",
        "index": version.changeset_index,
        "parentId": version.parent_changeset_id or "",
        "creatorId": version.created_by or "",
        "pushDateTime": format_timestamp(version.created_at),
        "state": "fileUploaded",
        "containingChanges": 0,
        "fileSize": version.size,
        "briefcaseId": 0,
        "groupId": None,
        "_links": links,
    }
    if representation:
        body["application"] = None
        body["synchronizationInfo"] = version.synchronization_info
        links["namedVersion"] = (
            {"href": named_version_href(base_url, version.imodel_id, version.named_version_id)}
            if version.named_version_id
            else None
        )
        links["currentOrPrecedingCheckpoint"] = {
            "href": f"{changeset_href(base_url, version.imodel_id, version.changeset_index)}/checkpoint"
        }
        links["download"] = download
    return body


def named_version_href(base_url: str, imodel_id: str, named_version_id: str) -> str:
    return f"{imodel_href(base_url, imodel_id)}/namedversions/{named_version_id}"


def named_version_body(
    named_version: NamedVersion, base_url: str, representation: bool = True
) -> dict[str, object]:
    body: dict[str, object] = {
        "id": named_version.id,
        "displayName": named_version.name,
        "changesetId": named_version.changeset_id,
        "changesetIndex": named_version.changeset_index,
    }
    if representation:
        changeset = (
            {"href": changeset_href(base_url, named_version.imodel_id, named_version.changeset_id)}
            if named_version.changeset_id
            else None
        )
        body.update(
            {
                "name": named_version.name,
                "description": named_version.description,
                "createdDateTime": format_timestamp(named_version.created_at),
                "state": named_version.state,
                "application": None,
                "_links": {"creator": None, "changeset": changeset},
            }
        )
    return body


def checkpoint_body(version: IModelVersion, download: dict[str, str]) -> dict[str, object]:
    """The version's snapshot is its checkpoint (a "V1" checkpoint: a whole file to download)."""
    return {
        "changesetId": version.changeset_id or "",
        "changesetIndex": version.changeset_index,
        "size": version.size,
        "state": "successful",
        "dbName": f"{version.imodel_id}-{version.changeset_index}.bim",
        "directoryAccessInfo": None,
        "containerAccessInfo": None,
        "_links": {"download": download},
    }
