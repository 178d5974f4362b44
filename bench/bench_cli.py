"""How long a user waits for each CLI command, and how soon `serve` answers /health.

Each command runs `--repeat` times in a fresh data directory (the first run of a command in a new data
directory also creates the database; it is measured apart as "first"); the table shows the median wall time
next to `python -c pass` measured in the same run (the floor: the interpreter's own start-up). Targets:
`--help`, `token`, `itwins create` and `clients create` under 0.4 s; `serve` answers /health within 2 s.

    .venv/bin/python bench/bench_cli.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import HOST, free_port, http, note, twinbridge_command

TARGET_SECONDS = 0.4
SERVE_TARGET_SECONDS = 2.0


def _timed(command: list[str], environment: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stderr}")
    return elapsed


def _serve_until_healthy(environment: dict[str, str]) -> float:
    port = free_port()
    started = time.perf_counter()
    process = subprocess.Popen(
        [*twinbridge_command(), "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        while time.perf_counter() - started < 60:
            try:
                if http("GET", f"http://{HOST}:{port}/health")[0] == 200:
                    return time.perf_counter() - started
            except OSError:
                pass
            time.sleep(0.01)
        raise SystemExit("serve did not answer /health within 60 s")
    finally:
        process.terminate()
        process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--repeat", type=int, default=7)
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as work:
        environment = {"TWINBRIDGE_DATA_DIR": str(Path(work) / "data"), "PATH": "/usr/bin:/bin"}
        tb = twinbridge_command()
        first = _timed([*tb, "itwins", "create", "First", "--owner", "alice"], environment)
        commands: dict[str, list[list[str]]] = {
            "python -c pass (floor)": [[sys.executable, "-c", "pass"]] * arguments.repeat,
            "twinbridge --help": [[*tb, "--help"]] * arguments.repeat,
            "twinbridge token --user alice": [[*tb, "token", "--user", "alice"]] * arguments.repeat,
            "twinbridge token --client bot": [[*tb, "token", "--client", "bot"]] * arguments.repeat,
            "twinbridge itwins create": [
                [*tb, "itwins", "create", f"P{index}", "--owner", "alice"]
                for index in range(arguments.repeat)
            ],
            "twinbridge clients create": [
                [*tb, "clients", "create", f"bot-{index}"] for index in range(arguments.repeat)
            ],
        }
        rows = []
        for label, runs in commands.items():
            times = [_timed(command, environment) for command in runs]
            rows.append((label, statistics.median(times), max(times)))
            note(f"{label}: {statistics.median(times):.3f} s")
        serve_times = [_serve_until_healthy(environment) for _ in range(3)]

    floor = rows[0][1]
    print("| command | median | slowest | minus the floor | target |\n|---|---|---|---|---|")
    for label, median, slowest in rows:
        target = "" if label.startswith("python") else f"< {TARGET_SECONDS} s"
        print(f"| `{label}` | {median:.3f} s | {slowest:.3f} s | {median - floor:+.3f} s | {target} |")
    print(f"| first command in a new data dir (creates the database) | {first:.3f} s | | | |")
    print(
        f"| `twinbridge serve` until /health answers | {statistics.median(serve_times):.3f} s | "
        f"{max(serve_times):.3f} s | | < {SERVE_TARGET_SECONDS} s |"
    )


if __name__ == "__main__":
    main()
