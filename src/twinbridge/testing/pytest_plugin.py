"""The pytest plugin that `pip install twinbridge` gives every project (entry point `pytest11`: twinbridge).

Loading it only registers options and fixtures: nothing starts until a test uses a fixture, and every fixture
name starts with `twinbridge_`, so that it clashes with no fixture of the project. The server starts once per
test session, the first time a test needs it; iTwins and iModels are made per test.

Options (command line, or the same name with underscores in the ini file):
- `--twinbridge-scripted` / `twinbridge_scripted = true`: runs follow scripts (by default straight to
  Success) and no engine is started or warmed, so the server is ready in a second or two.
- `twinbridge_env`: lines of `TWINBRIDGE_NAME=value`, more settings for the server.
Reset between tests with `usefixtures = twinbridge_reset` in the ini file (or the marker, per module).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from twinbridge.testing.client import TwinbridgeClient
    from twinbridge.testing.control import ControlApi
    from twinbridge.testing.server import TwinbridgeServer

USER = "twinbridge-test-user"
SERVICE_CLIENT = "twinbridge-test-service"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("twinbridge", "twinbridge test server")
    group.addoption(
        "--twinbridge-scripted",
        action="store_true",
        default=None,
        help="start the twinbridge test server in scripted mode: runs follow scripts, no engine is warmed",
    )
    parser.addini(
        "twinbridge_scripted",
        type="bool",
        default=False,
        help="start the twinbridge test server in scripted mode (as --twinbridge-scripted)",
    )
    parser.addini(
        "twinbridge_env",
        type="linelist",
        default=[],
        help="TWINBRIDGE_NAME=value lines: more settings for the twinbridge test server",
    )


def _server_settings(config: pytest.Config) -> dict[str, str]:
    settings = {}
    for line in config.getini("twinbridge_env"):
        name, separator, value = line.partition("=")
        if not separator or not name.strip().startswith("TWINBRIDGE_"):
            raise pytest.UsageError(f"twinbridge_env: {line!r} is not TWINBRIDGE_NAME=value")
        settings[name.strip()] = value.strip()
    return settings


@pytest.fixture(scope="session")
def twinbridge_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TwinbridgeServer]:
    """A twinbridge served on a free port with a temporary data directory and the control API."""
    from twinbridge.testing.server import TwinbridgeServer

    config = request.config
    option = config.getoption("twinbridge_scripted")
    scripted = bool(config.getini("twinbridge_scripted") if option is None else option)
    server = TwinbridgeServer.start(
        tmp_path_factory.mktemp("twinbridge"), scripted=scripted, settings=_server_settings(config)
    )
    with server:
        yield server


@pytest.fixture(scope="session")
def twinbridge_url(twinbridge_server: TwinbridgeServer) -> str:
    """The server's base URL, e.g. http://127.0.0.1:43125 (the `baseUrl` of an iTwin client)."""
    return twinbridge_server.url


@pytest.fixture(scope="session")
def twinbridge_control(twinbridge_server: TwinbridgeServer) -> ControlApi:
    """The control API: reset, snapshots, scripts and holds, faults, the journal."""
    return twinbridge_server.control


@pytest.fixture(scope="session")
def twinbridge_token(twinbridge_server: TwinbridgeServer) -> Callable[..., str]:
    """Mints tokens of the built-in issuer: `twinbridge_token("bob")`, `(client="app")`, `scope=...`."""
    return twinbridge_server.token


@pytest.fixture(scope="session")
def twinbridge_user_token(twinbridge_server: TwinbridgeServer) -> str:
    """A token of the test user (`twinbridge_user`), scope itwin-platform, valid for a day."""
    return twinbridge_server.token(USER)


@pytest.fixture(scope="session")
def twinbridge_service_token(twinbridge_server: TwinbridgeServer) -> str:
    """A service (client-credentials) token of the test client (`twinbridge_service_client_id`)."""
    return twinbridge_server.token(client=SERVICE_CLIENT)


@pytest.fixture(scope="session")
def twinbridge_user() -> str:
    """The user name of `twinbridge_user_token`: Owner of `twinbridge_itwin`."""
    return USER


@pytest.fixture(scope="session")
def twinbridge_service_client_id() -> str:
    """The client id of `twinbridge_service_token`: Contributor of `twinbridge_itwin`."""
    return SERVICE_CLIENT


@pytest.fixture(scope="session")
def twinbridge_client(
    twinbridge_server: TwinbridgeServer, twinbridge_user_token: str
) -> Iterator[TwinbridgeClient]:
    """An httpx client of the server that sends the test user's token."""
    with twinbridge_server.client(twinbridge_user_token) as client:
        yield client


@pytest.fixture(scope="session")
def twinbridge_service_client(
    twinbridge_server: TwinbridgeServer, twinbridge_service_token: str
) -> Iterator[TwinbridgeClient]:
    """An httpx client of the server that sends the test service client's token."""
    with twinbridge_server.client(twinbridge_service_token) as client:
        yield client


@pytest.fixture
def twinbridge_reset(twinbridge_control: ControlApi) -> None:
    """Empties the server before the test (POST /_twinbridge/reset); `usefixtures` in the ini: every test."""
    twinbridge_control.reset()


@pytest.fixture
def twinbridge_itwin(
    request: pytest.FixtureRequest,
    twinbridge_client: TwinbridgeClient,
    twinbridge_service_client_id: str,
) -> dict[str, Any]:
    """A new iTwin (as `POST /itwins` answers it): the test user is its Owner, the service a Contributor."""
    if "twinbridge_reset" in request.fixturenames:
        # A reset the test asks for comes first, in whatever order the test names its fixtures.
        request.getfixturevalue("twinbridge_reset")
    itwin = twinbridge_client.create_itwin(f"Test iTwin of {request.node.name}"[:255])
    twinbridge_client.add_member(itwin["id"], twinbridge_service_client_id, "Contributor")
    return itwin


@pytest.fixture(scope="session")
def twinbridge_sample_imodel_path() -> Path:
    """The .bim that `twinbridge_imodel` imports: the smallest public sample, shipped with twinbridge."""
    from twinbridge.testing.server import SAMPLE_IMODEL

    return SAMPLE_IMODEL


@pytest.fixture
def twinbridge_imodel(
    twinbridge_server: TwinbridgeServer,
    twinbridge_client: TwinbridgeClient,
    twinbridge_itwin: dict[str, Any],
    twinbridge_sample_imodel_path: Path,
) -> dict[str, Any]:
    """A new iModel of `twinbridge_itwin` from the sample snapshot (the body of `GET /imodels/{id}`)."""
    from twinbridge.testing.errors import expect

    imodel_id = twinbridge_server.import_imodel(
        twinbridge_itwin["id"], twinbridge_sample_imodel_path, name="Sample iModel"
    )
    imodel: dict[str, Any] = expect(twinbridge_client.get(f"/imodels/{imodel_id}"), 200).json()["iModel"]
    return imodel
