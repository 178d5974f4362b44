"""Bodies of the minimal Storage API, in the shapes of the public iTwin Storage API."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlencode

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.config import JsonDict

from twinbridge.db.models import StorageFile, StorageFolder
from twinbridge.platform.openapi import given_not_null
from twinbridge.platform.time import format_timestamp
from twinbridge.storage.signing import DownloadSignature


class FileCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    display_name: str = Field(alias="displayName", min_length=1, max_length=255)
    description: str | None = Field(default=None, max_length=255)


class FileContentUpdate(BaseModel):
    """Upstream's page asks for the displayName; twinbridge takes it optionally and renames the file."""

    model_config = ConfigDict(extra="ignore")

    display_name: str | None = Field(default=None, alias="displayName", min_length=1, max_length=255)


class FileUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    display_name: str | None = Field(
        default=None, alias="displayName", min_length=1, max_length=255, json_schema_extra=given_not_null
    )
    description: str | None = Field(default=None, max_length=255)

    @field_validator("display_name")
    @classmethod
    def _display_name_not_null(cls, value: str | None) -> str:
        # Runs only when the field is given: a file cannot lose its name.
        if value is None:
            raise ValueError("displayName cannot be null")
        return value


# Characters a folder name may not hold (those of Windows file names, and control characters): upstream
# answers InvalidCreateFolderRequest for "Folder name contains invalid characters" without listing them.
FOLDER_NAME_FORBIDDEN = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
# The same rule for the OpenAPI document: allowed characters only, and one that is neither a dot nor a space.
_FOLDER_CHARACTER = r'[^\\/:*?"<>|\u0000-\u001f]'
_FOLDER_NAME_SCHEMA: JsonDict = {
    "pattern": f"^{_FOLDER_CHARACTER}*{_FOLDER_CHARACTER[:-1]} .]{_FOLDER_CHARACTER}*$"
}


def _check_folder_name(value: str | None) -> str | None:
    if value is not None and FOLDER_NAME_FORBIDDEN.search(value):
        raise ValueError('a folder name cannot contain \\ / : * ? " < > | or control characters')
    if value is not None and value.strip(" .") == "":
        raise ValueError("a folder name cannot be only dots and spaces")
    return value


def _folder_name_given_not_null(schema: dict[str, Any]) -> None:
    given_not_null(schema)
    schema.update(_FOLDER_NAME_SCHEMA)


class FolderCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    display_name: str = Field(
        alias="displayName", min_length=1, max_length=255, json_schema_extra=_FOLDER_NAME_SCHEMA
    )
    description: str | None = Field(default=None, max_length=255)

    _name = field_validator("display_name")(_check_folder_name)


class FolderUpdate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    display_name: str | None = Field(
        default=None,
        alias="displayName",
        min_length=1,
        max_length=255,
        json_schema_extra=_folder_name_given_not_null,
    )
    description: str | None = Field(default=None, max_length=255)

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str | None:
        # Runs only when the field is given: a folder cannot lose its name.
        if value is None:
            raise ValueError("displayName cannot be null")
        return _check_folder_name(value)


def _member_link(base_url: str, itwin_id: str, subject: str | None) -> dict[str, str] | None:
    if subject is None:
        return None
    return {"href": f"{base_url}/itwins/{itwin_id}/members/{quote(subject, safe='')}"}


def joined_path(folder_path: str, name: str) -> str:
    """The path of `name` in the folder at `folder_path` ("" for the root)."""
    return f"{folder_path}/{name}" if folder_path else name


def file_body(file: StorageFile, folder_path: str, base_url: str) -> dict[str, object]:
    return {
        "id": file.id,
        "displayName": file.display_name,
        "description": file.description,
        "path": joined_path(folder_path, file.display_name),
        "size": file.size,
        "lastModifiedByDisplayName": file.modified_by,
        "createdDateTime": format_timestamp(file.created_at),
        "lastModifiedDateTime": format_timestamp(file.modified_at),
        "parentFolderId": file.folder_id,
        "_links": {
            "createdBy": _member_link(base_url, file.itwin_id, file.created_by),
            "lastModifiedBy": _member_link(base_url, file.itwin_id, file.modified_by),
            "parentFolder": {"href": f"{base_url}/storage/folders/{file.folder_id}"},
        },
    }


def folder_body(folder: StorageFolder, path: str, base_url: str) -> dict[str, object]:
    return {
        "id": folder.id,
        "displayName": folder.display_name,
        "description": folder.description,
        "path": path,
        "lastModifiedByDisplayName": folder.modified_by,
        "createdDateTime": format_timestamp(folder.created_at),
        "lastModifiedDateTime": format_timestamp(folder.modified_at),
        "parentFolderId": folder.parent_id,
        "_links": {
            "createdBy": _member_link(base_url, folder.itwin_id, folder.created_by),
            "lastModifiedBy": _member_link(base_url, folder.itwin_id, folder.modified_by),
            "parentFolder": (
                {"href": f"{base_url}/storage/folders/{folder.parent_id}"} if folder.parent_id else None
            ),
        },
    }


def item_body(item: StorageFile | StorageFolder, folder_path: str, base_url: str) -> dict[str, object]:
    """An entry of a mixed list: a file or a folder, told apart by `type`."""
    if isinstance(item, StorageFolder):
        return {"type": "folder", **folder_body(item, joined_path(folder_path, item.display_name), base_url)}
    return {"type": "file", **file_body(item, folder_path, base_url)}


def upload_links(file: StorageFile, upload_secret: str, base_url: str) -> dict[str, object]:
    """The answer that makes an upload URL: the only one that shows its secret (stored only hashed)."""
    return {
        "_links": {
            "completeUrl": {"href": f"{base_url}/storage/files/{file.id}/complete"},
            "uploadUrl": {"href": f"{base_url}/storage/files/{file.id}/upload?token={upload_secret}"},
        }
    }


def download_href(base_url: str, file_id: str) -> str:
    """Where the file can be downloaded (with Authorization); export runs report it with their output."""
    return f"{base_url}/storage/files/{file_id}/download"


def content_href(base_url: str, file_id: str, signed: DownloadSignature) -> str:
    query = urlencode({"expires": signed.expires, "signature": signed.signature})
    return f"{base_url}/storage/files/{file_id}/content?{query}"


def content_disposition(display_name: str) -> str:
    """An attachment header that survives any name: an ASCII fallback plus the RFC 5987 UTF-8 form."""
    fallback = "".join(
        character if 32 <= ord(character) < 127 and character not in '"\\' else "_"
        for character in display_name
    )
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(display_name, safe='')}"
