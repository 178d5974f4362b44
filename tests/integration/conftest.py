"""Fixtures that run twinbridge as a user would: the installed CLI, and `twinbridge serve` as a subprocess."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from twinbridge.engines.imodel.generator import generate_imodel
from twinbridge.testing.server import free_port, stop_process


def twinbridge_command() -> list[str]:
    script = Path(sys.executable).parent / "twinbridge"
    if script.exists():
        return [str(script)]
    found = shutil.which("twinbridge")
    return [found] if found else [sys.executable, "-m", "twinbridge.cli"]


@pytest.fixture
def environment(tmp_path: Path, database_url: str | None) -> dict[str, str]:
    """The environment of a new user's shell: a data dir of its own and, for PostgreSQL, its URL."""
    values = {key: value for key, value in os.environ.items() if not key.startswith("TWINBRIDGE_")}
    values["TWINBRIDGE_DATA_DIR"] = str(tmp_path / "data")
    if database_url:
        values["TWINBRIDGE_DATABASE_URL"] = database_url
    return values


@pytest.fixture
def cli(environment: dict[str, str]) -> Callable[..., subprocess.CompletedProcess[str]]:
    def run(
        *arguments: str, check: bool = True, extra_env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [*twinbridge_command(), *arguments],
            env={**environment, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"twinbridge {' '.join(arguments)} failed:\n{result.stderr}")
        return result

    return run


@dataclass
class Server:
    url: str
    process: subprocess.Popen[str]
    log: Path


def start_server(
    environment: dict[str, str],
    log: Path,
    extra_env: dict[str, str] | None = None,
    *,
    process_group: bool = False,
    port: int | None = None,
) -> Server:
    """Starts `twinbridge serve` on a free port (or `port`) and waits until /health answers.

    `process_group`: in a process group of its own, as a terminal runs a command (a Ctrl-C reaches the group).
    `port`: for a caller that must know the address first, e.g. to set TWINBRIDGE_PUBLIC_URL.
    """
    port = port or free_port()
    with log.open("a") as log_file:
        process = subprocess.Popen(
            [*twinbridge_command(), "serve", "--port", str(port)],
            env={**environment, **(extra_env or {})},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=process_group,
        )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        if process.poll() is not None:
            raise AssertionError(f"twinbridge serve exited early:\n{log.read_text()}")
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                return Server(url=url, process=process, log=log)
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            process.kill()
            raise AssertionError(f"twinbridge serve did not become healthy:\n{log.read_text()}")
        time.sleep(0.2)


def stop_server(server: Server) -> None:
    stop_process(server.process)


@pytest.fixture
def server(environment: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    running = start_server(environment, tmp_path / "serve.log")
    yield running
    stop_server(running)


@pytest.fixture(scope="session")
def slow_imodel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An iModel whose export takes many seconds even on a fast machine: a run of it stays active (long
    enough to be seen Executing, or cancelled). Generated once for every test that needs one."""
    path = tmp_path_factory.mktemp("generated") / "slow.bim"
    generate_imodel(path, elements=20000, models=3, categories=4, seed=3)
    return path
