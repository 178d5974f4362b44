"""The rules of Synchronization configurations (api-contract.md §3.9).

One configuration per scope (an iTwin, an iModel or a connection). Reading one needs read access to its
iTwin, creating, patching and deleting one needs Contributor or Owner. A scope that does not exist is a 422
naming the path's id, as upstream's documented errors do; an existing scope without a configuration is the
documented 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twinbridge.auth.permissions import Action, authorize
from twinbridge.db.database import Transaction
from twinbridge.db.models import SyncConfiguration
from twinbridge.platform.errors import Conflict, InvalidRequest, NotFound, invalid_value
from twinbridge.platform.ids import new_guid
from twinbridge.platform.time import utc_now
from twinbridge.synchronization.configurations.flags import (
    BY_NAME,
    FlagValue,
    RunFlags,
    Scope,
    in_catalogue_order,
    resolve,
    too_low,
)
from twinbridge.synchronization.configurations.repository import (
    ConfigurationExists,
    ConfigurationRepository,
    ScopeConfiguration,
)

# How upstream's errors name each scope's path parameter ("Provided connectionid value is not valid.").
PATH_PARAMETERS = {Scope.ITWIN: "itwinid", Scope.IMODEL: "imodelid", Scope.CONNECTION: "connectionid"}
_SCOPE_NAMES = {Scope.ITWIN: "iTwin", Scope.IMODEL: "iModel", Scope.CONNECTION: "connection"}


class ConfigurationNotFound(NotFound):
    default_code = "ConfigurationNotFound"
    default_message = "Requested Configuration is not available."


class ConfigurationAlreadyExists(Conflict):
    default_code = "ConfigurationAlreadyExists"
    default_message = "A configuration already exists."


@dataclass(frozen=True)
class ResolvedConfiguration:
    """A scope's configuration as the API shows it: the flags set there, and the flags in effect."""

    scope_id: str
    settings: dict[str, FlagValue]
    resolved_settings: dict[str, FlagValue]


def _checked(scope: Scope, sent: dict[str, Any]) -> None:
    """A flag of a lower scope cannot be set here (a connection flag in an iTwin configuration)."""
    problems = [
        invalid_value(
            name,
            f"{name} cannot be set at the {_SCOPE_NAMES[scope]} scope: it belongs to the "
            f"{_SCOPE_NAMES[BY_NAME[name].scope]} scope.",
        )
        for name in sent
        if too_low(BY_NAME[name], scope)
    ]
    if problems:
        raise InvalidRequest(details=problems)


class ConfigurationService:
    def __init__(self, transaction: Transaction) -> None:
        self.configurations = ConfigurationRepository(transaction)

    async def _scope(self, scope: Scope, scope_id: str, caller: str, action: Action) -> ScopeConfiguration:
        found = await self.configurations.read(scope, scope_id, caller)
        if found is None:
            raise InvalidRequest(details=[invalid_value(PATH_PARAMETERS[scope])])
        authorize(found.role, action)
        return found

    @staticmethod
    def _view(
        scope: Scope, scope_id: str, found: ScopeConfiguration, own: dict[str, Any]
    ) -> ResolvedConfiguration:
        return ResolvedConfiguration(
            scope_id=scope_id,
            settings=in_catalogue_order(own),
            resolved_settings=resolve(scope, *found.inherited, own),
        )

    async def get(self, scope: Scope, scope_id: str, caller: str) -> ResolvedConfiguration:
        found = await self._scope(scope, scope_id, caller, Action.READ)
        if found.configuration is None:
            raise ConfigurationNotFound()
        return self._view(scope, scope_id, found, found.configuration.settings)

    async def create(
        self, scope: Scope, scope_id: str, sent: dict[str, Any], caller: str
    ) -> ResolvedConfiguration:
        found = await self._scope(scope, scope_id, caller, Action.MODIFY)
        _checked(scope, sent)
        if found.configuration is not None:
            raise ConfigurationAlreadyExists()
        settings = {name: value for name, value in sent.items() if value is not None}
        configuration = SyncConfiguration(
            id=new_guid(),
            itwin_id=scope_id if scope is Scope.ITWIN else None,
            imodel_id=scope_id if scope is Scope.IMODEL else None,
            connection_id=scope_id if scope is Scope.CONNECTION else None,
            settings=settings,
            created_by=caller,
        )
        try:
            await self.configurations.add(configuration)
        except ConfigurationExists:  # created meanwhile by another request
            raise ConfigurationAlreadyExists() from None
        return self._view(scope, scope_id, found, settings)

    async def update(
        self, scope: Scope, scope_id: str, sent: dict[str, Any], caller: str
    ) -> ResolvedConfiguration:
        """PATCH: the flags named are set, a flag sent as null is unset (inherited again), the rest stays."""
        found = await self._scope(scope, scope_id, caller, Action.MODIFY)
        _checked(scope, sent)
        configuration = found.configuration
        if configuration is None:
            raise ConfigurationNotFound()
        settings = dict(configuration.settings)
        for name, value in sent.items():
            if value is None:
                settings.pop(name, None)
            else:
                settings[name] = value
        configuration.settings = settings
        configuration.modified_at = utc_now()
        await self.configurations.update(configuration)
        return self._view(scope, scope_id, found, settings)

    async def delete(self, scope: Scope, scope_id: str, caller: str) -> None:
        found = await self._scope(scope, scope_id, caller, Action.MODIFY)
        if found.configuration is None:
            raise ConfigurationNotFound()
        await self.configurations.delete(found.configuration)

    async def run_flags(self, connection_id: str) -> RunFlags:
        """What a run of the connection does differently: its configuration, then its iModel's, then its
        iTwin's, read when the run starts (a configuration changed while the run waits applies to it)."""
        found = await self.configurations.read(Scope.CONNECTION, connection_id, subject="")
        if found is None:
            return RunFlags()
        own = found.configuration.settings if found.configuration is not None else {}
        return RunFlags.of(resolve(Scope.CONNECTION, *found.inherited, own))
