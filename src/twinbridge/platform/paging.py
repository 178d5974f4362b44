"""`$top`/`$skip` paging and the `_links` self/prev/next that go with it, free of the web framework.

Services take a `Page`; `twinbridge.platform.pagination` reads one from a request.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from twinbridge.platform.errors import PAGE_SIZE_OUT_OF_LIMITS, InvalidRequest, invalid_value

# The contract states no default or maximum for Export/Sync; the Storage API caps pages at 1000.
DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
# The largest offset both databases take (a signed 64-bit integer); past it there is nothing to page to.
MAX_SKIP = 2**63 - 1


@dataclass(frozen=True)
class Page:
    top: int
    skip: int

    @property
    def fetch_limit(self) -> int:
        """One row more than the page, so that the presence of a next page is known without a count."""
        return self.top + 1


def _to_int(raw: str | None, default: int) -> int | None:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        return None


def parse_page(top: str | None, skip: str | None) -> Page:
    """Strings are parsed by hand so that errors carry the contract's details."""
    top_value = _to_int(top, DEFAULT_PAGE_SIZE)
    if top_value is None or not 1 <= top_value <= MAX_PAGE_SIZE:
        raise InvalidRequest(details=[PAGE_SIZE_OUT_OF_LIMITS])
    skip_value = _to_int(skip, 0)
    if skip_value is None or not 0 <= skip_value <= MAX_SKIP:
        raise InvalidRequest(details=[invalid_value("$skip")])
    return Page(top=top_value, skip=skip_value)


def links_of_page(
    base_url: str, path: str, query: Sequence[tuple[str, str]], page: Page, has_next: bool
) -> dict[str, dict[str, str]]:
    """self, prev (omitted on the first page) and next (omitted on the last page)."""
    kept = urlencode([(key, value) for key, value in query if key not in {"$top", "$skip"}], safe="$")
    start = f"{base_url}{path}?{kept}&" if kept else f"{base_url}{path}?"

    def link(skip: int) -> dict[str, str]:
        return {"href": f"{start}$skip={skip}&$top={page.top}"}

    links: dict[str, dict[str, str]] = {"self": link(page.skip)}
    if page.skip > 0:
        links["prev"] = link(max(page.skip - page.top, 0))
    if has_next:
        links["next"] = link(page.skip + page.top)
    return links


def split_page(rows: list[Any], page: Page) -> tuple[list[Any], bool]:
    """Rows fetched with `page.fetch_limit` -> (the page's rows, whether a next page exists)."""
    return rows[: page.top], len(rows) > page.top
