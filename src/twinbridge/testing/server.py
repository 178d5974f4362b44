"""A twinbridge server for another project's tests: `twinbridge serve` in a subprocess of its own.

The server gets a free port, a data directory of its own and the control API; the CLI commands that need the
server's data directory (tokens, iModel imports) run against the same directory. Nothing here needs pytest:
the pytest plugin builds on it, and a test suite of another framework can use it directly.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from twinbridge.testing.client import TwinbridgeClient
from twinbridge.testing.control import ControlApi
from twinbridge.testing.errors import TwinbridgeTestingError

# The smallest public sample iModel ("Empty Test iModel": three elements), shipped in the package so that an
# installed twinbridge can import it (samples/SOURCES.md says where it comes from).
SAMPLE_IMODEL = Path(__file__).resolve().parent / "samples" / "213d69e0-9a83-4e3f-942d-694e94c9f905m.bim"


def free_port() -> int:
    """A port free on 127.0.0.1 now (the operating system's choice, so parallel test runs do not collide)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_process(process: subprocess.Popen[Any]) -> None:
    """SIGTERM, so that the server stops its workers; SIGKILL if it has not ended 20 s later."""
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def server_environment(data_dir: Path, *, scripted: bool, settings: Mapping[str, str]) -> dict[str, str]:
    """The process environment of the server and of its CLI commands.

    The caller's own TWINBRIDGE_* variables are left out, so that a developer's shell (say, a database URL
    for their local server) cannot change the test server; `settings` adds or overrides any of them.
    """
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TWINBRIDGE_")}
    environment.update(
        {
            "TWINBRIDGE_DATA_DIR": str(data_dir),
            "TWINBRIDGE_CONTROL_API": "1",
            # A test suite that sends many requests should not meet the per-caller rate limit by chance;
            # faults of the control API answer 429 when a test asks for it.
            "TWINBRIDGE_RATE_LIMIT": "none",
        }
    )
    if scripted:
        environment["TWINBRIDGE_SCRIPTED_RUNS_ONLY"] = "1"
    environment.update(settings)
    return environment


class TwinbridgeServer:
    """A served twinbridge on 127.0.0.1 and a free port; `stop()` (or leaving its `with` block) ends it."""

    def __init__(self, url: str, data_dir: Path, environment: dict[str, str], log_path: Path) -> None:
        self.url = url
        self.data_dir = data_dir
        self.environment = environment
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.control = ControlApi(url)

    @classmethod
    def start(
        cls,
        directory: Path,
        *,
        scripted: bool = False,
        settings: Mapping[str, str] | None = None,
        timeout: float = 120,
    ) -> TwinbridgeServer:
        """Starts `twinbridge serve` with its data in `directory`/data and waits until /health answers.

        `scripted`: runs follow scripts (by default straight to Success) and no engine is started or warmed.
        `settings`: more TWINBRIDGE_* variables for the server, e.g. {"TWINBRIDGE_WORKERS": "1"}.
        """
        directory.mkdir(parents=True, exist_ok=True)
        port = free_port()
        server = cls(
            f"http://127.0.0.1:{port}",
            directory / "data",
            server_environment(directory / "data", scripted=scripted, settings=settings or {}),
            directory / "serve.log",
        )
        with server.log_path.open("ab") as log:
            # The working directory is the server's own, so that a .env file of the caller's is not read.
            server.process = subprocess.Popen(
                [*_command(), "serve", "--port", str(port), "--log-level", "warning"],
                env=server.environment,
                cwd=directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        server._wait_until_healthy(timeout)
        return server

    def _wait_until_healthy(self, timeout: float) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise TwinbridgeTestingError(f"twinbridge serve exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TwinbridgeTestingError(
                    f"twinbridge serve did not answer /health within {timeout} s:\n{self.log()}"
                )
            time.sleep(0.1)

    def stop(self) -> None:
        """Ends the server and closes the control API's client."""
        self.control.close()
        if self.process is not None:
            stop_process(self.process)

    def __enter__(self) -> TwinbridgeServer:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def log(self) -> str:
        """What the server wrote so far (warnings and errors)."""
        return self.log_path.read_text(errors="replace") if self.log_path.is_file() else ""

    def cli(self, *arguments: str) -> str:
        """Runs `twinbridge ARGUMENTS...` on the server's data directory; returns its stdout, stripped."""
        result = subprocess.run(
            [*_command(), *arguments],
            env=self.environment,
            cwd=self.log_path.parent,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if result.returncode != 0:
            raise TwinbridgeTestingError(f"twinbridge {' '.join(arguments)} failed:\n{result.stderr}")
        return result.stdout.strip()

    def token(
        self,
        user: str | None = None,
        *,
        client: str | None = None,
        scope: str = "itwin-platform",
        ttl: int = 24 * 3600,
    ) -> str:
        """An access token of the server's built-in issuer: for `user`, or a service token for `client`."""
        subject = ["--user", user] if user is not None else ["--client", client or ""]
        return self.cli("token", *subject, "--scope", scope, "--ttl", str(ttl))

    def import_imodel(self, itwin_id: str, path: Path = SAMPLE_IMODEL, name: str | None = None) -> str:
        """Registers a .bim snapshot (by default the shipped empty sample) as an iModel; returns its id."""
        return self.cli("imodels", "import", itwin_id, str(path), *(["--name", name] if name else []))

    def client(self, token: str | None = None) -> TwinbridgeClient:
        """An HTTP client of this server; with `token`, every request carries it."""
        return TwinbridgeClient(self.url, token)


def _command() -> list[str]:
    """The CLI of the interpreter that runs the tests, so that the server is the installed twinbridge."""
    return [sys.executable, "-m", "twinbridge.cli"]
