"""The built-in issuer's endpoints: OIDC discovery, the JWKS and the client_credentials token endpoint."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from twinbridge.auth.grants import GrantService, read_ticket
from twinbridge.auth.service import ServiceClientService
from twinbridge.dependencies import RuntimeDependency
from twinbridge.platform.errors import OAuthError

router = APIRouter(tags=["Built-in issuer"])


@router.get("/.well-known/openid-configuration")
async def openid_configuration(runtime: RuntimeDependency) -> dict[str, Any]:
    return runtime.issuer.openid_configuration()


@router.get("/.well-known/jwks.json")
async def jwks(runtime: RuntimeDependency) -> dict[str, Any]:
    return runtime.issuer.jwks()


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        client_id, _, secret = base64.b64decode(value).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "Malformed Basic credentials.", status_code=401) from None
    return client_id, secret


@router.get("/connect/authorize")
async def authorize(
    runtime: RuntimeDependency,
    ticket: Annotated[str, Query(description="The ticket of an authorization URL.")],
) -> Response:
    """Records the user's grant (auto-consent in the embedded mode) and sends the browser back to the
    redirect URL the ticket names."""
    granted = read_ticket(runtime.issuer, ticket)
    async with runtime.database.transaction() as transaction:
        await GrantService(transaction).grant(granted.subject)
    if granted.redirect_url:
        return RedirectResponse(granted.redirect_url, status_code=302)
    return JSONResponse({"authorized": True, "user": granted.subject})


@router.post("/connect/token")
async def token(
    request: Request,
    runtime: RuntimeDependency,
    grant_type: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """RFC 6749 section 4.4; errors follow RFC 6749 section 5.2 rather than the API envelope."""
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "Only the client_credentials grant is supported.")
    credentials = _basic_credentials(request) or (client_id, client_secret)
    if not credentials[0] or not credentials[1]:
        raise OAuthError("invalid_client", "client_id and client_secret are required.", status_code=401)
    async with runtime.database.transaction(write=False) as transaction:
        minted = await ServiceClientService(transaction).client_credentials(
            runtime.issuer, credentials[0], credentials[1], scope, runtime.settings.token_ttl
        )
    return JSONResponse(
        {
            "access_token": minted.access_token,
            "token_type": "Bearer",
            "expires_in": minted.expires_in,
            "scope": minted.scope,
        },
        headers={"Cache-Control": "no-store"},
    )
