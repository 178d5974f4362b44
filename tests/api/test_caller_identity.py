"""A caller is the pair (issuer, subject): with two accepted issuers, the second issuer's `frank` is not the
built-in issuer's `frank`, and memberships, created-by fields and grants name the pair."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SAMPLE_IMODELS
from tests.identity_provider import FakeIdentityProvider
from twinbridge.app import create_app
from twinbridge.auth.issuer import BuiltInIssuer
from twinbridge.auth.keys import load_or_create_signing_key
from twinbridge.config import Settings
from twinbridge.db.migrate import upgrade
from twinbridge.imodels.service import IModelService
from twinbridge.itwins.service import ITwinService
from twinbridge.runtime import Runtime

BUILTIN = "http://twinbridge.test"


@pytest.fixture
def identity_provider(tmp_path: Path) -> Iterator[FakeIdentityProvider]:
    provider = FakeIdentityProvider([load_or_create_signing_key(tmp_path / "idp")])
    yield provider
    provider.close()


@pytest.fixture
async def two_issuers(
    make_settings: Callable[..., Settings], identity_provider: FakeIdentityProvider
) -> AsyncIterator[tuple[Runtime, httpx.AsyncClient]]:
    settings = make_settings(auth_issuers=f"{BUILTIN},{identity_provider.url}")
    upgrade(settings)
    runtime = Runtime.create(settings)
    transport = httpx.ASGITransport(app=create_app(settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url=BUILTIN) as client:
        yield runtime, client
    await runtime.aclose()


def _bearer(issuer: BuiltInIssuer, subject: str) -> dict[str, str]:
    minted = issuer.mint(subject=subject, kind="user", scopes=["itwin-platform"], ttl=600)
    return {"Authorization": f"Bearer {minted.access_token}"}


async def test_the_second_issuers_frank_neither_reads_nor_deletes_what_the_builtin_frank_has(
    two_issuers: tuple[Runtime, httpx.AsyncClient], identity_provider: FakeIdentityProvider
) -> None:
    runtime, client = two_issuers
    builtin_frank = _bearer(runtime.issuer, "frank")
    other_frank = _bearer(BuiltInIssuer(identity_provider.url, identity_provider.keys[0]), "frank")
    async with runtime.database.transaction() as transaction:
        itwin = await ITwinService(transaction).create("Frank's plant", "frank")
        imported = await IModelService(transaction, runtime.blobs).import_file(
            itwin.id, SAMPLE_IMODELS / "Building Blocks.bim", "Blocks", None, caller=None
        )
    created = await client.post(
        "/export/connections", json={"iModelId": imported.imodel.id}, headers=builtin_frank
    )
    assert created.status_code == 201, created.text
    connection_id = created.json()["connection"]["id"]

    assert (await client.get(f"/itwins/{itwin.id}", headers=other_frank)).status_code == 403
    assert (await client.get("/itwins", headers=other_frank)).json()["iTwins"] == []
    deleted = await client.delete(f"/export/connections/{connection_id}", headers=other_frank)
    assert deleted.status_code == 403
    kept = await client.get(f"/export/connections/{connection_id}", headers=builtin_frank)
    assert kept.status_code == 200
    assert (await client.get(f"/itwins/{itwin.id}", headers=builtin_frank)).status_code == 200


async def test_memberships_and_created_by_name_an_external_caller_with_its_issuer(
    two_issuers: tuple[Runtime, httpx.AsyncClient], identity_provider: FakeIdentityProvider
) -> None:
    runtime, client = two_issuers
    external = BuiltInIssuer(identity_provider.url, identity_provider.keys[0])
    qualified = f"{identity_provider.url}|frank"
    made = await client.post("/itwins", json={"displayName": "Theirs"}, headers=_bearer(external, "frank"))
    assert made.status_code == 201, made.text
    assert made.json()["iTwin"]["createdBy"] == qualified
    itwin_id = made.json()["iTwin"]["id"]
    members = await client.get(f"/itwins/{itwin_id}/members", headers=_bearer(external, "frank"))
    assert [(member["subject"], member["role"]) for member in members.json()["members"]] == [
        (qualified, "Owner")
    ]
    # The built-in frank is not a member; adding him names the built-in user, and the external Owner
    # removes him again by his plain name.
    assert (
        await client.get(f"/itwins/{itwin_id}", headers=_bearer(runtime.issuer, "frank"))
    ).status_code == 403
    added = await client.post(
        f"/itwins/{itwin_id}/members",
        json={"subject": "frank", "role": "Reader"},
        headers=_bearer(external, "frank"),
    )
    assert added.status_code == 201
    assert (
        await client.get(f"/itwins/{itwin_id}", headers=_bearer(runtime.issuer, "frank"))
    ).status_code == 200
    removed = await client.delete(f"/itwins/{itwin_id}/members/frank", headers=_bearer(external, "frank"))
    assert removed.status_code == 204
    assert (
        await client.get(f"/itwins/{itwin_id}", headers=_bearer(runtime.issuer, "frank"))
    ).status_code == 403


async def test_an_external_member_is_removed_by_its_sub_and_issuer(
    two_issuers: tuple[Runtime, httpx.AsyncClient], identity_provider: FakeIdentityProvider
) -> None:
    runtime, client = two_issuers
    external = BuiltInIssuer(identity_provider.url, identity_provider.keys[0])
    async with runtime.database.transaction() as transaction:
        itwin = await ITwinService(transaction).create("Plant", "alice")
    added = await client.post(
        f"/itwins/{itwin.id}/members",
        json={"subject": f"{identity_provider.url}|rita", "role": "Reader"},
        headers=_bearer(runtime.issuer, "alice"),
    )
    assert added.status_code == 201, added.text
    assert (await client.get(f"/itwins/{itwin.id}", headers=_bearer(external, "rita"))).status_code == 200
    assert (
        await client.get(f"/itwins/{itwin.id}", headers=_bearer(runtime.issuer, "rita"))
    ).status_code == 403
    removed = await client.delete(
        f"/itwins/{itwin.id}/members/rita",
        params={"issuer": identity_provider.url},
        headers=_bearer(runtime.issuer, "alice"),
    )
    assert removed.status_code == 204
    assert (await client.get(f"/itwins/{itwin.id}", headers=_bearer(external, "rita"))).status_code == 403


async def test_the_builtin_issuer_signs_in_no_name_with_the_issuer_separator(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    forged_name = _bearer(runtime.issuer, "https://idp.example|frank")
    response = await client.get("/itwins", headers=forged_name)
    assert response.status_code == 401
    assert response.json()["error"]["details"][0]["code"] == "InvalidSubject"
