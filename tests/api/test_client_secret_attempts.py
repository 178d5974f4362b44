"""The client_credentials grant under guessing: secrets are checked off the event loop, a refusal takes as
long whether the client exists or not, and wrong secrets are limited per client id and per source address."""

from __future__ import annotations

import base64
import hashlib
import threading
import time

import httpx
import pytest

from twinbridge.auth import service as service_module
from twinbridge.auth.attempts import FailedSecretAttempts
from twinbridge.auth.repository import ServiceClientRepository
from twinbridge.auth.service import REFUSAL_SECONDS, ServiceClientService
from twinbridge.db.models import ServiceClient
from twinbridge.runtime import Runtime


def _legacy_scrypt_hash(secret: str) -> str:
    """How `clients create` stored secrets before SHA-256: 50 ms of CPU to check."""
    salt = b"0123456789abcdef"
    digest = hashlib.scrypt(secret.encode(), salt=salt, n=2**14, r=8, p=1)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


async def _token(client: httpx.AsyncClient, client_id: str, secret: str) -> httpx.Response:
    return await client.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )


async def test_every_refusal_takes_as_long_whether_or_not_the_client_exists(
    client: httpx.AsyncClient, runtime: Runtime
) -> None:
    async with runtime.database.transaction() as transaction:
        await ServiceClientService(transaction).register("ci-bot")
        await ServiceClientRepository(transaction).save(
            ServiceClient(client_id="old-bot", secret_hash=_legacy_scrypt_hash("s"), scopes="itwin-platform")
        )
    for client_id in ("nobody", "ci-bot", "old-bot"):
        started = time.monotonic()
        response = await _token(client, client_id, "wrong")
        elapsed = time.monotonic() - started
        assert (response.status_code, response.json()["error"]) == (401, "invalid_client")
        assert response.json()["error_description"] == "Unknown client or wrong client secret."
        assert elapsed >= REFUSAL_SECONDS, client_id


async def test_secrets_are_checked_off_the_event_loop(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[threading.Thread] = []
    checked = service_module.verify_secret

    def verify(secret: str, stored: str) -> bool:
        threads.append(threading.current_thread())
        return checked(secret, stored)

    monkeypatch.setattr(service_module, "verify_secret", verify)
    async with runtime.database.transaction() as transaction:
        secret = await ServiceClientService(transaction).register("ci-bot")
    assert (await _token(client, "ci-bot", secret)).status_code == 200
    assert (await _token(client, "nobody", "guess")).status_code == 401
    assert len(threads) == 2
    assert all(thread is not threading.main_thread() for thread in threads)


async def test_wrong_secrets_are_limited_per_client_and_per_address(
    client: httpx.AsyncClient, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(service_module, "REFUSAL_SECONDS", 0.0)
    runtime.secret_attempts = FailedSecretAttempts(per_client=3, per_address=5)
    async with runtime.database.transaction() as transaction:
        secret = await ServiceClientService(transaction).register("ci-bot")
        other_secret = await ServiceClientService(transaction).register("other-bot")
    for _ in range(3):
        assert (await _token(client, "ci-bot", "guess")).status_code == 401
    limited = await _token(client, "ci-bot", secret)  # refused unchecked, even with the right secret
    assert limited.status_code == 429
    assert limited.json()["error"] == "temporarily_unavailable"
    assert limited.json()["error_description"].startswith("Too many wrong client secrets")
    assert 1 <= int(limited.headers["retry-after"]) <= 60
    assert limited.headers["cache-control"] == "no-store"
    assert (await _token(client, "other-bot", other_secret)).status_code == 200  # successes are not counted
    for _ in range(2):
        assert (await _token(client, "other-bot", "guess")).status_code == 401
    from_the_address = await _token(client, "other-bot", other_secret)  # 5 wrong from this address
    assert from_the_address.status_code == 429
