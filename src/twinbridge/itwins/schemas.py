"""Bodies and list queries of the iTwins API, in the shapes of the public iTwins API (v1)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

from twinbridge.auth.identity import MAX_NAME_LENGTH
from twinbridge.auth.permissions import Role
from twinbridge.db.models import ITwin, ITwinMember
from twinbridge.platform.errors import ErrorDetail, InvalidRequest, invalid_value
from twinbridge.platform.openapi import any_case, given_not_null, one_of_in_any_case
from twinbridge.platform.time import format_timestamp

ITwinClass = Literal["Account", "Thing", "Endeavor"]
ITwinSubClass = Literal["Account", "Asset", "Project", "Portfolio", "Program", "WorkPackage"]
ITwinStatus = Literal["Active", "Inactive", "Trial"]
# The regions upstream offers (itwin-cli's `--data-center-location`); here the value is only a label.
DataCenterLocation = Literal[
    "East US",
    "North Europe",
    "West Europe",
    "Southeast Asia",
    "Australia East",
    "UK South",
    "Canada Central",
    "Central India",
    "Japan East",
]
SUB_CLASSES: tuple[str, ...] = get_args(ITwinSubClass)
STATUSES: tuple[str, ...] = get_args(ITwinStatus)
# Each subClass belongs to one class (upstream: Thing:Asset, Thing:Portfolio, Endeavor:Project, ...).
CLASS_OF_SUB_CLASS = {
    "Account": "Account",
    "Asset": "Thing",
    "Portfolio": "Thing",
    "Project": "Endeavor",
    "Program": "Endeavor",
    "WorkPackage": "Endeavor",
}
DEFAULT_SUB_CLASS_OF_CLASS = {"Account": "Account", "Thing": "Asset", "Endeavor": "Project"}
QUERY_SCOPES = {"memberofitwin": "memberOfItwin", "all": "all", "organizationadmin": "OrganizationAdmin"}
DEFAULT_MAX_RETURN = 1000
MAX_MAX_RETURN = 10_000
# Upstream's OData options that this server does not evaluate: asking for them is a 422, never a full list.
UNSERVED_QUERY_OPTIONS = ("$filter", "$select", "$orderby")


@cache
def _time_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _time_zone_schema(schema: dict[str, Any]) -> None:
    """The time zone ids this machine knows, as the values `ianaTimeZone` takes."""
    if _time_zones():
        schema["enum"] = [None, *sorted(_time_zones())]


def _check_time_zone(value: str | None) -> str | None:
    """An IANA time zone id; checked when this machine has the time zone database (tzdata)."""
    if value is not None and _time_zones() and value not in _time_zones():
        raise ValueError(f"{value} is not an IANA time zone id such as America/New_York")
    return value


class ITwinCreate(BaseModel):
    """The body of `POST /itwins`. Upstream requires `class` and `subClass`; twinbridge infers the one left
    out (Endeavor/Project when both are), so that `{"displayName": ...}` alone still creates an iTwin."""

    model_config = ConfigDict(extra="ignore")

    display_name: str = Field(alias="displayName", min_length=1, max_length=255)
    itwin_class: ITwinClass | None = Field(default=None, alias="class")
    sub_class: ITwinSubClass | None = Field(default=None, alias="subClass")
    itwin_type: str | None = Field(default=None, alias="type", max_length=255)
    number: str | None = Field(default=None, min_length=1, max_length=255)
    data_center_location: DataCenterLocation | None = Field(default=None, alias="dataCenterLocation")
    status: ITwinStatus | None = None
    parent_id: str | None = Field(default=None, alias="parentId", min_length=1, max_length=36)
    itwin_account_id: str | None = Field(default=None, alias="iTwinAccountId", min_length=1, max_length=255)
    iana_time_zone: str | None = Field(
        default=None, alias="ianaTimeZone", max_length=64, json_schema_extra=_time_zone_schema
    )
    geographic_location: str | None = Field(default=None, alias="geographicLocation", max_length=255)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    _time_zone = field_validator("iana_time_zone")(_check_time_zone)


# Fields that a PATCH may not set to null: upstream's iTwin always has them.
_NOT_NULLABLE = ("display_name", "itwin_class", "sub_class", "data_center_location", "status")


class ITwinUpdate(BaseModel):
    """The body of `PATCH /itwins/{id}`: only the properties given change; `null` clears an optional one
    (a null `number` becomes the id again, as on create)."""

    model_config = ConfigDict(extra="ignore")

    display_name: str | None = Field(
        default=None, alias="displayName", min_length=1, max_length=255, json_schema_extra=given_not_null
    )
    itwin_class: ITwinClass | None = Field(default=None, alias="class", json_schema_extra=given_not_null)
    sub_class: ITwinSubClass | None = Field(default=None, alias="subClass", json_schema_extra=given_not_null)
    itwin_type: str | None = Field(default=None, alias="type", max_length=255)
    number: str | None = Field(default=None, min_length=1, max_length=255)
    data_center_location: DataCenterLocation | None = Field(
        default=None, alias="dataCenterLocation", json_schema_extra=given_not_null
    )
    status: ITwinStatus | None = Field(default=None, json_schema_extra=given_not_null)
    parent_id: str | None = Field(default=None, alias="parentId", min_length=1, max_length=36)
    itwin_account_id: str | None = Field(default=None, alias="iTwinAccountId", min_length=1, max_length=255)
    iana_time_zone: str | None = Field(
        default=None, alias="ianaTimeZone", max_length=64, json_schema_extra=_time_zone_schema
    )
    geographic_location: str | None = Field(default=None, alias="geographicLocation", max_length=255)
    latitude: float | None = Field(default=None, ge=-90, le=90)
    longitude: float | None = Field(default=None, ge=-180, le=180)

    _time_zone = field_validator("iana_time_zone")(_check_time_zone)

    @field_validator(*_NOT_NULLABLE)
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only for fields present in the body.
        if value is None:
            raise ValueError("the property cannot be null")
        return value

    def changes(self) -> dict[str, Any]:
        """The given properties, by the ITwin field they set."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class MemberCreate(BaseModel):
    subject: str = Field(
        min_length=1,
        max_length=MAX_NAME_LENGTH,
        description="A user name or service client id of the built-in issuer, or `<issuer URL>|<sub>` for a "
        "caller of an external issuer.",
    )
    role: Role


def itwin_body(itwin: ITwin) -> dict[str, object]:
    """The full representation (upstream's `return=representation`)."""
    return {
        "id": itwin.id,
        "class": itwin.itwin_class,
        "subClass": itwin.sub_class,
        "type": itwin.itwin_type,
        "number": itwin.number,
        "displayName": itwin.display_name,
        "geographicLocation": itwin.geographic_location,
        "latitude": itwin.latitude,
        "longitude": itwin.longitude,
        "ianaTimeZone": itwin.iana_time_zone,
        "dataCenterLocation": itwin.data_center_location,
        "status": itwin.status,
        "parentId": itwin.parent_id,
        "iTwinAccountId": itwin.itwin_account_id,
        "imageName": None,
        "image": None,
        "createdDateTime": format_timestamp(itwin.created_at),
        "createdBy": itwin.created_by,
        "lastModifiedDateTime": format_timestamp(itwin.modified_at or itwin.created_at),
        "lastModifiedBy": itwin.modified_by,
    }


def itwin_minimal_body(itwin: ITwin) -> dict[str, object]:
    """Upstream's minimal representation: "only id, class, subClass, type, number and displayName"."""
    return {
        "id": itwin.id,
        "class": itwin.itwin_class,
        "subClass": itwin.sub_class,
        "type": itwin.itwin_type,
        "number": itwin.number,
        "displayName": itwin.display_name,
    }


def member_body(member: ITwinMember) -> dict[str, object]:
    return {
        "subject": member.subject,
        "role": member.role,
        "createdDateTime": format_timestamp(member.created_at),
    }


@dataclass(frozen=True, slots=True)
class ITwinFilter:
    """What a list of iTwins keeps. `statuses` None keeps every status (includeInactive=true)."""

    sub_classes: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = ("Active", "Trial")
    itwin_type: str | None = None
    display_name: str | None = None
    number: str | None = None
    search: str | None = None
    parent_id: str | None = None
    itwin_account_id: str | None = None
    max_return: int = DEFAULT_MAX_RETURN


def _given(query: Mapping[str, str], name: str) -> str | None:
    """A parameter's value; an empty one counts as not given (the clients send only values they have)."""
    value = query.get(name)
    return value if value else None


def _one_of(value: str, allowed: tuple[str, ...]) -> str | None:
    """`value` in the spelling of `allowed`, compared without regard to case."""
    return next((item for item in allowed if item.lower() == value.strip().lower()), None)


def itwin_filter_of(query: Mapping[str, str], headers: Mapping[str, str]) -> ITwinFilter:
    """The filters of `GET /itwins`, `/itwins/favorites` and `/itwins/recents` from the request's query and
    headers, checked as upstream checks them: every problem is a detail of one 422. Favorites and recents
    take them all (itwins-client 1.x sends them a subset, newer clients the whole set)."""
    details: list[ErrorDetail] = []
    for name in query:
        if name.lower() in UNSERVED_QUERY_OPTIONS:
            details.append(invalid_value(name, f"{name} is not supported by this server."))
    sub_classes: tuple[str, ...] | None = None
    raw_sub_class = _given(query, "subClass")
    if raw_sub_class is not None:
        parsed = [_one_of(part, SUB_CLASSES) for part in raw_sub_class.split(",")]
        if any(part is None for part in parsed):
            details.append(invalid_value("subClass", f"subClass must be one of {', '.join(SUB_CLASSES)}."))
        else:
            sub_classes = tuple(dict.fromkeys(part for part in parsed if part is not None))
    statuses: tuple[str, ...] | None = ("Active", "Trial")
    raw_status = _given(query, "status")
    raw_include_inactive = _given(query, "includeInactive")
    if raw_status is not None:
        status = _one_of(raw_status, STATUSES)
        if status is None:
            details.append(invalid_value("status", f"status must be one of {', '.join(STATUSES)}."))
        else:
            statuses = (status,)
    if raw_include_inactive is not None:
        if raw_include_inactive.lower() not in ("true", "false"):
            details.append(invalid_value("includeInactive", "includeInactive must be true or false."))
        elif raw_status is not None:
            details.append(
                invalid_value("includeInactive", "includeInactive cannot be used together with status.")
            )
        elif raw_include_inactive.lower() == "true":
            statuses = None
    scope = headers.get("x-itwin-query-scope")
    if scope and scope.strip().lower() not in QUERY_SCOPES:
        details.append(
            invalid_value("x-itwin-query-scope", "x-itwin-query-scope must be memberOfItwin or all.")
        )
    search = _given(query, "$search")
    display_name = _given(query, "displayName")
    number = _given(query, "number")
    if search is not None and (display_name is not None or number is not None):
        details.append(
            invalid_value("$search", "$search cannot be used together with displayName or number.")
        )
    max_return = DEFAULT_MAX_RETURN
    raw_max = headers.get("x-max-return")
    if raw_max:
        try:
            max_return = int(raw_max)
        except ValueError:
            max_return = 0
        if not 1 <= max_return <= MAX_MAX_RETURN:
            details.append(
                invalid_value("X-Max-Return", f"X-Max-Return must be between 1 and {MAX_MAX_RETURN}.")
            )
    if details:
        raise InvalidRequest(details=details)
    return ITwinFilter(
        sub_classes=sub_classes,
        statuses=statuses,
        itwin_type=_given(query, "type"),
        display_name=display_name,
        number=number,
        search=search,
        parent_id=_given(query, "parentId"),
        itwin_account_id=_given(query, "iTwinAccountId"),
        max_return=max_return,
    )


def _parameter(
    name: str, description: str, location: str = "query", schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "name": name,
        "in": location,
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _words_in_any_case(
    words: tuple[str, ...] | list[str], *, listed: bool = False, padded: bool = True
) -> dict[str, Any]:
    """The schema of a parameter taking one of `words` in any case (several, comma-separated, if `listed`),
    with white space around (`padded`) where the server strips it; an empty value is no value."""
    if not listed:
        return {"type": "string", "pattern": one_of_in_any_case(words, padded=padded)}
    word = "|".join(any_case(item) for item in words)
    return {"type": "string", "pattern": f"^(\\s*({word})\\s*(,\\s*({word})\\s*)*)?$"}


def _exact(words: tuple[str, ...]) -> dict[str, Any]:
    """One of `words` as spelled, or an empty value (no value)."""
    return {"type": "string", "enum": ["", *words]}


# The parameters `itwin_filter_of` reads, for the OpenAPI document (and the app's query-name spelling).
FILTER_PARAMETERS: tuple[dict[str, Any], ...] = (
    _parameter(
        "subClass",
        f"One or more (comma-separated) of {', '.join(SUB_CLASSES)}.",
        schema=_words_in_any_case(SUB_CLASSES, listed=True),
    ),
    _parameter(
        "status",
        "Active, Inactive or Trial. Without it, Inactive iTwins are left out.",
        schema=_words_in_any_case(STATUSES),
    ),
    _parameter(
        "includeInactive",
        "true: every status. Cannot be used with status.",
        schema=_words_in_any_case(("true", "false"), padded=False),
    ),
    _parameter("type", "Exact type."),
    _parameter(
        "x-itwin-query-scope",
        "memberOfItwin (default) or all; both list the iTwins the caller is a member of.",
        "header",
        _words_in_any_case(list(QUERY_SCOPES.values())),
    ),
    _parameter("displayName", "Exact displayName. Cannot be used with $search."),
    _parameter("number", "Exact number. Cannot be used with $search."),
    _parameter("$search", "Text found in displayName or number, in any case."),
    _parameter("parentId", "Children of this iTwin."),
    _parameter("iTwinAccountId", "iTwins of this account."),
    _parameter(
        "X-Max-Return",
        f"At most this many iTwins over all pages (1-{MAX_MAX_RETURN}, default 1000).",
        "header",
        # An empty header is no header, as for the other filters.
        {
            "anyOf": [
                {"type": "integer", "minimum": 1, "maximum": MAX_MAX_RETURN},
                {"type": "string", "maxLength": 0},
            ]
        },
    ),
)
REPOSITORY_CLASSES = (
    "iModels",
    "Storage",
    "Forms",
    "Issues",
    "RealityData",
    "GeographicInformationSystem",
    "Construction",
    "Performance",
    "Subsurface",
)
REPOSITORY_SUB_CLASSES = ("WebMapService", "WebMapTileService", "ArcGIS", "UrlTemplate", "EvoWorkspace")
REPOSITORY_PARAMETERS: tuple[dict[str, Any], ...] = (
    _parameter("class", f"One of {', '.join(REPOSITORY_CLASSES)}.", schema=_exact(REPOSITORY_CLASSES)),
    _parameter(
        "subClass",
        f"One of {', '.join(REPOSITORY_SUB_CLASSES)}; needs class.",
        schema=_exact(REPOSITORY_SUB_CLASSES),
    ),
)


def repositories_of(itwin_id: str, base_url: str, query: Mapping[str, str]) -> list[dict[str, object]]:
    """The repositories this server generates for every iTwin (its iModels and its storage), filtered by
    `class` and `subClass` as upstream filters them."""
    details: list[ErrorDetail] = []
    wanted_class = _given(query, "class")
    wanted_sub_class = _given(query, "subClass")
    if wanted_class is not None and wanted_class not in REPOSITORY_CLASSES:
        details.append(invalid_value("class"))
    if wanted_sub_class is not None and wanted_sub_class not in REPOSITORY_SUB_CLASSES:
        details.append(invalid_value("subClass"))
    if wanted_sub_class is not None and wanted_class is None:
        details.append(invalid_value("subClass", "subClass can only be used together with class."))
    if details:
        raise InvalidRequest(details=details)
    generated: list[dict[str, object]] = [
        {
            "id": "iModels",
            "class": "iModels",
            "subClass": None,
            "uri": f"{base_url}/imodels?iTwinId={itwin_id}",
        },
        {
            "id": "Storage",
            "class": "Storage",
            "subClass": None,
            "uri": f"{base_url}/storage?iTwinId={itwin_id}",
        },
    ]
    return [
        repository
        for repository in generated
        if (wanted_class is None or repository["class"] == wanted_class)
        and (wanted_sub_class is None or repository["subClass"] == wanted_sub_class)
    ]
