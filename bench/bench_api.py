"""Benchmark of the Export API's read path under concurrent load, against a bare ASGI floor.

It starts `twinbridge serve` (embedded mode, 2 run workers, rate limit off) on a fresh data dir, and a bare
ASGI app (a plain async function, no framework) served by uvicorn with the same host, loop, http and log
settings as `twinbridge serve`, in a process of its own, answering every request with the same bytes as
twinbridge's `GET /export/connections/{id}` body. It prints:

1. requests per second of `GET /export/connections/{id}`, of `GET /export/connections?imodelId=...` and of
   the bare app, measured back to back and interleaved over --rounds rounds, and the ratio of each
   twinbridge figure to the bare one (target >= 0.5);
2. p50/p99 latency of `GET /export/connections/{id}` while two IFC export runs (of two generated iModels of
   --elements elements) execute (target p99 < 50 ms), and the same with no run executing, for reference.

A one-route FastAPI app serving the same bytes is measured too (--no-fastapi-reference leaves it out): the
framework's own ceiling. --profile samples the server with py-spy (if installed) under GET load and prints
where the GIL-holding samples fall.

The load client is an asyncio client on raw sockets (HTTP/1.1 keep-alive, one request in flight per
connection, Content-Length responses), run in a process of its own. Everything listens on 127.0.0.1 and
stops by itself; timings are reported, never asserted.

    python bench/bench_api.py [--duration 5] [--connections 32] [--elements 20000] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import HOST, Bench, free_port, generated_imodels, http, note, wait_until_serving

CLIENT_ROLE = "_client"
BARE_ROLE = "_bare"
RESPONSE_LIMIT = 1 << 24
RUN_TIMEOUT_SECONDS = 900.0


# --- The load client (runs in a process of its own) -------------------------------------------------------


@dataclass
class ClientResult:
    requests: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    body_bytes: int = 0
    window: tuple[float, float] = (0.0, 0.0)
    all_requests: int = 0  # warm-up included: what the server's CPU time is divided by


async def _one_connection(
    port: int,
    request: bytes,
    measure_from: float,
    measure_until: float,
    result: ClientResult,
) -> None:
    """One keep-alive connection with one request in flight, until measure_until (a perf_counter value).

    perf_counter rather than loop.time(): uvloop's loop time is cached once per loop iteration.
    """
    clock = time.perf_counter
    reader, writer = await asyncio.open_connection(HOST, port, limit=RESPONSE_LIMIT)
    try:
        while True:
            started = clock()
            if started >= measure_until:
                return
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            close = False
            lines = head.split(b"\r\n")
            status = lines[0].split(b" ", 2)[1].decode()
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                lowered = name.strip().lower()
                if lowered == b"content-length":
                    length = int(value)
                elif lowered == b"connection" and value.strip().lower() == b"close":
                    close = True
            body = await reader.readexactly(length) if length else b""
            finished = clock()
            result.all_requests += 1
            if measure_from <= started and finished <= measure_until:
                result.requests += 1
                result.latencies_ms.append((finished - started) * 1000.0)
                result.statuses[status] = result.statuses.get(status, 0) + 1
                result.body_bytes = len(body)
                if status != "200":
                    result.errors += 1
            if close:
                writer.close()
                reader, writer = await asyncio.open_connection(HOST, port, limit=RESPONSE_LIMIT)
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def run_load(
    port: int, path: str, token: str | None, connections: int, warmup: float, duration: float
) -> ClientResult:
    headers = [f"GET {path} HTTP/1.1", f"Host: {HOST}:{port}", "Accept: application/json"]
    if token:
        headers.append(f"Authorization: Bearer {token}")
    request = ("\r\n".join(headers) + "\r\n\r\n").encode("latin-1")
    measure_from = time.perf_counter() + warmup
    measure_until = measure_from + duration
    # The window on the system-wide monotonic clock, so that the orchestrating process can compare it.
    window_start = time.monotonic() + warmup
    result = ClientResult(seconds=duration, window=(window_start, window_start + duration))
    tasks = [
        asyncio.create_task(_one_connection(port, request, measure_from, measure_until, result))
        for _ in range(connections)
    ]
    # Every connection stops by itself at measure_until; the timeout only bounds a server that hangs.
    done, pending = await asyncio.wait(tasks, timeout=warmup + duration + 30.0)
    for task in pending:
        task.cancel()
    for task in done:
        if task.exception() is not None:
            result.errors += 1
    return result


def client_main(arguments: list[str]) -> None:
    parser = argparse.ArgumentParser(prog=f"bench_api.py {CLIENT_ROLE}")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", required=True)
    parser.add_argument("--token", default=None)
    parser.add_argument("--connections", type=int, required=True)
    parser.add_argument("--warmup", type=float, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--result-file", type=Path, default=None)
    options = parser.parse_args(arguments)
    work = run_load(
        options.port, options.path, options.token, options.connections, options.warmup, options.duration
    )
    try:
        import uvloop

        result = uvloop.run(work)
    except ImportError:
        result = asyncio.run(work)
    # A file rather than stdout: a megabyte of latencies through a pipe once arrived with a stray newline.
    if options.result_file is not None:
        options.result_file.write_text(json.dumps(result.__dict__))
    else:
        print(json.dumps(result.__dict__))


# --- The bare ASGI app (runs in a process of its own) -----------------------------------------------------

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


def bare_app_for(body: bytes) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def fastapi_app_for(body: bytes) -> Any:
    """A reference point between the floor and twinbridge: one FastAPI route returning the same bytes."""
    from fastapi import FastAPI, Response

    app = FastAPI()

    @app.get("/")
    async def answer() -> Response:
        return Response(body, media_type="application/json")

    return app


def bare_main(arguments: list[str]) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog=f"bench_api.py {BARE_ROLE}")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--body-file", type=Path, required=True)
    parser.add_argument("--fastapi", action="store_true", help="serve a one-route FastAPI app instead")
    options = parser.parse_args(arguments)
    body = options.body_file.read_bytes()
    # The same arguments as `twinbridge serve` gives uvicorn.run (loop and http left to "auto").
    uvicorn.run(
        fastapi_app_for(body) if options.fastapi else bare_app_for(body),
        host=HOST,
        port=options.port,
        log_level="info",
        access_log=False,
        server_header=False,
    )


# --- The orchestrating process ----------------------------------------------------------------------------


def load(
    port: int, path: str, token: str | None, connections: int, warmup: float, duration: float
) -> ClientResult:
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        CLIENT_ROLE,
        f"--port={port}",
        f"--path={path}",
        f"--connections={connections}",
        f"--warmup={warmup}",
        f"--duration={duration}",
    ]
    if token:
        command.append(f"--token={token}")
    with tempfile.TemporaryDirectory(prefix="twinbridge-bench-client-") as folder:
        result_file = Path(folder) / "result.json"
        command.append(f"--result-file={result_file}")
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=warmup + duration + 60, check=False
        )
        if done.returncode != 0 or not result_file.exists():
            raise SystemExit(f"load client failed:\n{done.stderr}")
        values = json.loads(result_file.read_text())
    values["window"] = tuple(values["window"])
    return ClientResult(**values)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process (all its threads, not its children), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class RunWatch:
    """Polls the runs' states in a thread, so that the report can say whether both were Executing."""

    locations: list[str]
    token: str
    samples: list[tuple[float, list[str]]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def states(self) -> list[str]:
        states = []
        for location in self.locations:
            status, _, body = http("GET", location, self.token)
            states.append(str(json.loads(body)["run"]["state"]) if status == 200 else f"HTTP {status}")
        return states

    def poll(self) -> None:
        while not self.stop.wait(0.25):
            self.samples.append((time.monotonic(), self.states()))

    def polls_both_executing(self, start: float, end: float) -> tuple[int, int]:
        """(polls that saw both runs Executing, polls) among those answered within [start, end]."""
        inside = [states for at, states in self.samples if start <= at <= end]
        both = sum(all(state == "Executing" for state in states) for states in inside)
        return both, len(inside)


@contextlib.contextmanager
def watching(watch: RunWatch) -> Iterator[RunWatch]:
    thread = threading.Thread(target=watch.poll, daemon=True)
    thread.start()
    try:
        yield watch
    finally:
        watch.stop.set()
        thread.join(timeout=15)


def wait_for_states(watch: RunWatch, wanted: set[str], timeout: float) -> list[str]:
    deadline = time.monotonic() + timeout
    states = watch.states()
    while time.monotonic() < deadline and not all(state in wanted for state in states):
        time.sleep(0.1)
        states = watch.states()
    return states


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per target")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each")
    parser.add_argument("--connections", type=int, default=32, help="concurrent connections (throughput)")
    parser.add_argument(
        "--latency-connections",
        type=int,
        default=4,
        help="concurrent connections while measuring latency",
    )
    parser.add_argument("--elements", type=int, default=20_000, help="elements of each generated iModel")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds of the throughput runs")
    parser.add_argument("--list-size", type=int, default=3, help="connections the list answers")
    parser.add_argument(
        "--fastapi-reference",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="also measure a one-route FastAPI app (the framework's own ceiling)",
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also sample twinbridge with py-spy (if installed) under GET-connection load",
    )
    parser.add_argument("--cache", type=Path, default=None, help="keep generated iModels here")
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    options = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="twinbridge-bench-api-"))
    environment = {key: value for key, value in os.environ.items() if not key.startswith("TWINBRIDGE_")}
    environment |= {
        "TWINBRIDGE_DATA_DIR": str(work / "data"),
        "TWINBRIDGE_RATE_LIMIT": "none",
        "TWINBRIDGE_WORKERS": "2",
    }
    bench = Bench(work, environment)
    try:
        run_bench(bench, options)
    finally:
        bench.stop_all()
        if options.keep:
            print(f"\nkept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def run_bench(bench: Bench, options: argparse.Namespace) -> None:
    imodel_files = generated_imodels(options.cache or bench.work, "bench-api", options.elements, 2)
    itwin = bench.cli("itwins", "create", "Bench", "--owner", "alice")
    imodels = [
        bench.cli("imodels", "import", itwin, str(path), "--name", f"Bench {index}")
        for index, path in enumerate(imodel_files)
    ]
    port = free_port()
    base = f"http://{HOST}:{port}"
    server = bench.start(["serve", "--port", str(port)], "serve")
    wait_until_serving(server, f"{base}/health", bench.work / "serve.log")
    # After serve started: the token's issuer is the URL the server recorded in the data dir.
    token = bench.cli("token", "--user", "alice")

    connections = []
    for imodel in imodels:
        status, _, body = http("POST", f"{base}/export/connections", token, {"iModelId": imodel})
        if status != 201:
            raise SystemExit(f"POST /export/connections answered {status}: {body!r}")
        connections.append(str(json.loads(body)["connection"]["id"]))
    for _ in range(max(0, options.list_size - 1)):
        http("POST", f"{base}/export/connections", token, {"iModelId": imodels[0]})

    get_path = f"/export/connections/{connections[0]}"
    list_path = f"/export/connections?imodelId={imodels[0]}"
    status, _, get_body = http("GET", base + get_path, token)
    if status != 200:
        raise SystemExit(f"GET {get_path} answered {status}: {get_body!r}")
    list_body = http("GET", base + list_path, token)[2]
    body_file = bench.work / "bare-body.json"
    body_file.write_bytes(get_body)

    floor = [sys.executable, str(Path(__file__).resolve()), BARE_ROLE, f"--body-file={body_file}"]
    bare_port = free_port()
    bare = bench.start_process([*floor, f"--port={bare_port}"], "bare")
    wait_until_serving(bare, f"http://{HOST}:{bare_port}/", bench.work / "bare.log")
    note(f"twinbridge at {base}, bare ASGI at http://{HOST}:{bare_port}; work dir {bench.work}")
    targets: dict[str, tuple[int, str, str | None]] = {"bare ASGI": (bare_port, "/", None)}
    processes = {"bare ASGI": bare.pid}
    if options.fastapi_reference:
        fastapi_port = free_port()
        reference = bench.start_process([*floor, f"--port={fastapi_port}", "--fastapi"], "fastapi")
        wait_until_serving(reference, f"http://{HOST}:{fastapi_port}/", bench.work / "fastapi.log")
        targets["one-route FastAPI (reference)"] = (fastapi_port, "/", None)
        processes["one-route FastAPI (reference)"] = reference.pid

    # 1. Throughput, interleaved.
    targets |= {
        "GET /export/connections/{id}": (port, get_path, token),
        "GET /export/connections?imodelId=": (port, list_path, token),
    }
    rates: dict[str, list[float]] = {name: [] for name in targets}
    cpu_per_request: dict[str, list[float]] = {name: [] for name in targets}
    errors: dict[str, int] = dict.fromkeys(targets, 0)
    for round_index in range(options.rounds):
        for name, (target_port, path, target_token) in targets.items():
            pid = processes.get(name, server.pid)
            cpu_before = process_cpu_seconds(pid)
            result = load(
                target_port, path, target_token, options.connections, options.warmup, options.duration
            )
            cpu = process_cpu_seconds(pid) - cpu_before
            cpu_per_request[name].append(cpu / max(result.all_requests, 1) * 1e6)
            rates[name].append(result.requests / result.seconds)
            errors[name] += result.errors
            note(f"round {round_index + 1}: {name}: {rates[name][-1]:.0f} req/s ({result.statuses})")

    if options.profile:
        profile(bench, server.pid, port, get_path, token, options)

    # 2. Latency of GET connection: with no run, then while two export runs execute.
    idle = load(port, get_path, token, options.latency_connections, options.warmup, options.duration)
    locations = []
    for connection in connections:
        url = f"{base}/export/connections/{connection}/runs"
        status, headers, body = http("POST", url, token, {"exportType": "IFC"})
        if status != 202:
            raise SystemExit(f"POST runs answered {status}: {body!r}")
        locations.append(headers["location"])
    runs_started = time.monotonic()
    watch = RunWatch(locations, token)
    states_before = wait_for_states(watch, {"Executing", "Finalizing", "Completed"}, 120.0)
    with watching(watch):
        busy = load(port, get_path, token, options.latency_connections, options.warmup, options.duration)
        states_after = watch.states()
    window_start, window_end = busy.window
    executing_polls = watch.polls_both_executing(window_start, window_end)
    run_seconds = []
    for location in locations:
        deadline = time.monotonic() + RUN_TIMEOUT_SECONDS
        run: dict[str, Any] = {}
        while time.monotonic() < deadline:
            run = json.loads(http("GET", location, token)[2])["run"]
            if run["state"] == "Completed":
                break
            time.sleep(0.25)
        run_seconds.append(_run_duration(run, time.monotonic() - runs_started))

    report(
        options,
        rates,
        cpu_per_request,
        errors,
        idle,
        busy,
        len(get_body),
        len(list_body),
        states_before,
        states_after,
        executing_polls,
        run_seconds,
    )


# What the profile summary groups samples by: a name, and substrings of which one must be in the stack.
PROFILE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("uvicorn + ASGI app (whole request)", ("RequestResponseCycle.run_asgi",)),
    ("RequestContextMiddleware (ids, log, metrics)", ("RequestContextMiddleware.__call__",)),
    ("  request log (structlog)", ("structlog/",)),
    ("  metrics (prometheus_client)", ("prometheus_client/",)),
    ("fast reads (FastReadMiddleware)", ("FastReadMiddleware.__call__",)),
    ("  one-statement SQLite read", ("SqliteReads.rows",)),
    ("  JSON body", ("render_json",)),
    ("FastAPI solve_dependencies", ("solve_dependencies",)),
    ("  token check (authenticated dependency)", ("authenticated.<locals>.dependency",)),
    ("  sync dependency in threadpool (loop side)", ("run_in_threadpool",)),
    ("  get_session / unit_of_work", ("get_session", "unit_of_work")),
    ("endpoint get_connection", ("get_connection (",)),
    ("SQLAlchemy (ORM + Core, loop side)", ("sqlalchemy/",)),
    ("  BEGIN IMMEDIATE", ("_sqlite_begin_immediate",)),
    ("  commit / rollback", ("AsyncSession.commit", "AsyncSession.close", "_reset")),
    ("aiosqlite calls (loop side)", ("aiosqlite/core.py",)),
    ("response serialization", ("serialize_response", "jsonable_encoder", "JSONResponse.render")),
    ("aiosqlite worker threads (sqlite3 itself)", ("_connection_worker_thread",)),
    ("AnyIO worker threads (sync dependencies)", ("AnyIO worker thread",)),
)


def py_spy_command() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def profile(bench: Bench, pid: int, port: int, path: str, token: str, options: argparse.Namespace) -> None:
    """Samples the server with py-spy under GET-connection load; prints where its samples fall."""
    spy = py_spy_command()
    if spy is None:
        note("py-spy not found (pip install py-spy); skipping --profile")
        return
    raw = bench.work / "profile.txt"
    seconds = max(2, int(options.duration))
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        CLIENT_ROLE,
        f"--port={port}",
        f"--path={path}",
        f"--token={token}",
        f"--connections={options.connections}",
        "--warmup=1",
        f"--duration={seconds + 2}",
    ]
    client = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        # --gil: only samples of the thread holding the GIL, i.e. Python work (threads that wait, and
        # sqlite3's C code, which releases the GIL, are left out).
        spy_command = [spy, "record", "-p", str(pid), "-d", str(seconds), "-r", "100", "-f", "raw"]
        done = subprocess.run(
            [*spy_command, "--threads", "--gil", "-o", str(raw)],
            capture_output=True,
            text=True,
            timeout=seconds + 60,
            check=False,
        )
    finally:
        client.wait(timeout=seconds + 60)
    if done.returncode != 0 or not raw.exists():
        note(f"py-spy failed: {done.stderr.strip()[-300:]}")
        return
    summarize_profile(raw)


def summarize_profile(raw: Path) -> None:
    stacks: list[tuple[str, int]] = []
    for line in raw.read_text().splitlines():
        stack, _, samples = line.rpartition(" ")
        if stack and samples.isdigit():
            stacks.append((stack, int(samples)))
    total = sum(count for _, count in stacks)
    if not total:
        return
    print()
    print(
        f"py-spy samples of twinbridge holding the GIL under GET /export/connections/{{id}} load "
        f"({total} samples)"
    )
    print(f"{'share of all samples (inclusive)':<50} {'%':>6}")
    for name, needles in PROFILE_GROUPS:
        hits = sum(count for stack, count in stacks if any(needle in stack for needle in needles))
        print(f"{name:<50} {100.0 * hits / total:>6.1f}")
    leaves: dict[str, int] = {}
    for stack, count in stacks:
        leaf = stack.rsplit(";", 1)[-1]
        function, _, where = leaf.partition(" (")
        key = f"{function} ({where.rsplit(':', 1)[0].rsplit('site-packages/', 1)[-1]}"
        leaves[key] = leaves.get(key, 0) + count
    print("top self (leaf) frames:")
    for key, count in sorted(leaves.items(), key=lambda item: -item[1])[:12]:
        print(f"  {100.0 * count / total:5.1f}  {key[:100]}")


def _run_duration(run: dict[str, Any], fallback: float) -> float:
    from datetime import datetime

    try:
        started = datetime.fromisoformat(run["startDateTime"].replace("Z", "+00:00"))
        ended = datetime.fromisoformat(run["endDateTime"].replace("Z", "+00:00"))
        return (ended - started).total_seconds()
    except (KeyError, TypeError, ValueError, AttributeError):
        return fallback


def report(
    options: argparse.Namespace,
    rates: dict[str, list[float]],
    cpu_per_request: dict[str, list[float]],
    errors: dict[str, int],
    idle: ClientResult,
    busy: ClientResult,
    get_bytes: int,
    list_bytes: int,
    states_before: list[str],
    states_after: list[str],
    executing_polls: tuple[int, int],
    run_seconds: list[float],
) -> None:
    bare = statistics.median(rates["bare ASGI"])
    print()
    print(
        f"Throughput: {options.connections} connections, {options.duration:g} s measured after "
        f"{options.warmup:g} s warm-up, {options.rounds} interleaved round(s), median shown"
    )
    print(f"{'target':<36} {'req/s':>9} {'rounds':>20} {'ratio':>7} {'server CPU/request':>19} {'errors':>7}")
    for name, values in rates.items():
        median = statistics.median(values)
        each = "/".join(f"{value:.0f}" for value in values)
        cpu = statistics.median(cpu_per_request[name])
        print(f"{name:<36} {median:>9.0f} {each:>20} {median / bare:>7.2f} {cpu:>16.0f} us {errors[name]:>7}")
    print(f"(bodies: GET connection {get_bytes} B = bare body; list {list_bytes} B; target ratio >= 0.5)")
    print(
        "(server CPU/request: the server process's user+system time over the requests it answered, warm-up "
        "included; less noisy than req/s, which the load client on the other core also limits)"
    )
    print()
    print(
        f"Latency of GET /export/connections/{{id}}: {options.latency_connections} connections, "
        f"{options.duration:g} s measured (target p99 < 50 ms)"
    )
    print(f"{'condition':<36} {'req/s':>9} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'errors':>7}")
    for name, result in (("no run executing", idle), ("two export runs executing", busy)):
        values = result.latencies_ms
        print(
            f"{name:<36} {result.requests / result.seconds:>9.0f} {percentile(values, 0.5):>9.1f} "
            f"{percentile(values, 0.99):>9.1f} {max(values, default=float('nan')):>9.1f} {result.errors:>7}"
        )
    print(
        f"(runs of {options.elements} elements: states {states_before} before, {states_after} after the "
        f"window; both Executing in {executing_polls[0]} of {executing_polls[1]} polls during it; "
        f"run durations {', '.join(f'{value:.1f} s' for value in run_seconds)})"
    )


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == CLIENT_ROLE:
        client_main(sys.argv[2:])
    elif len(sys.argv) > 1 and sys.argv[1] == BARE_ROLE:
        bare_main(sys.argv[2:])
    else:
        main()
