"""All SQL of Synchronization configurations.

A scope's resource (iTwin, iModel or connection), the caller's role on its iTwin, its configuration and the
configurations of the scopes above it come in one statement, so that a GET is one statement.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from twinbridge.db.database import IntegrityError, Transaction
from twinbridge.db.models import SyncConfiguration
from twinbridge.db.tables import Table
from twinbridge.itwins.repository import role_of_subject
from twinbridge.synchronization.configurations.flags import Scope

CONFIGURATIONS = Table("sync_configurations", SyncConfiguration)
# Per scope: its table, the caller's role on its iTwin, the configuration's column naming it, and the
# scopes above it with the condition that finds their configuration (highest first).
_SOURCES: dict[Scope, tuple[str, str, str, tuple[tuple[str, str], ...]]] = {
    Scope.ITWIN: (
        "itwins",
        "(SELECT role FROM itwin_members m WHERE m.itwin_id = t.id AND m.subject = :subject)",
        "itwin_id",
        (),
    ),
    Scope.IMODEL: (
        "imodels",
        role_of_subject("t"),
        "imodel_id",
        (("w", "w.itwin_id = t.itwin_id"),),
    ),
    Scope.CONNECTION: (
        "sync_connections",
        role_of_subject("t"),
        "connection_id",
        (("w", "w.itwin_id = t.itwin_id"), ("m", "m.imodel_id = t.imodel_id")),
    ),
}


def _read_sql(scope: Scope) -> str:
    table, role, column, above = _SOURCES[scope]
    inherited = "".join(f", {alias}.settings" for alias, _ in above)
    joins = "".join(f" LEFT JOIN sync_configurations {alias} ON {condition}" for alias, condition in above)
    return (
        f"SELECT {role}, {CONFIGURATIONS.select('c')}{inherited} FROM {table} t"
        f" LEFT JOIN sync_configurations c ON c.{column} = t.id{joins} WHERE t.id = :id"
    )


_READS = {scope: _read_sql(scope) for scope in Scope}


class ConfigurationExists(Exception):
    """The scope has a configuration already (or its resource went away meanwhile)."""


@dataclass(frozen=True, slots=True)
class ScopeConfiguration:
    """A scope as its configuration sees it: the caller's role, the configuration if there is one, and the
    settings of the configurations above it that exist (highest scope first)."""

    role: str | None
    configuration: SyncConfiguration | None
    inherited: tuple[dict[str, Any], ...]


class ConfigurationRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def read(self, scope: Scope, scope_id: str, subject: str) -> ScopeConfiguration | None:
        """None when there is no iTwin, iModel or connection `scope_id`."""
        row = await self.transaction.one(_READS[scope], {"id": scope_id, "subject": subject})
        if row is None:
            return None
        width = len(CONFIGURATIONS.columns)
        own = row[1 : 1 + width]
        configuration = CONFIGURATIONS.row(own) if own[0] is not None else None
        inherited = tuple(settings for settings in row[1 + width :] if settings is not None)
        return ScopeConfiguration(row[0], configuration, inherited)

    async def add(self, configuration: SyncConfiguration) -> SyncConfiguration:
        try:
            await self.transaction.execute(CONFIGURATIONS.insert_sql, CONFIGURATIONS.values(configuration))
        except IntegrityError:
            raise ConfigurationExists() from None
        return configuration

    async def update(self, configuration: SyncConfiguration) -> SyncConfiguration:
        await self.transaction.execute(CONFIGURATIONS.update_sql, CONFIGURATIONS.values(configuration))
        return configuration

    async def delete(self, configuration: SyncConfiguration) -> None:
        await self.transaction.execute(CONFIGURATIONS.delete_sql, {"id": configuration.id})
