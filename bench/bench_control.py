"""How long the control API's reset and snapshot restore take on a small world, against a plain GET.

For each database it starts `twinbridge serve` with the control API (TWINBRIDGE_CONTROL_API=1, runs scripted
so that no engine warms up) on a fresh data directory (PostgreSQL: a fresh database through
`TWINBRIDGE_TEST_POSTGRES_URL`, dropped at the end) and builds a small world over HTTP and the CLI: an
iTwin, the Building Blocks iModel imported, `--files` stored files, an export connection with a completed
run. It saves it as a snapshot, then measures `--repeat` times each, one request at a time over real HTTP:
`GET /itwins` (the floor), `POST /_twinbridge/snapshots/{name}/restore` (after a change), and `POST
/_twinbridge/reset` then restore, the way a test suite starts each test from a known world (the reset alone
is shown too). It
prints the median and slowest wall time of each and its ratio to the floor. Goal (issue 15): a restore of a
small world well under a second.

    .venv/bin/python bench/bench_control.py [--database sqlite|postgresql|both] [--repeat 15] [--files 5]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from harness import HOST, Bench, free_port, http, note, postgres_database, wait_until_serving

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "imodels" / "Building Blocks.bim"
RESTORE_GOAL_SECONDS = 1.0


def _ok(answer: tuple[int, dict[str, str], bytes], *expected: int) -> dict:
    status, _, body = answer
    if status not in expected:
        raise SystemExit(f"unexpected {status}: {body[:500]!r}")
    return json.loads(body) if body else {}


def _put(url: str, content: bytes) -> None:
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or HOST, parts.port, timeout=30)
    try:
        connection.request(
            "PUT", f"{parts.path}?{parts.query}", body=content, headers={"x-ms-blob-type": "BlockBlob"}
        )
        connection.getresponse().read()
    finally:
        connection.close()


def _build_world(bench: Bench, base: str, token: str, files: int) -> None:
    itwin_id = bench.cli("itwins", "create", "Plant", "--owner", "alice")
    imodel_id = bench.cli("imodels", "import", itwin_id, str(SAMPLE), "--name", "Blocks")
    root = _ok(http("GET", f"{base}/storage/?iTwinId={itwin_id}", token), 200)
    folder_id = root["_links"]["folder"]["href"].rsplit("/", 1)[1]
    for index in range(files):
        name = {"displayName": f"f{index}.ifc"}
        created = _ok(http("POST", f"{base}/storage/folders/{folder_id}/files", token, name), 202)
        _put(created["_links"]["uploadUrl"]["href"], b"ISO-10303-21;\n" * (100 * (index + 1)))
        _ok(http("POST", created["_links"]["completeUrl"]["href"], token), 200)
    connection = _ok(http("POST", f"{base}/export/connections", token, {"iModelId": imodel_id}), 201)
    runs = f"{base}/export/connections/{connection['connection']['id']}/runs"
    _ok(http("POST", runs, token, {"exportType": "IFC"}), 202)
    deadline = time.monotonic() + 60
    while _ok(http("GET", runs, token), 200)["runs"][0]["state"] != "Completed":
        if time.monotonic() > deadline:
            raise SystemExit("the export run did not complete within 60 s")
        time.sleep(0.2)


def _timed(action: Callable[[], None], repeat: int) -> list[float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return times


@contextlib.contextmanager
def _database(kind: str) -> Iterator[str | None]:
    if kind == "sqlite":
        yield None
    else:
        with postgres_database() as url:
            yield url


def measure(kind: str, repeat: int, files: int) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory(prefix="bench-control-") as work, _database(kind) as database_url:
        port = free_port()
        environment = {
            "TWINBRIDGE_DATA_DIR": str(Path(work) / "data"),
            "TWINBRIDGE_PUBLIC_URL": f"http://{HOST}:{port}",
            "TWINBRIDGE_CONTROL_API": "1",
            "TWINBRIDGE_SCRIPTED_RUNS_ONLY": "1",
            "TWINBRIDGE_RATE_LIMIT": "none",
            "PATH": "/usr/bin:/bin",
        }
        if database_url:
            environment["TWINBRIDGE_DATABASE_URL"] = database_url
        bench = Bench(Path(work), environment)
        try:
            server = bench.start(["serve", "--port", str(port)], "serve")
            base = f"http://{HOST}:{port}"
            wait_until_serving(server, f"{base}/health", Path(work) / "serve.log")
            token = bench.cli("token", "--user", "alice")
            _build_world(bench, base, token, files)
            snapshot = _ok(http("POST", f"{base}/_twinbridge/snapshots", None, {"name": "world"}), 201)
            summary = snapshot["snapshot"]
            note(f"{kind}: world of {summary['rows']} rows, {summary['blobs']} blobs")

            def floor() -> None:
                _ok(http("GET", f"{base}/itwins", token), 200)

            def change_then_restore() -> None:
                _ok(http("POST", f"{base}/itwins", token, {"displayName": "Later"}), 201)
                started = time.perf_counter()
                _ok(http("POST", f"{base}/_twinbridge/snapshots/world/restore"), 204)
                restores.append(time.perf_counter() - started)

            def reset_then_restore() -> None:
                started = time.perf_counter()
                _ok(http("POST", f"{base}/_twinbridge/reset"), 204)
                resets.append(time.perf_counter() - started)
                _ok(http("POST", f"{base}/_twinbridge/snapshots/world/restore"), 204)

            restores: list[float] = []
            resets: list[float] = []
            rows = [("GET /itwins (floor)", _timed(floor, repeat))]
            _timed(change_then_restore, repeat)
            rows.append(("restore after a change", restores))
            rows.append(("reset + restore", _timed(reset_then_restore, repeat)))
            rows.append(("reset of the world", resets))
        finally:
            bench.stop_all()
    return [(label, statistics.median(times), max(times)) for label, times in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument("--files", type=int, default=5)
    arguments = parser.parse_args()

    kinds = ["sqlite", "postgresql"] if arguments.database == "both" else [arguments.database]
    print("| database | request | median | slowest | ratio to the floor | goal |\n|---|---|---|---|---|---|")
    for kind in kinds:
        rows = measure(kind, arguments.repeat, arguments.files)
        floor = rows[0][1]
        for label, median, slowest in rows:
            goal = f"< {RESTORE_GOAL_SECONDS:.0f} s" if "restore" in label else ""
            print(
                f"| {kind} | {label} | {median * 1000:.1f} ms | {slowest * 1000:.1f} ms |"
                f" {median / floor:.1f} | {goal} |"
            )


if __name__ == "__main__":
    main()
