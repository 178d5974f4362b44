"""The outermost middleware: request ids on every answer, and a 500 that leaves the connection usable."""

from __future__ import annotations

import errno

import httpx
from fastapi import FastAPI

from twinbridge.platform.handlers import install_error_handlers
from twinbridge.platform.observability import Metrics, RequestContextMiddleware


def _app() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/bug")
    async def bug() -> None:
        raise RuntimeError("a bug")

    @app.get("/full")
    async def full() -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    app.add_middleware(RequestContextMiddleware, metrics=Metrics())
    return app


async def test_an_unexpected_error_is_answered_500_and_does_not_leave_the_app() -> None:
    # raise_app_exceptions: an exception that left the app would fail the request here; the server would
    # close the client's keep-alive connection for it.
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/bug", headers={"x-request-id": "r-1"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {"code": "InternalServerError", "message": "The server could not complete the request."}
    }
    assert response.headers["x-request-id"] == "r-1"


async def test_a_full_disk_is_507_insufficient_storage() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=True)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/full")
    assert response.status_code == 507
    assert response.json()["error"]["code"] == "InsufficientStorage"
