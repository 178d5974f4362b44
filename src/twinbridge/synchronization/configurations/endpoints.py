"""Synchronization configurations (C1-C12): create, get, patch and delete, at the iTwin, iModel and
connection scopes, under their own prefix `/synchronization/configurations`."""

# No `from __future__ import annotations` here: the factory annotates the body with a model made at run time,
# which FastAPI can resolve only when annotations are evaluated at definition.

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response

from twinbridge.auth.scopes import Access, ScopeRequirement
from twinbridge.dependencies import Call, authenticated
from twinbridge.platform.errors import RateLimitExceeded
from twinbridge.platform.handlers import invalid_request_code
from twinbridge.synchronization.configurations.flags import Scope
from twinbridge.synchronization.configurations.schemas import (
    ConfigurationBody,
    configuration_body,
    sent_flags,
)
from twinbridge.synchronization.configurations.service import ConfigurationService, ResolvedConfiguration

router = APIRouter(prefix="/synchronization/configurations", tags=["Synchronization Configurations"])
# Upstream's configuration pages answer 429 with RateLimitExceeded (contract §1).
_READ = ScopeRequirement("synchronization", Access.READ)
_MODIFY = ScopeRequirement("synchronization", Access.MODIFY)
Reader = Annotated[Call, Depends(authenticated(_READ, RateLimitExceeded))]
Writer = Annotated[Call, Depends(authenticated(_MODIFY, RateLimitExceeded))]
INVALID = "InvalidConfigurationRequest"
_PATHS = {
    Scope.ITWIN: "/itwins/{scope_id}",
    Scope.IMODEL: "/imodels/{scope_id}",
    Scope.CONNECTION: "/connections/{scope_id}",
}


def _shaped(configuration: ResolvedConfiguration) -> dict[str, Any]:
    return configuration_body(configuration.scope_id, configuration.settings, configuration.resolved_settings)


def _register(scope: Scope) -> None:
    path = _PATHS[scope]

    @router.post(path, status_code=201, name=f"create_{scope}_configuration")
    @invalid_request_code(INVALID)
    async def create_configuration(
        scope_id: str,
        body: ConfigurationBody,
        call: Writer,
    ) -> dict[str, Any]:
        async with call.transaction() as transaction:
            created = await ConfigurationService(transaction).create(
                scope, scope_id, sent_flags(body), call.caller.subject
            )
        return _shaped(created)

    @router.get(path, name=f"get_{scope}_configuration")
    @invalid_request_code(INVALID)
    async def get_configuration(scope_id: str, call: Reader) -> dict[str, Any]:
        async with call.transaction() as transaction:
            found = await ConfigurationService(transaction).get(scope, scope_id, call.caller.subject)
        return _shaped(found)

    @router.patch(path, name=f"patch_{scope}_configuration")
    @invalid_request_code(INVALID)
    async def patch_configuration(
        scope_id: str,
        body: ConfigurationBody,
        call: Writer,
    ) -> dict[str, Any]:
        async with call.transaction() as transaction:
            patched = await ConfigurationService(transaction).update(
                scope, scope_id, sent_flags(body), call.caller.subject
            )
        return _shaped(patched)

    @router.delete(path, status_code=204, name=f"delete_{scope}_configuration")
    @invalid_request_code(INVALID)
    async def delete_configuration(scope_id: str, call: Writer) -> Response:
        async with call.transaction() as transaction:
            await ConfigurationService(transaction).delete(scope, scope_id, call.caller.subject)
        return Response(status_code=204)


for _scope in Scope:
    _register(_scope)
