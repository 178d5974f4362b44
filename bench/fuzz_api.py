"""Schema fuzzing of every operation of a served twinbridge, longer than the bounded pass of `make test`.

For each database (SQLite, then PostgreSQL) it starts `twinbridge serve` (rate limit off) on a fresh data
directory and runs schemathesis (`st run --checks all`, the rules of schemathesis.toml) against its
/openapi.json twice: with a user's token, and without one. It prints, per pass, the requests sent, the
operations tested, how many answers were 5xx, and the schema violations by check; the target (issue 17) is
0 x 5xx and 0 violations. Exits 1 if a pass misses it.

    .venv/bin/python bench/fuzz_api.py [--database sqlite|postgresql|both] [--examples 50] [--seed N]
        [--workers 2] [--max-time SECONDS] [--keep]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

from harness import HOST, Bench, free_port, note, postgres_database, wait_until_serving

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

from tests.fuzzing import FuzzFigures, run_schemathesis  # noqa: E402 (the repository is on the path now)


@contextlib.contextmanager
def database_url(database: str, keep: bool) -> Iterator[str | None]:
    if database == "sqlite":
        yield None
    else:
        with postgres_database(keep) as url:
            yield url


def _unexpected_errors(log: Path) -> str:
    """The server's log lines of its 500s (path, error and the end of the traceback), for a pass that met
    some; the log holds the server's whole life, so earlier passes' are repeated."""
    found = [line for line in log.read_text(errors="replace").splitlines() if "unhandled_error" in line]
    return "\n".join(f"    {line[:200]} … {line[-300:]}" for line in dict.fromkeys(found))


def fuzz_database(database: str, arguments: argparse.Namespace, work: Path) -> list[tuple[str, FuzzFigures]]:
    results = []
    with database_url(database, arguments.keep) as url:
        environment = {key: value for key, value in os.environ.items() if not key.startswith("TWINBRIDGE_")}
        environment.update(
            TWINBRIDGE_DATA_DIR=str(work / database / "data"),
            TWINBRIDGE_RATE_LIMIT="none",
        )
        if url:
            environment["TWINBRIDGE_DATABASE_URL"] = url
        (work / database).mkdir(parents=True, exist_ok=True)
        bench = Bench(work / database, environment)
        port = free_port()
        server = bench.start(
            ["serve", "--host", HOST, "--port", str(port), "--log-level", "warning"], "serve"
        )
        base_url = f"http://{HOST}:{port}"
        try:
            wait_until_serving(server, f"{base_url}/health", work / database / "serve.log")
            token = bench.cli("token", "--user", "fuzzer")
            for name, with_token in (("token", token), ("no token", None)):
                note(f"{database}: fuzzing with {name}, {arguments.examples} examples per operation")
                figures = run_schemathesis(
                    base_url,
                    work / database / name.replace(" ", "-"),
                    token=with_token,
                    max_examples=arguments.examples,
                    seed=arguments.seed,
                    workers=arguments.workers,
                    max_time=arguments.max_time,
                )
                results.append((f"{database}, {name}", figures))
                print(f"{database:10} {name:9} {figures.describe()}", flush=True)
                for code, operations in figures.failing_operations.items():
                    print(f"    {code}: {', '.join(operations[:12])}", flush=True)
                if figures.server_errors:
                    print(_unexpected_errors(work / database / "serve.log"), flush=True)
        finally:
            bench.stop_all()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--examples", type=int, default=50, help="examples per operation and phase")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-time", type=int, default=None, help="time budget of each pass, in seconds")
    parser.add_argument("--keep", action="store_true", help="keep the work directory and databases")
    arguments = parser.parse_args()
    databases = ["sqlite", "postgresql"] if arguments.database == "both" else [arguments.database]
    work = Path(tempfile.mkdtemp(prefix="twinbridge-fuzz-"))
    try:
        results = [result for database in databases for result in fuzz_database(database, arguments, work)]
    finally:
        if arguments.keep:
            note(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    requests = sum(figures.requests for _, figures in results)
    server_errors = sum(figures.server_errors for _, figures in results)
    violations = sum(figures.violations for _, figures in results)
    print(f"total: {requests} requests, {server_errors} x 5xx, {violations} schema violations")
    return 0 if server_errors == 0 and violations == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
