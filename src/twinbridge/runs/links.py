"""Where a run lives on the wire; a 303 may point at another connection's run, even of the other API."""

from __future__ import annotations

from typing import Any, Protocol

from twinbridge.db.models import Run
from twinbridge.runs.states import RunKind

RUN_PATHS = {
    RunKind.EXPORT: "/export/connections/{connection}/runs/{run}",
    RunKind.MANIFEST: "/synchronization/imodels/manifestconnections/{connection}/runs/{run}",
    RunKind.STORAGE: "/synchronization/imodels/storageconnections/{connection}/runs/{run}",
}


def run_location(base_url: str, kind: RunKind | str, connection_id: str, run_id: str) -> str:
    return base_url + RUN_PATHS[RunKind(kind)].format(connection=connection_id, run=run_id)


def location_of(base_url: str, run: Run) -> str:
    return run_location(base_url, run.kind, run.connection_id, run.id)


class ConnectionLike(Protocol):
    @property
    def id(self) -> str: ...
    @property
    def display_name(self) -> str: ...
    @property
    def imodel_id(self) -> str: ...
    @property
    def itwin_id(self) -> str: ...
    @property
    def authentication_type(self) -> str: ...
    @property
    def last_run_id(self) -> str | None: ...


def connection_body(connection: ConnectionLike, kind: RunKind | str, base_url: str) -> dict[str, Any]:
    """An Export or Synchronization connection: the same shape, `lastRun` only once a run exists."""
    links: dict[str, Any] = {
        "iModel": {"href": f"{base_url}/imodels/{connection.imodel_id}"},
        "iTwin": {"href": f"{base_url}/itwins/{connection.itwin_id}"},
    }
    if connection.last_run_id is not None:
        links["lastRun"] = {"href": run_location(base_url, kind, connection.id, connection.last_run_id)}
    return {
        "id": connection.id,
        "displayName": connection.display_name,
        "iModelId": connection.imodel_id,
        "iTwinId": connection.itwin_id,
        "authenticationType": connection.authentication_type,
        "_links": links,
    }
