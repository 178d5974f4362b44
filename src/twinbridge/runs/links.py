"""Where a run lives on the wire; a 303 may point at another connection's run, even of the other API."""

from __future__ import annotations

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
