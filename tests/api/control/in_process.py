"""An in-process client of an app made with settings of the test's choice (the `client` fixture of
tests/conftest.py takes the default settings)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx

from twinbridge.app import create_app
from twinbridge.config import Settings
from twinbridge.db.migrate import upgrade
from twinbridge.runtime import Runtime


async def in_process_client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    upgrade(settings)
    runtime = Runtime.create(settings)
    transport = httpx.ASGITransport(app=create_app(settings, runtime))
    async with httpx.AsyncClient(transport=transport, base_url=settings.base_url) as client:
        yield client
    await runtime.aclose()
