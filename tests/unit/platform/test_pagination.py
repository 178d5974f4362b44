from __future__ import annotations

import pytest
from starlette.requests import Request

from twinbridge.platform.errors import InvalidRequest
from twinbridge.platform.pagination import page_links
from twinbridge.platform.paging import DEFAULT_PAGE_SIZE, MAX_SKIP, Page, parse_page, split_page


def _request(query: str) -> Request:
    return Request(
        {
            "type": "http",
            "method": "GET",
            "path": "/export/connections",
            "query_string": query.encode(),
            "headers": [],
        }
    )


def test_page_defaults_to_one_hundred_items_from_the_start() -> None:
    assert parse_page(None, None) == Page(top=DEFAULT_PAGE_SIZE, skip=0)


def test_the_largest_skip_is_the_largest_offset_both_databases_take() -> None:
    assert parse_page(None, str(2**63 - 1)) == Page(top=DEFAULT_PAGE_SIZE, skip=MAX_SKIP)


@pytest.mark.parametrize("top", ["0", "1001", "-5", "ten"])
def test_page_size_outside_one_to_a_thousand_is_refused_with_the_contract_detail(top: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_page(top, None)
    assert [detail.as_dict() for detail in raised.value.details] == [
        {"code": "InvalidValue", "message": "Page size is out of limits.", "target": "$top"}
    ]


@pytest.mark.parametrize("skip", ["-1", "x", str(2**63), "1" * 5000])
def test_invalid_skip_is_refused_naming_skip(skip: str) -> None:
    with pytest.raises(InvalidRequest) as raised:
        parse_page("10", skip)
    assert raised.value.details[0].target == "$skip"


def test_first_page_links_have_self_and_next_but_no_prev() -> None:
    links = page_links(
        "https://tb.example", _request("imodelId=abc&$top=50"), Page(top=50, skip=0), has_next=True
    )
    assert links == {
        "self": {"href": "https://tb.example/export/connections?imodelId=abc&$skip=0&$top=50"},
        "next": {"href": "https://tb.example/export/connections?imodelId=abc&$skip=50&$top=50"},
    }


def test_middle_page_links_point_both_ways_and_keep_other_parameters() -> None:
    links = page_links("https://tb.example", _request("imodelId=abc&$skip=60&$top=50"), Page(50, 60), True)
    assert links["prev"]["href"].endswith("?imodelId=abc&$skip=10&$top=50")
    assert links["next"]["href"].endswith("?imodelId=abc&$skip=110&$top=50")


def test_last_page_has_no_next_link() -> None:
    links = page_links("https://tb.example", _request(""), Page(10, 10), has_next=False)
    assert set(links) == {"self", "prev"}


def test_split_page_uses_the_extra_row_to_detect_a_next_page() -> None:
    assert split_page([1, 2, 3], Page(top=2, skip=0)) == ([1, 2], True)
    assert split_page([1, 2], Page(top=2, skip=0)) == ([1, 2], False)
