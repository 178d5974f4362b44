"""The authorizationUrl of the Export and Synchronization APIs: a signed ticket that redirects only to the
http(s) URL bound into it, and never records a grant for a ticket it refuses."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable

import httpx
import pytest

from twinbridge.auth.grants import TICKET_LABEL, GrantService
from twinbridge.runtime import Runtime

Headers = Callable[..., dict[str, str]]


def _ticket(runtime: Runtime, subject: str, redirect_url: object) -> str:
    """A ticket signed with the server's key, as an older server (or a bug) might have made it."""
    payload = json.dumps([subject, int(time.time()) + 600, redirect_url], separators=(",", ":"))
    encoded = base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()
    return f"{encoded}.{runtime.issuer.signing_key.mac(TICKET_LABEL, encoded)}"


@pytest.mark.parametrize("bound", ["javascript:alert(1)", "data:text/html,x", "//evil.example/", 7])
async def test_a_signed_ticket_bound_to_a_url_that_is_not_http_is_refused_and_grants_nothing(
    client: httpx.AsyncClient, runtime: Runtime, bound: object
) -> None:
    response = await client.get("/connect/authorize", params={"ticket": _ticket(runtime, "dave", bound)})
    assert response.status_code == 400
    assert "location" not in response.headers
    assert response.json()["error"]["code"] == "InvalidGrantTicket"
    async with runtime.database.transaction(write=False) as transaction:
        assert not await GrantService(transaction).is_authorized("dave")


async def test_a_signed_ticket_redirects_to_its_https_url_and_records_the_grant(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    ticket = _ticket(runtime, "dave", "https://app.example/done")
    response = await client.get("/connect/authorize", params={"ticket": ticket})
    assert (response.status_code, response.headers["location"]) == (302, "https://app.example/done")
    async with runtime.database.transaction(write=False) as transaction:
        assert await GrantService(transaction).is_authorized("dave")


@pytest.mark.parametrize("redirect_url", ["javascript:alert(1)", "http:\\\\evil.example", "http://"])
async def test_authorization_information_makes_no_ticket_for_a_url_that_is_not_http(
    client: httpx.AsyncClient, auth_headers: Headers, redirect_url: str
) -> None:
    export = await client.get(
        "/export/authorizationinformation", params={"redirectUrl": redirect_url}, headers=auth_headers("dave")
    )
    assert export.status_code == 422
    assert export.json()["error"]["details"][0]["message"] == "redirectUrl must be a valid URL."
    synchronization = await client.get(
        "/synchronization/imodels/connections/authorizationinformation",
        params={"redirectUrl": redirect_url},
        headers=auth_headers("dave"),
    )
    assert synchronization.status_code == 422
    assert "ticket" not in synchronization.text
