"""Throughput and latency of every kind of request, against the framework's own ceiling, on both databases.

For each database (SQLite, then PostgreSQL) it starts `twinbridge serve` (2 run workers, rate limit off)
on a fresh data directory, builds a small world over HTTP (an iTwin, an iModel, an export connection with
a completed run, a manifest and a storage connection with a completed synchronization run, a stored file),
and starts, beside it, a one-route FastAPI app served by uvicorn the same way, whose single route answers
any path with the bytes twinbridge answered there: the framework's ceiling on this machine.

Then, for each request, measured back to back with the same load (keep-alive connections, one request in
flight on each): requests per second of twinbridge and of the ceiling, their ratio, p50 and p99 latency,
and twinbridge's server CPU per request (user+system time of the server process, from /proc). `POST …/runs`
creates a run each time, on one of `--creates` prepared connections (each to an iModel of its own), so it
measures the 202 path that inserts the run. Last, the p99 of `GET` run while two exports of generated
iModels of `--elements` elements execute.

Targets (issue 14): every GET >= 0.35 x the ceiling on SQLite and >= 0.25 x on PostgreSQL; the POSTs
>= 0.15 x on SQLite; p99 of GET run < 20 ms while two 20,000-element exports execute. Timings are printed,
never asserted.

    .venv/bin/python bench/bench_api.py [--database sqlite|postgresql|both] [--duration 3]
        [--connections 16] [--creates 300] [--elements 20000] [--cache DIR] [--keep]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response  # the ceiling's; at the top so its annotations resolve

from harness import (
    HOST,
    Bench,
    free_port,
    generated_imodels,
    http,
    note,
    postgres_database,
    wait_until_serving,
)

CLIENT_ROLE = "_client"
CEILING_ROLE = "_ceiling"
RESPONSE_LIMIT = 1 << 24
REPOSITORY = Path(__file__).resolve().parents[1]
SAMPLE_IMODEL = REPOSITORY / "samples" / "imodels" / "Building Blocks.bim"
EMPTY_IMODEL = REPOSITORY / "samples" / "imodels" / "213d69e0-9a83-4e3f-942d-694e94c9f905m.bim"
SAMPLE_IFC = REPOSITORY / "samples" / "ifc" / "pass-sps005-250612_wall_with_window.ifc"
GET_TARGET = {"sqlite": 0.35, "postgresql": 0.25}
POST_TARGET = 0.15


# --- The load client (a process of its own) ----------------------------------------------------------------


@dataclass
class ClientResult:
    requests: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    all_requests: int = 0  # warm-up included: what the server's CPU time is divided by


def _request_bytes(port: int, method: str, path: str, token: str | None, body: str | None) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: application/json"]
    if token:
        lines.append(f"Authorization: Bearer {token}")
    payload = (body or "").encode()
    if body is not None:
        lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload


async def _one_connection(
    port: int, requests: Iterator[bytes], measure_from: float, measure_until: float, result: ClientResult
) -> None:
    clock = time.perf_counter
    reader, writer = await asyncio.open_connection(HOST, port, limit=RESPONSE_LIMIT)
    try:
        for request in requests:
            started = clock()
            if started >= measure_until:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length, close = 0, False
            lines = head.split(b"\r\n")
            status = lines[0].split(b" ", 2)[1].decode()
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                lowered = name.strip().lower()
                if lowered == b"content-length":
                    length = int(value)
                elif lowered == b"connection" and value.strip().lower() == b"close":
                    close = True
            if length:
                await reader.readexactly(length)
            finished = clock()
            result.all_requests += 1
            if measure_from <= started and finished <= measure_until:
                result.requests += 1
                result.latencies_ms.append((finished - started) * 1000.0)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                if not status.startswith("2") and status != "303":
                    result.errors += 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port, limit=RESPONSE_LIMIT)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def run_load(spec: dict[str, Any]) -> ClientResult:
    port, connections = spec["port"], spec["connections"]
    paths: list[str] = spec["paths"]
    requests = [_request_bytes(port, spec["method"], path, spec["token"], spec["body"]) for path in paths]
    if spec["once"]:  # each request once (creations): the measured window is the time they take
        shared: Iterator[bytes] = iter(requests)
        measure_from = time.perf_counter()
        measure_until = measure_from + spec["warmup"] + spec["duration"] + 60
    else:

        def forever() -> Iterator[bytes]:
            while True:
                yield from requests

        shared = forever()
        measure_from = time.perf_counter() + spec["warmup"]
        measure_until = measure_from + spec["duration"]
    result = ClientResult()
    started = time.perf_counter()
    tasks = [
        asyncio.create_task(_one_connection(port, shared, measure_from, measure_until, result))
        for _ in range(connections)
    ]
    done, pending = await asyncio.wait(tasks, timeout=spec["warmup"] + spec["duration"] + 90.0)
    for task in pending:
        task.cancel()
    for task in done:
        if task.exception() is not None:
            result.errors += 1
    result.seconds = (time.perf_counter() - started) if spec["once"] else spec["duration"]
    return result


def client_main(arguments: list[str]) -> None:
    spec_file, result_file = Path(arguments[0]), Path(arguments[1])
    work = run_load(json.loads(spec_file.read_text()))
    try:
        import uvloop

        result = uvloop.run(work)
    except ImportError:
        result = asyncio.run(work)
    result_file.write_text(json.dumps(result.__dict__))


# --- The ceiling: a one-route FastAPI app (a process of its own) -------------------------------------------


def ceiling_main(arguments: list[str]) -> None:
    import uvicorn

    port, bodies_file = int(arguments[0]), Path(arguments[1])
    bodies: dict[str, list[Any]] = json.loads(bodies_file.read_text())
    app = FastAPI()

    @app.api_route("/{rest:path}", methods=["GET", "POST"])
    async def answer(rest: str, request: Request) -> Response:
        if request.method == "POST":
            await request.body()
        status, body, headers = bodies.get(request.url.path, [200, "{}", {}])
        return Response(body.encode(), status_code=status, headers=headers, media_type="application/json")

    # The same arguments as `twinbridge serve` gives uvicorn.run.
    uvicorn.run(app, host=HOST, port=port, log_level="info", access_log=False, server_header=False)


# --- The orchestrating process ------------------------------------------------------------------------------


@dataclass
class Target:
    name: str
    method: str
    paths: list[str]
    body: str | None = None
    once: bool = False  # creations: each path once

    @property
    def is_get(self) -> bool:
        return self.method == "GET"


def load(port: int, target: Target, token: str | None, options: argparse.Namespace) -> ClientResult:
    with tempfile.TemporaryDirectory(prefix="twinbridge-bench-client-") as folder:
        spec_file, result_file = Path(folder) / "spec.json", Path(folder) / "result.json"
        spec = {
            "port": port,
            "method": target.method,
            "paths": target.paths,
            "token": token,
            "body": target.body,
            "once": target.once,
            "connections": options.connections,
            "warmup": 0.0 if target.once else options.warmup,
            "duration": options.duration,
        }
        spec_file.write_text(json.dumps(spec))
        command = [
            sys.executable,
            str(Path(__file__).resolve()),
            CLIENT_ROLE,
            str(spec_file),
            str(result_file),
        ]
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
        if done.returncode != 0 or not result_file.exists():
            raise SystemExit(f"load client failed:\n{done.stderr}")
        return ClientResult(**json.loads(result_file.read_text()))


def process_cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _json(status_and_body: tuple[int, dict[str, str], bytes], expected: int = 200) -> Any:
    status, _, body = status_and_body
    if status != expected:
        raise SystemExit(f"setup request answered {status}, not {expected}: {body[:300]!r}")
    return json.loads(body) if body else None


def _wait_completed(url: str, token: str, timeout: float = 300.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run: dict[str, Any] = _json(http("GET", url, token))["run"]
        if run["state"] == "Completed":
            return run
        time.sleep(0.2)
    raise SystemExit(f"run {url} did not complete within {timeout} s")


def _prepare_imodels(environment: dict[str, str], itwin: str, count: int) -> list[str]:
    """`count` iModels made from the empty sample through the service layer (setup, not the measured path)."""
    script = f"""
import asyncio, json, sys
from pathlib import Path
from twinbridge.config import Settings
from twinbridge.db.database import open_database
from twinbridge.imodels.service import IModelService
from twinbridge.storage.backends import create_blob_storage

async def main():
    settings = Settings()
    database = open_database(settings)
    blobs = create_blob_storage(settings.blob_storage_url)
    ids = []
    async with database.transaction() as transaction:
        service = IModelService(transaction, blobs)
        for index in range({count}):
            imported = await service.import_file(
                "{itwin}", Path("{EMPTY_IMODEL}"), f"Prepared {{index}}", None, caller=None
            )
            ids.append(imported.imodel.id)
    await database.close()
    print(json.dumps(ids))

asyncio.run(main())
"""
    done = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"preparing iModels failed:\n{done.stderr}")
    return list(json.loads(done.stdout))


@dataclass
class World:
    token: str
    targets: list[Target]
    export_imodels: list[str]


def build_world(bench: Bench, base: str, options: argparse.Namespace) -> World:
    itwin = bench.cli("itwins", "create", "Bench", "--owner", "alice")
    imodel = bench.cli("imodels", "import", itwin, str(SAMPLE_IMODEL), "--name", "Blocks")
    sync_imodel = bench.cli("imodels", "import", itwin, str(EMPTY_IMODEL), "--name", "Synchronized")
    token = bench.cli("token", "--user", "alice")
    connection = _json(http("POST", f"{base}/export/connections", token, {"iModelId": imodel}), 201)
    export_id = connection["connection"]["id"]
    for _ in range(2):  # a list of three
        _json(http("POST", f"{base}/export/connections", token, {"iModelId": imodel}), 201)
    status, headers, _ = http(
        "POST", f"{base}/export/connections/{export_id}/runs", token, {"exportType": "IFC"}
    )
    if status != 202:
        raise SystemExit(f"POST runs answered {status}")
    export_run = _wait_completed(headers["location"], token)

    root = _json(http("GET", f"{base}/storage/?iTwinId={itwin}", token))["_links"]["folder"]["href"]
    links = _json(http("POST", f"{root}/files", token, {"displayName": "wall.ifc"}), 202)["_links"]
    upload = subprocess.run(
        [
            "curl",
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-X",
            "PUT",
            "--data-binary",
            f"@{SAMPLE_IFC}",
            links["uploadUrl"]["href"],
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if upload.stdout != "201":
        raise SystemExit(f"upload answered {upload.stdout}")
    stored = _json(http("POST", links["completeUrl"]["href"], token))["file"]["id"]

    sync_base = f"{base}/synchronization/imodels"
    storage_body = {
        "iModelId": sync_imodel,
        "sourceFiles": [{"storageFileId": stored, "connectorType": "IFC"}],
    }
    storage = _json(http("POST", f"{sync_base}/storageconnections", token, storage_body), 201)["connection"][
        "id"
    ]
    manifest_body = {"iModelId": sync_imodel, "sourceFiles": [{"sourceFileId": "doc-1"}]}
    manifest = _json(http("POST", f"{sync_base}/manifestconnections", token, manifest_body), 201)[
        "connection"
    ]["id"]
    status, headers, _ = http("POST", f"{sync_base}/storageconnections/{storage}/run", token)
    if status != 202:
        raise SystemExit(f"POST storage run answered {status}")
    sync_run = _wait_completed(headers["location"], token)
    source_files = _json(http("GET", f"{sync_base}/storageconnections/{storage}/sourcefiles", token))
    source_file = source_files["sourceFiles"][0]["id"]

    prepared = _prepare_imodels(bench.environment, itwin, options.creates)
    create_paths = []
    for prepared_imodel in prepared:
        body = _json(http("POST", f"{base}/export/connections", token, {"iModelId": prepared_imodel}), 201)
        create_paths.append(f"/export/connections/{body['connection']['id']}/runs")

    export_imodels = [
        bench.cli("imodels", "import", itwin, str(path), "--name", f"Large {index}")
        for index, path in enumerate(
            generated_imodels(options.cache or bench.work, "bench-api", options.elements, 2)
        )
    ]
    export_run_path = f"/export/connections/{export_id}/runs/{export_run['id']}"
    targets = [
        Target("GET /health", "GET", ["/health"]),
        Target("GET /imodels/{id}", "GET", [f"/imodels/{imodel}"]),
        Target("GET /storage/files/{id}", "GET", [f"/storage/files/{stored}"]),
        Target("GET /export/connections/{id}", "GET", [f"/export/connections/{export_id}"]),
        Target("GET /export/connections?imodelId (3)", "GET", [f"/export/connections?imodelId={imodel}"]),
        Target("GET /export/…/runs/{runId}", "GET", [export_run_path]),
        Target("GET /export/…/runs", "GET", [f"/export/connections/{export_id}/runs"]),
        Target(
            "GET /export/authorizationinformation",
            "GET",
            ["/export/authorizationinformation?redirectUrl=http://localhost/callback"],
        ),
        Target(
            "GET /synchronization/…/manifestconnections/{id}",
            "GET",
            [f"{sync_base.replace(base, '')}/manifestconnections/{manifest}"],
        ),
        Target(
            "GET /synchronization/…/storageconnections/{id}",
            "GET",
            [f"{sync_base.replace(base, '')}/storageconnections/{storage}"],
        ),
        Target(
            "GET /synchronization/…/storageconnections?imodelId",
            "GET",
            [f"{sync_base.replace(base, '')}/storageconnections?imodelId={sync_imodel}"],
        ),
        Target(
            "GET /synchronization/…/storageconnections/{id}/runs/{runId}",
            "GET",
            [f"{sync_base.replace(base, '')}/storageconnections/{storage}/runs/{sync_run['id']}"],
        ),
        Target(
            "GET /synchronization/…/storageconnections/{id}/runs",
            "GET",
            [f"{sync_base.replace(base, '')}/storageconnections/{storage}/runs"],
        ),
        Target(
            "GET /synchronization/…/sourcefiles/{id}",
            "GET",
            [f"{sync_base.replace(base, '')}/storageconnections/{storage}/sourcefiles/{source_file}"],
        ),
        Target("POST /export/connections", "POST", ["/export/connections"], json.dumps({"iModelId": imodel})),
        Target(
            "POST /export/…/runs (creates a run)",
            "POST",
            create_paths,
            json.dumps({"exportType": "IFC"}),
            True,
        ),
    ]
    return World(token, targets, export_imodels)


@dataclass
class Row:
    name: str
    rate: float
    ceiling_rate: float
    p50: float
    p99: float
    cpu_us: float
    errors: int
    statuses: dict[str, int]
    is_get: bool

    @property
    def ratio(self) -> float:
        return self.rate / self.ceiling_rate if self.ceiling_rate else float("nan")


def measure_database(database: str, options: argparse.Namespace, database_url: str | None) -> list[Row]:
    work = Path(tempfile.mkdtemp(prefix=f"twinbridge-bench-api-{database}-"))
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TWINBRIDGE_")}
    environment |= {
        "TWINBRIDGE_DATA_DIR": str(work / "data"),
        "TWINBRIDGE_RATE_LIMIT": "none",
        "TWINBRIDGE_WORKERS": "2",
    }
    if database_url:
        environment["TWINBRIDGE_DATABASE_URL"] = database_url
    bench = Bench(work, environment)
    try:
        port = free_port()
        base = f"http://{HOST}:{port}"
        bench.cli("db", "upgrade")
        server = bench.start(["serve", "--port", str(port)], "serve")
        wait_until_serving(server, f"{base}/health", work / "serve.log")
        world = build_world(bench, base, options)

        # The ceiling answers every path with twinbridge's bytes there.
        bodies: dict[str, list[Any]] = {}
        for target in world.targets:
            path = target.paths[0]
            status, headers, body = http(
                target.method, base + path, world.token, json.loads(target.body) if target.body else None
            )
            kept = {name: value for name, value in headers.items() if name == "location"}
            bodies[path] = [status, body.decode(), kept]
        bodies_file = work / "bodies.json"
        bodies_file.write_text(json.dumps(bodies))
        ceiling_port = free_port()
        ceiling = bench.start_process(
            [
                sys.executable,
                str(Path(__file__).resolve()),
                CEILING_ROLE,
                str(ceiling_port),
                str(bodies_file),
            ],
            "ceiling",
        )
        wait_until_serving(ceiling, f"http://{HOST}:{ceiling_port}/health", work / "ceiling.log")

        rows = []
        for target in world.targets:
            if options.only not in target.name:
                continue
            reference = load(ceiling_port, target, world.token, options)
            before = process_cpu_seconds(server.pid)
            result = load(port, target, world.token, options)
            cpu = process_cpu_seconds(server.pid) - before
            rows.append(
                Row(
                    name=target.name,
                    rate=result.requests / result.seconds,
                    ceiling_rate=reference.requests / reference.seconds,
                    p50=percentile(result.latencies_ms, 0.5),
                    p99=percentile(result.latencies_ms, 0.99),
                    cpu_us=cpu / max(result.all_requests, 1) * 1e6,
                    errors=result.errors,
                    statuses=result.statuses,
                    is_get=target.is_get,
                )
            )
            note(
                f"{database}: {target.name}: {rows[-1].rate:.0f} req/s, "
                f"ratio {rows[-1].ratio:.2f}, {result.statuses}"
            )

        if not options.skip_latency:
            rows.append(latency_during_exports(bench, base, world, options))
        bench.stop_all()
        return rows
    finally:
        bench.stop_all()
        if options.keep:
            note(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def latency_during_exports(bench: Bench, base: str, world: World, options: argparse.Namespace) -> Row:
    token = world.token
    locations = []
    for imodel in world.export_imodels:
        connection = _json(http("POST", f"{base}/export/connections", token, {"iModelId": imodel}), 201)[
            "connection"
        ]
        status, headers, _ = http(
            "POST", f"{base}/export/connections/{connection['id']}/runs", token, {"exportType": "IFC"}
        )
        if status != 202:
            raise SystemExit(f"POST runs answered {status}")
        locations.append(headers["location"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        states = [_json(http("GET", location, token))["run"]["state"] for location in locations]
        if all(state == "Executing" for state in states):
            break
        time.sleep(0.1)
    run_target = next(target for target in world.targets if target.name == "GET /export/…/runs/{runId}")
    port = int(base.rsplit(":", 1)[1])
    result = load(port, run_target, token, options)
    states_after = [_json(http("GET", location, token))["run"]["state"] for location in locations]
    note(f"runs during the window: {states} before, {states_after} after")
    for location in locations:
        _wait_completed(location, token, timeout=900)
    return Row(
        name=f"GET /export/…/runs/{{runId}} while two {options.elements:,}-element exports run",
        rate=result.requests / result.seconds,
        ceiling_rate=float("nan"),
        p50=percentile(result.latencies_ms, 0.5),
        p99=percentile(result.latencies_ms, 0.99),
        cpu_us=float("nan"),
        errors=result.errors,
        statuses=result.statuses,
        is_get=True,
    )


def report(database: str, rows: list[Row], options: argparse.Namespace) -> None:
    target = GET_TARGET[database]
    print(
        f"\n{database}: {options.connections} keep-alive connections, {options.duration:g} s per request kind"
    )
    print("| request | req/s | ceiling req/s | ratio | target | p50 ms | p99 ms | server CPU µs/request |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        if row.ceiling_rate != row.ceiling_rate:  # the latency row
            goal = "p99 < 20 ms"
            ratio = ""
        else:
            goal = f">= {target}" if row.is_get else (f">= {POST_TARGET}" if database == "sqlite" else "")
            ratio = f"{row.ratio:.2f}"
        cpu = "" if row.cpu_us != row.cpu_us else f"{row.cpu_us:.0f}"
        ceiling = "" if row.ceiling_rate != row.ceiling_rate else f"{row.ceiling_rate:,.0f}"
        errors = f" ({row.errors} errors)" if row.errors else ""
        print(
            f"| `{row.name}` | {row.rate:,.0f}{errors} | {ceiling} | {ratio} | {goal} | {row.p50:.1f} | "
            f"{row.p99:.1f} | {cpu} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--duration", type=float, default=3.0, help="measured seconds per request kind")
    parser.add_argument("--warmup", type=float, default=0.5, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--creates", type=int, default=300, help="runs POST …/runs creates")
    parser.add_argument("--elements", type=int, default=20_000, help="elements of each exported iModel")
    parser.add_argument("--skip-latency", action="store_true", help="leave out the latency during exports")
    parser.add_argument("--cache", type=Path, default=None, help="keep generated iModels here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dirs (logs, data)")
    parser.add_argument("--only", default="", help="measure only the requests whose name contains this")
    options = parser.parse_args()
    databases = ["sqlite", "postgresql"] if options.database == "both" else [options.database]
    results = {}
    for database in databases:
        if database == "sqlite":
            results[database] = measure_database(database, options, None)
        else:
            with postgres_database(options.keep) as url:
                results[database] = measure_database(database, options, url)
    for database, rows in results.items():
        report(database, rows, options)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CLIENT_ROLE:
        client_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == CEILING_ROLE:
        ceiling_main(sys.argv[2:])
    else:
        main()
