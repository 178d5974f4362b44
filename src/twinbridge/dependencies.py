"""FastAPI dependencies shared by every feature: the runtime, and the API call (who makes it).

An endpoint opens the call's transaction itself (`async with call.transaction() as transaction:`), so that
it commits before the response is sent; a dependency that yields a transaction cost every request a fifth
of its time in FastAPI's generator handling.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import Headers
from starlette.types import Scope

from twinbridge.auth.scopes import Access, ScopeRequirement
from twinbridge.auth.tokens import Caller, bearer_token
from twinbridge.db.database import Transaction
from twinbridge.platform.errors import ErrorDetail, HeaderNotFound, RequiredScopeMissing, TooManyRequests
from twinbridge.platform.intake import checks_token
from twinbridge.runtime import Runtime


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDependency = Annotated[Runtime, Depends(get_runtime)]

READ_METHODS = frozenset({"GET", "HEAD"})


@dataclass(frozen=True, slots=True)
class Call:
    """One API call: who makes it, on the process's runtime."""

    caller: Caller
    runtime: Runtime
    writes: bool

    def transaction(self) -> AbstractAsyncContextManager[Transaction]:
        """The call's transaction: a reading one for GET (it never waits for a writer)."""
        return self.runtime.database.transaction(write=self.writes)

    @property
    def base_url(self) -> str:
        return self.runtime.settings.base_url


def _bearer_token(headers: Headers) -> str:
    """The request's bearer token; the gateway's 401 (HeaderNotFound, InvalidAuthorizationScheme) if none."""
    header = headers.get("authorization")
    if header is None:
        raise HeaderNotFound()
    return bearer_token(header)


async def authenticate_before_body(scope: Scope) -> None:
    """The token of a request whose body is still unread, validated (or refused with the gateway's 401)
    before the body is read; the operation's dependency finds it in the validator's cache."""
    runtime: Runtime = scope["app"].state.runtime
    await runtime.tokens.validate(_bearer_token(Headers(scope=scope)))


def authenticated(
    requirement: ScopeRequirement, too_many_requests: type[TooManyRequests] = TooManyRequests
) -> Callable[[Request], Coroutine[Any, Any, Call]]:
    """A dependency that validates the token, checks the operation's scope and counts the call."""

    async def dependency(request: Request) -> Call:
        runtime: Runtime = request.app.state.runtime
        caller = await runtime.tokens.validate(_bearer_token(request.headers))
        if not requirement.is_met_by(caller.scopes):
            needed = "itwin-platform" + (
                f" or {requirement.api}:{requirement.access}" if requirement.api else ""
            )
            raise RequiredScopeMissing(
                details=[
                    ErrorDetail(
                        "InsufficientScope", f"This operation requires the scope {needed}.", "Authorization"
                    )
                ]
            )
        request.scope["state"]["caller_subject"] = caller.subject
        if runtime.rate_limiter is not None:
            await runtime.rate_limiter.hit(caller.subject, too_many_requests)
        return Call(caller, runtime, writes=request.method not in READ_METHODS)

    return checks_token(dependency)


READ = ScopeRequirement(api=None, access=Access.READ)
MODIFY = ScopeRequirement(api=None, access=Access.MODIFY)
Reader = Annotated[Call, Depends(authenticated(READ))]
Writer = Annotated[Call, Depends(authenticated(MODIFY))]
