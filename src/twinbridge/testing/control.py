"""The control API of a test server (`/_twinbridge/...`, served when TWINBRIDGE_CONTROL_API is set).

Control operations take no token, like LocalStack's and moto's. The methods return the parsed bodies as the
server gives them; README.md's "Control API" section says what each operation takes and answers.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from twinbridge.control.access import CONTROL_PREFIX
from twinbridge.testing.errors import expect


class ControlApi:
    """Reset, snapshots, scripted runs and holds, faults and the request journal of one server."""

    def __init__(self, base_url: str) -> None:
        self.http = httpx.Client(base_url=f"{base_url}{CONTROL_PREFIX}", timeout=60)

    def close(self) -> None:
        self.http.close()

    def reset(self, timeout: float = 30) -> None:
        """Empties the server: every iTwin, iModel, file, connection and run is gone.

        The server refuses while a run executes (409 RunsInProgress): a run a failed test left behind. Then
        every hold is released and the reset tried again until `timeout`, so that the next tests still start
        from an empty server.
        """
        deadline = time.monotonic() + timeout
        while True:
            response = self.http.post("/reset")
            if response.status_code != 409 or time.monotonic() > deadline:
                expect(response, 204)
                return
            for hold in self.holds()["holds"]:
                self.http.post(f"/holds/{hold['runId']}/release")  # 404 when it ended meanwhile: fine
            time.sleep(0.1)

    def save_snapshot(self, name: str) -> Any:
        """Saves the whole state (database and stored files) under `name`."""
        return expect(self.http.post("/snapshots", json={"name": name}), 201).json()

    def snapshots(self) -> Any:
        return expect(self.http.get("/snapshots"), 200).json()

    def restore_snapshot(self, name: str) -> None:
        expect(self.http.post(f"/snapshots/{name}/restore"), 204)

    def delete_snapshot(self, name: str) -> None:
        expect(self.http.delete(f"/snapshots/{name}"), 204)

    def add_script(self, rule: dict[str, Any]) -> Any:
        """Adds a scripted-run rule (which runs it matches, the states they go through, how they end)."""
        return expect(self.http.post("/scripts", json=rule), 201).json()

    def scripts(self) -> Any:
        return expect(self.http.get("/scripts"), 200).json()

    def remove_script(self, script_id: str) -> None:
        expect(self.http.delete(f"/scripts/{script_id}"), 204)

    def clear_scripts(self) -> None:
        expect(self.http.delete("/scripts"), 204)

    def holds(self) -> Any:
        """The runs that scripts hold now: `{"holds": [{"runId", "state", "scriptId"}, ...]}`."""
        return expect(self.http.get("/holds"), 200).json()

    def wait_until_held(self, run_id: str, timeout: float = 30) -> dict[str, Any]:
        """Waits until a script holds the run (it may still be queued when started); returns its hold."""
        deadline = time.monotonic() + timeout
        while True:
            for hold in self.holds()["holds"]:
                if hold["runId"] == run_id:
                    held: dict[str, Any] = hold
                    return held
            if time.monotonic() > deadline:
                raise TimeoutError(f"run {run_id} is not held after {timeout} s")
            time.sleep(0.05)

    def release_hold(self, run_id: str) -> None:
        """Lets a run that a script holds in a state go on."""
        expect(self.http.post(f"/holds/{run_id}/release"), 204)

    def add_fault(self, rule: dict[str, Any]) -> Any:
        """Adds a fault rule (which requests it matches, and the answer, latency or dropped connection)."""
        return expect(self.http.post("/faults", json=rule), 201).json()

    def faults(self) -> Any:
        return expect(self.http.get("/faults"), 200).json()

    def remove_fault(self, fault_id: str) -> None:
        expect(self.http.delete(f"/faults/{fault_id}"), 204)

    def clear_faults(self) -> None:
        expect(self.http.delete("/faults"), 204)

    def journal(self, *, top: int | None = None, **filters: str) -> Any:
        """The last requests the server answered, newest first: `{"entries": [...]}`.

        `filters`: the journal's query parameters (method, path, operationId, status, caller); `top`: $top.
        """
        params: dict[str, str | int] = {**filters, **({"$top": top} if top is not None else {})}
        return expect(self.http.get("/journal", params=params), 200).json()

    def clear_journal(self) -> None:
        expect(self.http.delete("/journal"), 204)
