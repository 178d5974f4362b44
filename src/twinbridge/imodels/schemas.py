"""Bodies of the minimal iModels API, in the shapes of the public iModels API (v2)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from twinbridge.db.models import IModel, IModelVersion
from twinbridge.platform.time import format_timestamp


class BaselineFileProperties(BaseModel):
    size: int = Field(gt=0, description="Size in bytes of the file that will be uploaded.")


class IModelCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    itwin_id: str = Field(alias="iTwinId", min_length=1)
    name: str = Field(min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=255)
    # Only "fromBaseline" is served for now: an empty iModel needs the iModel engine to be made.
    creation_mode: Literal["fromBaseline"] = Field(alias="creationMode")
    baseline_file: BaselineFileProperties = Field(alias="baselineFile")


def imodel_body(imodel: IModel, base_url: str, upload_links: bool = False) -> dict[str, object]:
    links: dict[str, object] = {
        "creator": None,
        "changesets": {"href": f"{base_url}/imodels/{imodel.id}/changesets"},
        "namedVersions": None,
    }
    if upload_links and imodel.baseline_upload_token:
        links["upload"] = {
            "href": f"{base_url}/imodels/{imodel.id}/baselinefile/upload?token={imodel.baseline_upload_token}"
        }
        links["complete"] = {"href": f"{base_url}/imodels/{imodel.id}/baselinefile/complete"}
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
        "extent": None,
        "containersEnabled": 0,
        "_links": links,
    }


def baseline_file_body(imodel: IModel, baseline: IModelVersion | None) -> dict[str, object]:
    return {
        "id": imodel.id,
        "displayName": f"{imodel.id}.bim",
        "fileSize": baseline.size if baseline else imodel.baseline_expected_size,
        "state": "initialized" if baseline else "waitingForFile",
        "_links": {"creator": None, "download": None},
    }


def changeset_body(version: IModelVersion, base_url: str) -> dict[str, object]:
    return {
        "id": version.changeset_id,
        "displayName": str(version.changeset_index),
        "description": None,
        "index": version.changeset_index,
        "parentId": None,
        "creatorId": version.created_by,
        "pushDateTime": format_timestamp(version.created_at),
        "state": "fileUploaded",
        "containingChanges": 0,
        "fileSize": version.size,
        "_links": {
            "self": {"href": f"{base_url}/imodels/{version.imodel_id}/changesets/{version.changeset_id}"}
        },
    }
