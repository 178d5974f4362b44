"""Reading a `Page` from a request, and the `_links` of the page answered (`twinbridge.platform.paging`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, Request

from twinbridge.platform.paging import MAX_PAGE_SIZE, Page, links_of_page, parse_page


async def page_parameters(
    top: Annotated[
        str | None, Query(alias="$top", description=f"Page size (1-{MAX_PAGE_SIZE}, default 100).")
    ] = None,
    skip: Annotated[str | None, Query(alias="$skip", description="Items to skip.")] = None,
) -> Page:
    """A FastAPI dependency (async: no thread-pool hop); see `parse_page`."""
    return parse_page(top, skip)


def page_links(base_url: str, request: Request, page: Page, has_next: bool) -> dict[str, dict[str, str]]:
    """self, prev (omitted on the first page) and next (omitted on the last page)."""
    return links_of_page(base_url, request.scope["path"], request.query_params.multi_items(), page, has_next)
