"""Reading a `Page` from a request, and the `_links` of the page answered (`twinbridge.platform.paging`).

List endpoints call `page_of(request)` themselves and name `PAGE_PARAMETERS` with `documented_parameters`
for the OpenAPI document: a FastAPI dependency, even one that reads only the request, cost a list request
a tenth of its time, and declared query parameters more (FastAPI validates each on every request).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from twinbridge.platform.paging import MAX_PAGE_SIZE, MAX_SKIP, Page, links_of_page, parse_page
from twinbridge.platform.paths import PATH_AS_SENT

PAGE_PARAMETERS: tuple[dict[str, Any], ...] = (
    {
        "name": "$top",
        "in": "query",
        "required": False,
        "description": f"Page size (1-{MAX_PAGE_SIZE}, default 100).",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
    },
    {
        "name": "$skip",
        "in": "query",
        "required": False,
        "description": "Items to skip.",
        "schema": {"type": "integer", "format": "int64", "minimum": 0, "maximum": MAX_SKIP},
    },
)


def page_of(request: Request) -> Page:
    """`$top` and `$skip`, checked by `parse_page` with the contract's errors."""
    query = request.query_params
    return parse_page(query.get("$top"), query.get("$skip"))


def page_links(base_url: str, request: Request, page: Page, has_next: bool) -> dict[str, dict[str, str]]:
    """self, prev (omitted on the first page) and next (omitted on the last page)."""
    path = request.scope.get(PATH_AS_SENT) or request.scope["path"]
    return links_of_page(base_url, path, request.query_params.multi_items(), page, has_next)
