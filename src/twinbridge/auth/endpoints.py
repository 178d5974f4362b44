"""The built-in issuer's endpoints: OIDC discovery, the JWKS, sign-in (authorization code with PKCE), the
token endpoint (authorization_code, refresh_token, client_credentials) and refresh-token revocation."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from twinbridge.auth.grants import GrantService, read_ticket
from twinbridge.auth.redirects import registered_redirect_uris
from twinbridge.auth.service import ClientRefused, ServiceClientService
from twinbridge.auth.sign_in import (
    AuthorizationError,
    GrantReused,
    IssuedTokens,
    SignInService,
    read_authorization_request,
)
from twinbridge.db.database import Transaction
from twinbridge.dependencies import RuntimeDependency
from twinbridge.platform.errors import OAuthError
from twinbridge.platform.openapi import ENVELOPE_REFERENCE, OAUTH_ERROR_SCHEMA, errors_as
from twinbridge.platform.routing import documented_parameters
from twinbridge.runtime import Runtime

router = APIRouter(tags=["Built-in issuer"])

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _query_parameter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string"},
    }


AUTHORIZE_PARAMETERS = (
    _query_parameter("ticket", "The ticket of an authorizationUrl (consent to background runs); alone."),
    _query_parameter("client_id", "Sign-in: any client id (public client)."),
    _query_parameter(
        "redirect_uri",
        "Sign-in: where the code is sent: a loopback URI (http://127.0.0.1:<port>/…, any port) or one "
        "registered for the client in TWINBRIDGE_SIGN_IN_REDIRECT_URIS (the web console, client "
        "`twinbridge-console`, may use `{public URL}/console/`); any other → 400.",
    ),
    _query_parameter("response_type", "Sign-in: `code`."),
    _query_parameter("state", "Sign-in: echoed to redirect_uri."),
    _query_parameter("scope", "Sign-in: e.g. `itwin-platform offline_access` (default `itwin-platform`)."),
    _query_parameter("code_challenge", "Sign-in: BASE64URL(SHA256(code_verifier))."),
    _query_parameter("code_challenge_method", "Sign-in: `S256`."),
    _query_parameter("login_hint", "Sign-in: the user to sign in (default TWINBRIDGE_SIGN_IN_USER)."),
    _query_parameter("nonce", "Sign-in: copied into the id_token (scope openid)."),
)


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


def _sign_in(transaction: Transaction, runtime: Runtime) -> SignInService:
    settings = runtime.settings
    return SignInService(transaction, runtime.issuer, settings.token_ttl, settings.refresh_token_ttl)


@router.get(
    "/connect/authorize",
    responses={
        200: {"description": "A ticket without a redirect URL: the grant is recorded."},
        302: {"description": "To the ticket's URL, or to `redirect_uri` with the code or the error."},
    },
)
@documented_parameters(*AUTHORIZE_PARAMETERS)
@errors_as({"anyOf": [OAUTH_ERROR_SCHEMA, ENVELOPE_REFERENCE]}, [400])
async def authorize(request: Request, runtime: RuntimeDependency) -> Response:
    """Two uses, told apart by their parameters:

    - `?ticket=…` (an authorizationUrl of the Export and Synchronization APIs): records the user's grant and
      sends the browser back to the http(s) URL bound into the ticket (auth/redirects.py);
    - the authorization code request of OAuth 2.0 with PKCE: consents at once (no page, no cookie) and
      answers 302 to `redirect_uri?code=…&state=…`, so that a plain GET completes a CLI's sign-in.
    """
    query = request.query_params
    if "ticket" in query:
        granted = read_ticket(runtime.issuer, query["ticket"])
        async with runtime.database.transaction() as transaction:
            await GrantService(transaction).grant(granted.subject)
        if granted.redirect_url:
            return RedirectResponse(granted.redirect_url, status_code=302)
        return JSONResponse({"authorized": True, "user": granted.subject})
    settings = runtime.settings
    try:
        sign_in = read_authorization_request(
            query.multi_items(),
            settings.sign_in_user,
            settings.sign_in_enabled,
            registered_redirect_uris(settings.sign_in_redirect_uris, settings.base_url),
        )
        async with runtime.database.transaction() as transaction:
            code = await _sign_in(transaction, runtime).issue_code(sign_in)
    except AuthorizationError as refused:
        return RedirectResponse(refused.location(), status_code=302, headers=NO_STORE)
    return RedirectResponse(sign_in.location(code), status_code=302, headers=NO_STORE)


def _token_response(issued: IssuedTokens) -> JSONResponse:
    body: dict[str, Any] = {
        "access_token": issued.access_token,
        "token_type": "Bearer",
        "expires_in": issued.expires_in,
        "scope": issued.scope,
    }
    if issued.refresh_token is not None:
        body["refresh_token"] = issued.refresh_token
    if issued.id_token is not None:
        body["id_token"] = issued.id_token
    return JSONResponse(body, headers=NO_STORE)


async def _revoking_reused_grants(runtime: Runtime, reused: GrantReused) -> None:
    """A code or refresh token presented twice revokes its sign-in; the request's transaction has rolled back
    with the error, so this takes one of its own."""
    if reused.family_id is not None:
        async with runtime.database.transaction() as transaction:
            await _sign_in(transaction, runtime).revoke_family(reused.family_id)


@router.post("/connect/token")
@errors_as(OAUTH_ERROR_SCHEMA, [400, 401, 429])
async def token(
    request: Request,
    runtime: RuntimeDependency,
    grant_type: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
    client_secret: Annotated[str | None, Form()] = None,
    scope: Annotated[str | None, Form()] = None,
    code: Annotated[str | None, Form()] = None,
    redirect_uri: Annotated[str | None, Form()] = None,
    code_verifier: Annotated[str | None, Form()] = None,
    refresh_token: Annotated[str | None, Form()] = None,
) -> JSONResponse:
    """RFC 6749 sections 4.1.3, 4.4 and 6; errors follow RFC 6749 section 5.2 rather than the API envelope.

    authorization_code and refresh_token are for public clients (client_id, no secret; a secret sent along
    is not checked); client_credentials needs a registered client and its secret, checked as
    ServiceClientService.client_credentials says (off the event loop, in one time, attempts limited).
    """
    credentials = _basic_credentials(request)
    if grant_type in ("authorization_code", "refresh_token"):
        public_client_id = credentials[0] if credentials else client_id
        try:
            async with runtime.database.transaction() as transaction:
                service = _sign_in(transaction, runtime)
                if grant_type == "authorization_code":
                    issued = await service.exchange_code(public_client_id, code, redirect_uri, code_verifier)
                else:
                    issued = await service.refresh(public_client_id, refresh_token, scope)
        except GrantReused as reused:
            await _revoking_reused_grants(runtime, reused)
            raise
        return _token_response(issued)
    if grant_type != "client_credentials":
        raise OAuthError(
            "unsupported_grant_type",
            "Supported grant types: authorization_code, refresh_token, client_credentials.",
        )
    credentials = credentials or (client_id or "", client_secret or "")
    if not credentials[0] or not credentials[1]:
        raise OAuthError("invalid_client", "client_id and client_secret are required.", status_code=401)
    try:
        async with runtime.database.transaction(write=False) as transaction:
            minted = await ServiceClientService(transaction).client_credentials(
                runtime.issuer,
                credentials[0],
                credentials[1],
                scope,
                runtime.settings.token_ttl,
                runtime.secret_attempts,
                request.client.host if request.client else "",
            )
    except ClientRefused as refused:
        await refused.wait_out()
        raise
    return JSONResponse(
        {
            "access_token": minted.access_token,
            "token_type": "Bearer",
            "expires_in": minted.expires_in,
            "scope": minted.scope,
        },
        headers=NO_STORE,
    )


@router.post("/connect/revocation", response_class=Response)
@errors_as(OAUTH_ERROR_SCHEMA, [400, 401])
async def revocation(
    request: Request,
    runtime: RuntimeDependency,
    token: Annotated[str | None, Form()] = None,
    token_type_hint: Annotated[str | None, Form()] = None,
    client_id: Annotated[str | None, Form()] = None,
) -> Response:
    """RFC 7009: revokes a refresh token and every token of its sign-in (and the consent to background runs
    it gave). 200 with no body, also for a token this issuer does not know."""
    credentials = _basic_credentials(request)
    async with runtime.database.transaction() as transaction:
        await _sign_in(transaction, runtime).revoke(credentials[0] if credentials else client_id, token)
    return Response(status_code=200, headers=NO_STORE)
