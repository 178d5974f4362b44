"""Bentley's published npm clients, unchanged but for the base URL, against a served twinbridge.

Each test starts `twinbridge serve` (on SQLite and on PostgreSQL), prepares with the CLI what its scenario
needs (a service client, iTwins, an iModel), and runs one test file of the Node harness in tests/clients
with `node --test`. The values a scenario needs reach Node as CLIENT_TESTS_* environment variables; when a
scenario fails, Node's report (each step and the server's answer) and the end of the server's log are the
failure message. tests/clients/README.md says what each file covers and how to run one by hand.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import EMPTY_IMODEL, IN_CI, SAMPLE_IFC
from tests.integration.conftest import Server, free_port, start_server, stop_server

pytestmark = pytest.mark.e2e

Cli = Callable[..., subprocess.CompletedProcess[str]]
HARNESS = Path(__file__).resolve().parents[1] / "clients"
SERVICE_CLIENT_ID = "bentley-clients-harness"
# The public (native) client id the interactive sign-in uses, and the user the built-in issuer signs in.
NATIVE_CLIENT_ID = "native-twinbridge-client-tests"
SIGN_IN_USER = "alice"
SAMPLE_IFC_FILE = SAMPLE_IFC / "pass-sps005-250612_wall_with_window.ifc"
# One step of a scenario (a Node test) may take this long; the synchronization run is the slowest.
NODE_TEST_TIMEOUT_MS = 240_000
SCENARIO_TIMEOUT_SECONDS = 900
# Variables that would send the clients' loopback requests elsewhere, or open a real browser.
NODE_ENV_DROPPED = re.compile(
    r"^(TWINBRIDGE_.*|CLIENT_TESTS_.*|https?_proxy|all_proxy|IMJS_.*|DISPLAY|WAYLAND_DISPLAY|BROWSER)$",
    re.IGNORECASE,
)


def _harness_missing() -> str | None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are not installed (Node 20 or later runs Bentley's clients)"
    version = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False).stdout
    match = re.match(r"v(\d+)\.", version)
    if not match or int(match.group(1)) < 20:
        return f"Bentley's clients need Node 20 or later; node --version says {version.strip()!r}"
    if not (HARNESS / "node_modules" / ".package-lock.json").is_file():
        return "the client harness is not installed: run `make node-setup` (npm ci in tests/clients)"
    return None


@pytest.fixture(scope="module")
def node_harness() -> Path:
    """tests/clients with its npm packages; skipped without them, except under CI=true where that fails."""
    reason = _harness_missing()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason}; CI=true requires the client harness")
        pytest.skip(reason)
    return HARNESS


@dataclass
class ClientsServer:
    """A served twinbridge with a registered service client, and what Node is told about it."""

    server: Server
    cli: Cli
    data_dir: Path
    variables: dict[str, str] = field(default_factory=dict)

    def itwin_owned_by(self, owner: str, name: str) -> str:
        return self.cli("itwins", "create", name, "--owner", owner).stdout.strip()

    def import_imodel(self, itwin_id: str, name: str) -> str:
        return self.cli("imodels", "import", itwin_id, str(EMPTY_IMODEL), "--name", name).stdout.strip()


@pytest.fixture
def clients_server(
    node_harness: Path, environment: dict[str, str], cli: Cli, tmp_path: Path
) -> Iterator[ClientsServer]:
    """`twinbridge serve` at a known port (its links name it), with the service client of scenario 1."""
    secret = cli("clients", "create", SERVICE_CLIENT_ID).stdout.strip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    extra = {"TWINBRIDGE_PUBLIC_URL": url, "TWINBRIDGE_SIGN_IN_USER": SIGN_IN_USER}
    running = start_server(environment, tmp_path / "serve.log", extra, port=port)
    data_dir = Path(environment["TWINBRIDGE_DATA_DIR"])
    variables = {
        "CLIENT_TESTS_SERVER_URL": url,
        "CLIENT_TESTS_CLIENT_ID": SERVICE_CLIENT_ID,
        "CLIENT_TESTS_CLIENT_SECRET": secret,
    }
    yield ClientsServer(running, cli, data_dir, variables)
    stop_server(running)


def _node_environment(variables: dict[str, str]) -> dict[str, str]:
    kept = {name: value for name, value in os.environ.items() if not NODE_ENV_DROPPED.match(name)}
    return {**kept, **variables}


def _log_tail(log: Path, lines: int = 60) -> str:
    if not log.is_file():
        return "(no server log)"
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _counts(report: str) -> dict[str, int]:
    """The summary lines of node's spec reporter (an information sign, then e.g. "tests 5", "pass 5")."""
    return {name: int(count) for name, count in re.findall(r"^\u2139 (\w+) (\d+)$", report, re.MULTILINE)}


def run_scenario(clients: ClientsServer, test_file: str, variables: dict[str, str]) -> None:
    """Runs one Node test file; fails with Node's report and the server log unless every step passed."""
    command = [
        "node",
        "--test",
        "--test-reporter=spec",
        f"--test-timeout={NODE_TEST_TIMEOUT_MS}",
        "--test-force-exit",
        test_file,
    ]
    environment = _node_environment({**clients.variables, **variables})
    try:
        result = subprocess.run(
            command,
            cwd=HARNESS,
            env=environment,
            capture_output=True,
            text=True,
            timeout=SCENARIO_TIMEOUT_SECONDS,
            check=False,
        )
        report, status = result.stdout + result.stderr, f"exit {result.returncode}"
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"", expired.stderr or b"")
        report = "".join(
            part.decode(errors="replace") if isinstance(part, bytes) else part for part in output
        )
        status = f"killed after {SCENARIO_TIMEOUT_SECONDS} s"
    counts = _counts(report)
    if status == "exit 0" and counts.get("tests", 0) > 0 and counts.get("pass") == counts.get("tests"):
        sys.stdout.write(report)  # shown with -rP / on -s
        return
    pytest.fail(
        f"node --test {test_file} ({status}):\n{report}\n"
        f"--- end of the server log ({clients.server.log}) ---\n{_log_tail(clients.server.log)}",
        pytrace=False,
    )


def test_service_authorization_client_signs_in_and_its_token_works_with_the_clients(
    clients_server: ClientsServer,
) -> None:
    itwin_id = clients_server.itwin_owned_by(SERVICE_CLIENT_ID, "Service client's iTwin")
    imodel_id = clients_server.import_imodel(itwin_id, "Service client's iModel")
    run_scenario(
        clients_server,
        "service-sign-in.test.js",
        {
            "CLIENT_TESTS_ITWIN_ID": itwin_id,
            "CLIENT_TESTS_ITWIN_NAME": "Service client's iTwin",
            "CLIENT_TESTS_IMODEL_ID": imodel_id,
            "CLIENT_TESTS_IMODEL_NAME": "Service client's iModel",
        },
    )


def test_node_cli_authorization_client_signs_in_through_a_browser_and_refreshes(
    clients_server: ClientsServer,
) -> None:
    itwin_id = clients_server.itwin_owned_by(SIGN_IN_USER, "Alice's iTwin")
    run_scenario(
        clients_server,
        "interactive-sign-in.test.js",
        {
            "CLIENT_TESTS_NATIVE_CLIENT_ID": NATIVE_CLIENT_ID,
            "CLIENT_TESTS_SIGN_IN_USER": SIGN_IN_USER,
            "CLIENT_TESTS_USER_ITWIN_ID": itwin_id,
            "CLIENT_TESTS_USER_ITWIN_NAME": "Alice's iTwin",
        },
    )


def test_itwins_client_creates_reads_queries_updates_and_deletes_itwins(
    clients_server: ClientsServer,
) -> None:
    run_scenario(clients_server, "itwins.test.js", {})


def test_imodels_clients_create_update_list_version_and_download_imodels(
    clients_server: ClientsServer,
) -> None:
    itwin_id = clients_server.itwin_owned_by(SERVICE_CLIENT_ID, "iModels clients' iTwin")
    run_scenario(
        clients_server,
        "imodels.test.js",
        {
            "CLIENT_TESTS_ITWIN_ID": itwin_id,
            "CLIENT_TESTS_SAMPLE_IMODEL": str(EMPTY_IMODEL),
            "CLIENT_TESTS_SAMPLE_IFC": str(SAMPLE_IFC_FILE),
            "CLIENT_TESTS_BLOB_DIR": str(clients_server.data_dir / "blobs"),
        },
    )


def test_storage_calls_of_the_itwin_cli_manage_folders_and_file_content(
    clients_server: ClientsServer,
) -> None:
    itwin_id = clients_server.itwin_owned_by(SERVICE_CLIENT_ID, "Storage iTwin")
    run_scenario(clients_server, "storage.test.js", {"CLIENT_TESTS_ITWIN_ID": itwin_id})


def test_synchronization_api_accepts_the_service_clients_token(clients_server: ClientsServer) -> None:
    itwin_id = clients_server.itwin_owned_by(SERVICE_CLIENT_ID, "Synchronization iTwin")
    imodel_id = clients_server.import_imodel(itwin_id, "Synchronization target")
    run_scenario(
        clients_server,
        "synchronization.test.js",
        {
            "CLIENT_TESTS_ITWIN_ID": itwin_id,
            "CLIENT_TESTS_IMODEL_ID": imodel_id,
            "CLIENT_TESTS_SAMPLE_IFC": str(SAMPLE_IFC_FILE),
        },
    )
