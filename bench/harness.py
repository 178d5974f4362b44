"""What the benchmarks share: starting twinbridge commands, and a small blocking HTTP client.

Benchmarks run as scripts (`python bench/bench_x.py`), so their own folder is on sys.path and they import
this module as `harness`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HOST = "127.0.0.1"
SERVER_START_SECONDS = 90.0
POSTGRES_ADMIN_URL = os.environ.get(
    "TWINBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def note(message: str) -> None:
    print(f"# {message}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


def twinbridge_command() -> list[str]:
    script = Path(sys.executable).parent / "twinbridge"
    if script.exists():
        return [str(script)]
    found = shutil.which("twinbridge")
    return [found] if found else [sys.executable, "-m", "twinbridge.cli"]


def http(
    method: str, url: str, token: str | None = None, body: dict[str, Any] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """A small blocking HTTP/1.1 client for set-up and polling (one connection per call)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=30)
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    payload = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    try:
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        connection.request(method, target, body=payload, headers=headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


@dataclass
class Bench:
    work: Path
    environment: dict[str, str]
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cli(self, *arguments: str) -> str:
        done = subprocess.run(
            [*twinbridge_command(), *arguments],
            env=self.environment,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"twinbridge {' '.join(arguments)} failed:\n{done.stderr}")
        return done.stdout.strip()

    def start(self, arguments: list[str], name: str, **extra: str) -> subprocess.Popen[bytes]:
        """A twinbridge command in a session (process group) of its own, so that its CPU can be counted."""
        return self.start_process([*twinbridge_command(), *arguments], name, **extra)

    def start_process(self, command: list[str], name: str, **extra: str) -> subprocess.Popen[bytes]:
        """Any command, logging to `name`.log in the work dir, in a session of its own."""
        log = (self.work / f"{name}.log").open("ab")
        process = subprocess.Popen(
            command,
            env={**self.environment, **extra},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.processes.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def stop_all(self) -> None:
        for process in self.processes:
            self.stop(process)


def wait_until_serving(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited early:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError):
            if http("GET", url)[0] == 200:
                return
        time.sleep(0.2)
    raise SystemExit(f"server did not answer {url} within {SERVER_START_SECONDS} s")


def generated_imodels(folder: Path, name: str, elements: int, count: int) -> list[Path]:
    """`count` generated iModels of `elements` elements (seeds 1..count), kept in `folder` between runs."""
    from twinbridge.engines.imodel.generator import generate_imodel

    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for seed in range(1, count + 1):
        path = folder / f"{name}-{elements}-{seed}.bim"
        if not path.exists():
            started = time.perf_counter()
            generate_imodel(path, elements=elements, models=3, categories=4, seed=seed)
            note(f"generated {path.name} in {time.perf_counter() - started:.1f} s")
        paths.append(path)
    return paths


@contextlib.contextmanager
def postgres_database(keep: bool = False) -> Iterator[str]:
    """A fresh PostgreSQL database for a bench (its URL), dropped at the end unless kept."""
    import uuid

    import psycopg

    name = f"twinbridge_bench_{uuid.uuid4().hex[:12]}"
    admin_url = POSTGRES_ADMIN_URL.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        if keep:
            note(f"kept database {name}")
        else:
            with psycopg.connect(admin_url, autocommit=True) as connection:
                connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
