"""Reading a `Page` from a request, and the `_links` of the page answered (`twinbridge.platform.paging`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from twinbridge.platform.paging import MAX_PAGE_SIZE, Page, links_of_page, parse_page
from twinbridge.platform.routing import documented_parameters


@documented_parameters(
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
        "schema": {"type": "integer", "minimum": 0},
    },
)
async def page_parameters(request: Request) -> Page:
    """A FastAPI dependency that reads `$top` and `$skip` itself: `parse_page` checks them with the
    contract's errors, and a declared parameter costs every request FastAPI's validation of it."""
    query = request.query_params
    return parse_page(query.get("$top"), query.get("$skip"))


PageDependency = Annotated[Page, Depends(page_parameters)]


def page_links(base_url: str, request: Request, page: Page, has_next: bool) -> dict[str, dict[str, str]]:
    """self, prev (omitted on the first page) and next (omitted on the last page)."""
    return links_of_page(base_url, request.scope["path"], request.query_params.multi_items(), page, has_next)
