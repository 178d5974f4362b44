"""Bodies of the minimal iTwins API, in the shapes of the public iTwins API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from twinbridge.auth.permissions import Role
from twinbridge.db.models import ITwin, ITwinMember
from twinbridge.platform.time import format_timestamp


class ITwinCreate(BaseModel):
    model_config = ConfigDict(extra="ignore")

    display_name: str = Field(alias="displayName", min_length=1, max_length=255)
    number: str | None = Field(default=None, max_length=255)
    sub_class: str = Field(default="Project", alias="subClass", max_length=32)


class MemberCreate(BaseModel):
    subject: str = Field(min_length=1, max_length=255, description="A user name or a service client id.")
    role: Role


def itwin_body(itwin: ITwin) -> dict[str, object]:
    return {
        "id": itwin.id,
        "class": itwin.itwin_class,
        "subClass": itwin.sub_class,
        "type": None,
        "number": itwin.number,
        "displayName": itwin.display_name,
        "geographicLocation": None,
        "ianaTimeZone": None,
        "dataCenterLocation": "Local",
        "status": itwin.status,
        "parentId": None,
        "iTwinAccountId": None,
        "createdDateTime": format_timestamp(itwin.created_at),
        "createdBy": itwin.created_by,
    }


def member_body(member: ITwinMember) -> dict[str, object]:
    return {
        "subject": member.subject,
        "role": member.role,
        "createdDateTime": format_timestamp(member.created_at),
    }
