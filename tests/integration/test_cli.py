"""The CLI as documented in ARCHITECTURE.md section 1: ids and tokens alone on stdout, clear errors."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import jwt
import pytest

from tests.conftest import SAMPLE_IMODELS
from tests.integration.conftest import Server
from twinbridge.db.migrate import head_revision
from twinbridge.platform.ids import is_guid

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["token"],
        ["itwins", "create"],
        ["itwins", "add-member"],
        ["imodels", "import"],
        ["db", "upgrade"],
        ["clients", "create"],
    ],
)
def test_every_command_has_help(cli: Cli, command: list[str]) -> None:
    result = cli(*command, "--help")
    assert "Usage" in result.stdout


def test_itwins_create_prints_only_the_new_id(cli: Cli) -> None:
    output = cli("itwins", "create", "Plant", "--owner", "alice").stdout
    assert is_guid(output.strip())
    assert output.count("\n") == 1


def test_imodels_import_registers_a_sample_and_prints_its_id(cli: Cli) -> None:
    itwin_id = cli("itwins", "create", "Plant", "--owner", "alice").stdout.strip()
    output = cli(
        "imodels", "import", itwin_id, str(SAMPLE_IMODELS / "Building Blocks.bim"), "--name", "Blocks"
    )
    assert is_guid(output.stdout.strip())


def test_importing_a_file_that_is_not_an_imodel_fails_with_the_reason(cli: Cli) -> None:
    itwin_id = cli("itwins", "create", "Plant").stdout.strip()
    result = cli("imodels", "import", itwin_id, str(SAMPLE_IMODELS.parent / "ifc" / "test.ifc"), check=False)
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.strip() == "error: The file is not an iModel: it is not an SQLite database."


def test_importing_into_an_unknown_itwin_fails_clearly(cli: Cli) -> None:
    result = cli("imodels", "import", "nope", str(SAMPLE_IMODELS / "Building Blocks.bim"), check=False)
    assert result.returncode == 1
    assert "Requested iTwin is not available." in result.stderr
    assert "Traceback" not in result.stderr


def test_add_member_rejects_unknown_roles(cli: Cli) -> None:
    itwin_id = cli("itwins", "create", "Plant").stdout.strip()
    result = cli("itwins", "add-member", itwin_id, "bob", "--role", "Admin", check=False)
    assert result.returncode != 0
    assert "Admin" in result.stderr


def test_token_prints_a_user_token_alone_with_the_requested_claims(cli: Cli) -> None:
    output = cli("token", "--user", "alice", "--scope", "export:read export:modify", "--ttl", "120").stdout
    token = output.strip()
    assert output == token + "\n"
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (claims["sub"], claims["scope"], claims["exp"] - claims["iat"]) == (
        "alice",
        "export:read export:modify",
        120,
    )


def test_client_token_is_a_service_token(cli: Cli) -> None:
    claims = jwt.decode(
        cli("token", "--client", "ci-bot").stdout.strip(), options={"verify_signature": False}
    )
    assert claims["sub"] == claims["client_id"] == "ci-bot"


def test_token_with_a_scope_no_api_accepts_is_printed_alone_with_a_warning(cli: Cli) -> None:
    result = cli("token", "--user", "alice", "--scope", "openid profile")
    token = result.stdout.strip()
    assert result.stdout == token + "\n"
    assert jwt.decode(token, options={"verify_signature": False})["scope"] == "openid profile"
    assert result.stderr.startswith("warning: no scope the APIs accept (export:modify, ")
    assert "the APIs answer this token 401" in result.stderr


def test_token_with_one_accepted_scope_among_others_has_no_warning(cli: Cli) -> None:
    result = cli("token", "--client", "ci-bot", "--scope", "openid export:read")
    assert (
        jwt.decode(result.stdout.strip(), options={"verify_signature": False})["scope"]
        == "openid export:read"
    )
    assert result.stderr == ""


def test_a_token_without_an_accepted_scope_gets_401_from_the_apis(server: Server, cli: Cli) -> None:
    itwin_id = cli("itwins", "create", "Plant", "--owner", "alice").stdout.strip()
    token = cli("token", "--user", "alice", "--scope", "openid").stdout.strip()
    response = httpx.get(f"{server.url}/itwins/{itwin_id}", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    error = response.json()["error"]
    assert error["code"] == "RequiredScopeMissing"
    assert error["details"][0]["code"] == "InsufficientScope"
    exports = httpx.get(
        f"{server.url}/export/connections",
        params={"imodelId": "x"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert exports.status_code == 401
    assert exports.json()["error"]["code"] == "RequiredScopeMissing"


def test_token_needs_exactly_one_of_user_or_client(cli: Cli) -> None:
    assert cli("token", check=False).returncode == 1
    assert cli("token", "--user", "a", "--client", "b", check=False).returncode == 1


def test_clients_create_keeps_an_existing_secret_unless_told_to_rotate(cli: Cli) -> None:
    first = cli("clients", "create", "ci-bot").stdout.strip()
    again = cli("clients", "create", "ci-bot", check=False)
    assert again.returncode == 1
    assert again.stdout == ""
    assert "registered already; its secret was not changed" in again.stderr
    assert "--rotate" in again.stderr
    rotated = cli("clients", "create", "ci-bot", "--rotate").stdout.strip()
    assert rotated
    assert rotated != first


def test_clients_create_refuses_an_unknown_scope(cli: Cli) -> None:
    result = cli("clients", "create", "ci-bot", "--scope", "everything", check=False)
    assert result.returncode == 1
    assert "Unknown scope(s) everything" in result.stderr


def test_db_upgrade_is_idempotent(cli: Cli) -> None:
    first = cli("db", "upgrade")
    second = cli("db", "upgrade")
    assert f"database at revision {head_revision()}" in first.stderr
    assert first.stderr == second.stderr


@pytest.mark.parametrize("command", [["serve", "--port", "0"], ["worker"]])
def test_celery_queue_without_a_broker_fails_in_one_clear_line(cli: Cli, command: list[str]) -> None:
    result = cli(*command, check=False, extra_env={"TWINBRIDGE_QUEUE": "celery"})
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "error: TWINBRIDGE_QUEUE=celery needs TWINBRIDGE_BROKER_URL (e.g. redis://127.0.0.1:6379/0)"
    ]


def test_the_data_dir_a_command_makes_is_private_to_its_user(
    cli: Cli, environment: dict[str, str], database_url: str | None
) -> None:
    data = Path(environment["TWINBRIDGE_DATA_DIR"])
    cli("itwins", "create", "Plant", "--owner", "alice")
    cli("token", "--user", "alice")
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    assert stat.S_IMODE((data / "issuer" / "signing-key.pem").stat().st_mode) == 0o600
    created = [path for path in data.rglob("*") if path.is_file()]
    assert created
    assert all(stat.S_IMODE(path.stat().st_mode) & 0o077 == 0 for path in created), created
    if database_url is None:
        assert stat.S_IMODE((data / "twinbridge.db").stat().st_mode) == 0o600
