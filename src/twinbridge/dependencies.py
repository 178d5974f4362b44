"""FastAPI dependencies shared by every feature: the runtime, the request's transaction, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request

from twinbridge.auth.scopes import Access, ScopeRequirement
from twinbridge.auth.tokens import Caller, bearer_token
from twinbridge.db.database import Transaction
from twinbridge.platform.errors import ErrorDetail, HeaderNotFound, InvalidAccessToken, TooManyRequests
from twinbridge.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDependency = Annotated[Runtime, Depends(get_runtime)]


READ_METHODS = frozenset({"GET", "HEAD"})


async def get_transaction(request: Request, runtime: RuntimeDependency) -> AsyncIterator[Transaction]:
    """The request boundary: commits when the endpoint returns, before the response is sent.

    GET requests read: their transactions never wait for a writer.
    """
    async with runtime.database.transaction(write=request.method not in READ_METHODS) as transaction:
        yield transaction


async def get_write_transaction(runtime: RuntimeDependency) -> AsyncIterator[Transaction]:
    """For the rare GET that writes (the authorize redirect of the built-in issuer)."""
    async with runtime.database.transaction(write=True) as transaction:
        yield transaction


TransactionDependency = Annotated[Transaction, Depends(get_transaction, scope="function")]
WriteTransactionDependency = Annotated[Transaction, Depends(get_write_transaction, scope="function")]


def _bearer_token(request: Request) -> str:
    header = request.headers.get("authorization")
    if header is None:
        raise HeaderNotFound()
    token = bearer_token(header)
    if token is None:
        raise InvalidAccessToken(
            details=[ErrorDetail("InvalidHeaderValue", "Expected 'Bearer <access token>'.", "Authorization")]
        )
    return token


def authenticated(
    requirement: ScopeRequirement, too_many_requests: type[TooManyRequests] = TooManyRequests
) -> Callable[[Request, Runtime], Coroutine[Any, Any, Caller]]:
    """A dependency that validates the token, checks the operation's scope and counts the call."""

    async def dependency(request: Request, runtime: RuntimeDependency) -> Caller:
        caller = await runtime.tokens.validate(_bearer_token(request))
        if not requirement.is_met_by(caller.scopes):
            needed = "itwin-platform" + (
                f" or {requirement.api}:{requirement.access}" if requirement.api else ""
            )
            raise InvalidAccessToken(
                details=[ErrorDetail("InsufficientScope", f"This operation requires the scope {needed}.")]
            )
        request.scope["state"]["caller_subject"] = caller.subject
        if runtime.rate_limiter is not None:
            await runtime.rate_limiter.hit(caller.subject, too_many_requests)
        return caller

    return dependency


READ = ScopeRequirement(api=None, access=Access.READ)
MODIFY = ScopeRequirement(api=None, access=Access.MODIFY)
Reader = Annotated[Caller, Depends(authenticated(READ))]
Writer = Annotated[Caller, Depends(authenticated(MODIFY))]
