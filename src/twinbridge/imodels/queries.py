"""The list filters of the iModels API: read from the query string by hand, checked, documented for OpenAPI.

List endpoints read their parameters themselves (see twinbridge.platform.pagination: declared query parameters
cost every request). A filter this server cannot honour (`$continuationToken`, an `$orderBy` property it does
not know, a state that does not exist) is refused with 422 naming it: an unfiltered list would look like an
answer to the question asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from twinbridge.imodels.repository import (
    IMODEL_SORT_COLUMNS,
    NAMED_VERSION_SORT_COLUMNS,
    ChangesetFilter,
    IModelFilter,
    NamedVersionFilter,
    SortKey,
)
from twinbridge.platform.errors import ErrorDetail, InvalidRequest, invalid_value
from twinbridge.platform.openapi import any_case, one_of_in_any_case

IMODEL_STATES = ("initialized", "notInitialized")
NAMED_VERSION_STATES = ("visible", "hidden")
CHANGESET_ORDER = ("index",)
# The largest changeset index a query may name: the largest integer both databases hold.
MAX_INDEX = 2**63 - 1


def _parameter(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _order_parameter(properties: tuple[str, ...]) -> dict[str, Any]:
    word = "|".join(any_case(name) for name in properties)
    key = f"\\s*({word})(\\s+({any_case('asc')}|{any_case('desc')}))?\\s*"
    return _parameter(
        "$orderBy",
        f"`<property>[ asc|desc]`, several separated by commas; properties: {', '.join(properties)}.",
        {"type": "string", "pattern": f"^(\\s*|{key}(,{key})*)$"},
    )


def _state_parameter(description: str, states: tuple[str, ...]) -> dict[str, Any]:
    return _parameter(
        description=description,
        name="state",
        schema={"type": "string", "pattern": one_of_in_any_case(states)},
    )


def _index_parameter(name: str, description: str) -> dict[str, Any]:
    return _parameter(name, description, {"type": "integer", "minimum": 0, "maximum": MAX_INDEX})


# Upstream pages with it; here no value is accepted (`not: {}`), so that no client takes a list for whole.
CONTINUATION_TOKEN_PARAMETER = _parameter(
    "$continuationToken",
    "Not supported: refused with 422. Page with $skip and $top, or follow _links.next.",
    {"not": {}},
)
IMODEL_LIST_PARAMETERS: tuple[dict[str, Any], ...] = (
    _parameter("name", "Only the iModel with exactly this name."),
    _parameter("$search", "Only iModels whose name or description contains this text (any case)."),
    _state_parameter("Only iModels in this state.", IMODEL_STATES),
    _order_parameter(tuple(IMODEL_SORT_COLUMNS)),
    CONTINUATION_TOKEN_PARAMETER,
)
CHANGESET_LIST_PARAMETERS: tuple[dict[str, Any], ...] = (
    _index_parameter("afterIndex", "Only changesets with a greater index."),
    _index_parameter("lastIndex", "Only changesets up to this index."),
    _order_parameter(CHANGESET_ORDER),
    CONTINUATION_TOKEN_PARAMETER,
)
NAMED_VERSION_LIST_PARAMETERS: tuple[dict[str, Any], ...] = (
    _parameter("name", "Only the named version with exactly this name."),
    _parameter("$search", "Only named versions whose name or description contains this text (any case)."),
    _state_parameter("Only named versions in this state.", NAMED_VERSION_STATES),
    _order_parameter(tuple(NAMED_VERSION_SORT_COLUMNS)),
    CONTINUATION_TOKEN_PARAMETER,
)


def _refuse_continuation_token(query: Mapping[str, str]) -> None:
    if "$continuationToken" in query:
        raise InvalidRequest(
            details=[
                ErrorDetail(
                    "InvalidValue",
                    "$continuationToken is not supported by this server: page with $skip and $top, "
                    "or follow _links.next.",
                    "$continuationToken",
                )
            ]
        )


def _state(query: Mapping[str, str], states: tuple[str, ...]) -> str | None:
    raw = query.get("state")
    if raw is None or raw == "":
        return None
    for state in states:
        if raw.lower() == state.lower():
            return state
    raise InvalidRequest(
        details=[
            invalid_value("state", f"Provided state value is not valid: use one of {', '.join(states)}.")
        ]
    )


def _text(query: Mapping[str, str], name: str) -> str | None:
    raw = query.get(name)
    return raw if raw else None


def _index(query: Mapping[str, str], name: str) -> int | None:
    raw = query.get(name)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= MAX_INDEX:
        raise InvalidRequest(
            details=[
                invalid_value(name, f"Provided {name} value is not valid: use a changeset index (0 or more).")
            ]
        )
    return value


def order_of(raw: str | None, properties: tuple[str, ...]) -> list[tuple[str, bool]]:
    """`$orderBy` as (property, descending) pairs: `name`, `name desc`, `a asc,b desc`; any case."""
    if raw is None or raw.strip() == "":
        return []
    known = {name.lower(): name for name in properties}
    order: list[tuple[str, bool]] = []
    for part in raw.split(","):
        words = part.split()
        direction = words[1].lower() if len(words) == 2 else "asc"
        if not words or len(words) > 2 or words[0].lower() not in known or direction not in ("asc", "desc"):
            raise InvalidRequest(
                details=[
                    invalid_value(
                        "$orderBy",
                        f"Provided $orderBy value is not valid: '{part.strip()}'. "
                        f"Order by {' or '.join(properties)}, optionally followed by asc or desc.",
                    )
                ]
            )
        order.append((known[words[0].lower()], direction == "desc"))
    return order


def imodel_filter(itwin_id: str, query: Mapping[str, str]) -> IModelFilter:
    _refuse_continuation_token(query)
    order = order_of(query.get("$orderBy"), tuple(IMODEL_SORT_COLUMNS))
    return IModelFilter(
        itwin_id=itwin_id,
        name=_text(query, "name"),
        search=_text(query, "$search"),
        state=_state(query, IMODEL_STATES),
        order=[SortKey(IMODEL_SORT_COLUMNS[name], descending) for name, descending in order],
    )


def changeset_filter(query: Mapping[str, str]) -> ChangesetFilter:
    _refuse_continuation_token(query)
    order = order_of(query.get("$orderBy"), CHANGESET_ORDER)
    return ChangesetFilter(
        after_index=_index(query, "afterIndex"),
        last_index=_index(query, "lastIndex"),
        descending=bool(order) and order[0][1],
    )


def named_version_filter(query: Mapping[str, str]) -> NamedVersionFilter:
    _refuse_continuation_token(query)
    order = order_of(query.get("$orderBy"), tuple(NAMED_VERSION_SORT_COLUMNS))
    return NamedVersionFilter(
        name=_text(query, "name"),
        search=_text(query, "$search"),
        state=_state(query, NAMED_VERSION_STATES),
        order=[SortKey(NAMED_VERSION_SORT_COLUMNS[name], descending) for name, descending in order],
    )
