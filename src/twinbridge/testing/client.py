"""An HTTP client of a test server, with the few steps nearly every integration test takes."""

from __future__ import annotations

import time
from typing import Any

import httpx

from twinbridge.testing.errors import expect

# Runs that are done have this state; their `result` says how they ended.
COMPLETED = "Completed"


class TwinbridgeClient(httpx.Client):
    """An `httpx.Client` on the server's base URL that sends `token` (when given) as a bearer token."""

    def __init__(self, base_url: str, token: str | None = None, **options: Any) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        super().__init__(base_url=base_url, headers=headers, timeout=30, **options)
        self.token = token

    def create_itwin(self, display_name: str = "Test iTwin", **properties: Any) -> dict[str, Any]:
        """Creates an iTwin (`POST /itwins`; the caller becomes its Owner) and returns it."""
        response = self.post("/itwins", json={"displayName": display_name, **properties})
        itwin: dict[str, Any] = expect(response, 201).json()["iTwin"]
        return itwin

    def add_member(self, itwin_id: str, subject: str, role: str = "Contributor") -> None:
        """Gives a user name or service client id a role on an iTwin (the caller must be its Owner)."""
        response = self.post(f"/itwins/{itwin_id}/members", json={"subject": subject, "role": role})
        expect(response, 201)

    def start_export_run(self, imodel_id: str, **run: Any) -> str:
        """Creates an export connection of the iModel and starts an IFC run of it; returns the run's URL.

        `run`: more properties of the run's body, e.g. `ifcVersion="IFC2x3"`.
        """
        connection = expect(self.post("/export/connections", json={"iModelId": imodel_id}), 201)
        connection_id = connection.json()["connection"]["id"]
        started = self.post(f"/export/connections/{connection_id}/runs", json={"exportType": "IFC", **run})
        return expect(started, 202).headers["location"]

    def wait_for_run(self, url: str, timeout: float = 60, interval: float = 0.1) -> dict[str, Any]:
        """Polls a run (its URL, e.g. a 202's `Location`) until its state is Completed; returns the run."""
        deadline = time.monotonic() + timeout
        while True:
            run: dict[str, Any] = expect(self.get(url), 200).json()["run"]
            if run["state"] == COMPLETED:
                return run
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {url} is still {run['state']} after {timeout} s")
            time.sleep(interval)
