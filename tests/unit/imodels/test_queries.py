"""Reading the iModels API's list filters and creation modes: what is honoured, and what is refused."""

from __future__ import annotations

from typing import Any

import pytest

from twinbridge.imodels.queries import changeset_filter, imodel_filter, named_version_filter, order_of
from twinbridge.imodels.repository import SortKey, contains_pattern
from twinbridge.imodels.schemas import IModelCreate
from twinbridge.imodels.service import changeset_id_of, changeset_slot, creation_mode
from twinbridge.platform.errors import InvalidRequest


def _refused_target(error: pytest.ExceptionInfo[InvalidRequest]) -> list[str | None]:
    return [detail.target for detail in error.value.details]


@pytest.mark.parametrize(
    ("raw", "order"),
    [
        (None, []),
        ("", []),
        ("name", [("name", False)]),
        ("Name DESC", [("name", True)]),
        ("name asc, createdDateTime desc", [("name", False), ("createdDateTime", True)]),
    ],
)
def test_order_by_reads_properties_and_directions_in_any_case(raw: str | None, order: list[Any]) -> None:
    assert order_of(raw, ("name", "createdDateTime")) == order


@pytest.mark.parametrize("raw", ["size", "name up", "name desc extra", ",", "name,"])
def test_order_by_an_unknown_property_or_direction_is_refused(raw: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        order_of(raw, ("name", "createdDateTime"))
    assert _refused_target(refused) == ["$orderBy"]


def test_imodel_filter_maps_api_names_to_sort_columns_and_canonical_states() -> None:
    where = imodel_filter(
        "t1", {"name": "A", "$search": "b", "state": "NOTINITIALIZED", "$orderBy": "name desc"}
    )
    assert (where.itwin_id, where.name, where.search, where.state) == ("t1", "A", "b", "notInitialized")
    assert list(where.order) == [SortKey("LOWER(t.name)", descending=True)]


def test_empty_filter_values_filter_nothing() -> None:
    where = named_version_filter({"name": "", "$search": "", "state": ""})
    assert (where.name, where.search, where.state, list(where.order)) == (None, None, None, [])


def test_changeset_filter_reads_the_index_range_and_the_direction() -> None:
    where = changeset_filter({"afterIndex": "4", "lastIndex": "9", "$orderBy": "index desc"})
    assert (where.after_index, where.last_index, where.descending) == (4, 9, True)


@pytest.mark.parametrize("query", [{"$continuationToken": ""}, {"afterIndex": "1.5"}, {"lastIndex": "-2"}])
def test_changeset_filter_refuses_what_it_cannot_honour(query: dict[str, str]) -> None:
    with pytest.raises(InvalidRequest) as refused:
        changeset_filter(query)
    assert _refused_target(refused) == list(query)


def test_search_pattern_treats_like_wildcards_as_text() -> None:
    assert contains_pattern("50%_A\\b") == "%50\\%\\_a\\\\b%"


@pytest.mark.parametrize(
    ("slot", "wanted"),
    [
        ("0", 0),
        ("12", 12),
        ("0123456789012345678901234567890123456789", "0123456789012345678901234567890123456789"),
        ("abc", "abc"),
    ],
)
def test_a_changeset_slot_is_an_index_when_all_digits_and_shorter_than_an_id(
    slot: str, wanted: int | str
) -> None:
    assert changeset_slot(slot) == wanted


def test_changeset_ids_are_forty_hex_digits_chained_through_the_parent() -> None:
    first = changeset_id_of(None, "a" * 64)
    again = changeset_id_of(first, "a" * 64)
    assert len(first) == 40
    assert int(first, 16) >= 0
    assert again != first
    assert changeset_id_of(None, "a" * 64) == first


@pytest.mark.parametrize(
    ("body", "mode"),
    [
        ({}, "empty"),
        ({"baselineFile": {"size": 1}}, "fromBaseline"),
        ({"creationMode": "empty", "extent": None}, "empty"),
        ({"creationMode": "fromBaseline", "baselineFile": {"size": 1}}, "fromBaseline"),
        ({"geographicCoordinateSystem": {"horizontalCRSId": "EPSG:2056"}, "containersEnabled": 0}, "empty"),
    ],
)
def test_creation_mode_is_inferred_from_the_baseline_file_when_not_given(
    body: dict[str, Any], mode: str
) -> None:
    assert creation_mode(IModelCreate.model_validate({"iTwinId": "t", "name": "n", **body})) == mode
