"""FastAPI dependencies shared by every feature: the runtime, the request's transaction, the caller."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from twinbridge.auth.scopes import Access, ScopeRequirement
from twinbridge.auth.tokens import Caller, bearer_token
from twinbridge.db.engine import unit_of_work
from twinbridge.platform.errors import ErrorDetail, HeaderNotFound, InvalidAccessToken, TooManyRequests
from twinbridge.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDependency = Annotated[Runtime, Depends(get_runtime)]


READ_METHODS = frozenset({"GET", "HEAD"})


async def get_session(request: Request, runtime: RuntimeDependency) -> AsyncIterator[AsyncSession]:
    """The request boundary: commits when the endpoint returns, before the response is sent.

    GET requests read; they get a session whose transactions never wait for the write lock (SQLite).
    """
    factory = runtime.read_sessions if request.method in READ_METHODS else runtime.sessions
    async with unit_of_work(factory) as session:
        yield session


async def get_write_session(runtime: RuntimeDependency) -> AsyncIterator[AsyncSession]:
    """For the rare GET that writes (the authorize redirect of the built-in issuer)."""
    async with unit_of_work(runtime.sessions) as session:
        yield session


SessionDependency = Annotated[AsyncSession, Depends(get_session, scope="function")]
WriteSessionDependency = Annotated[AsyncSession, Depends(get_write_session, scope="function")]


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
