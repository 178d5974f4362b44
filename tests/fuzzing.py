"""Schema fuzzing of a served twinbridge with schemathesis (`st run`, every check), as the bounded pass of
`make test` (tests/integration/test_openapi_fuzz.py) and the longer one of bench/fuzz_api.py run it.

The rules of the run are the repository's schemathesis.toml. The figures come from its reports: requests
and their statuses from the HAR file, operations and failures (by check) from the JSON report.
"""

from __future__ import annotations

import collections
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
CONFIG = REPOSITORY / "schemathesis.toml"
SERVER_ERROR_CODE = "ST101"


@dataclass
class FuzzFigures:
    """What one pass found. `violations` are failures of every check but the server-error one."""

    requests: int
    operations: int
    server_errors: int
    statuses: dict[int, int]
    failures: dict[str, int] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)
    failing_operations: dict[str, list[str]] = field(default_factory=dict)
    # Schemathesis's own errors (an operation it could not generate for), not the server's.
    tool_errors: int = 0
    output: str = ""

    @property
    def violations(self) -> int:
        return sum(count for code, count in self.failures.items() if code != SERVER_ERROR_CODE)

    def describe(self) -> str:
        codes = ", ".join(
            f"{code} {self.titles[code]}: {count}" for code, count in sorted(self.failures.items())
        )
        return (
            f"{self.requests} requests to {self.operations} operations, {self.server_errors} answered 5xx, "
            f"{self.violations} schema violations{f' ({codes})' if codes else ''}"
            + (f"; schemathesis errors: {self.tool_errors}" if self.tool_errors else "")
        )


def run_schemathesis(
    base_url: str,
    report_dir: Path,
    *,
    token: str | None,
    max_examples: int,
    seed: int | None = None,
    workers: int = 2,
    max_time: int | None = None,
    phases: tuple[str, ...] = (),
) -> FuzzFigures:
    """One pass of every operation of `base_url`'s /openapi.json, with the token or without one; every phase
    (examples, coverage, fuzzing, stateful) unless `phases` names some."""
    report_dir.mkdir(parents=True, exist_ok=True)
    har, report = report_dir / "requests.har", report_dir / "report.json"
    command = [
        str(Path(sys.executable).parent / "st"),
        "--config-file",
        str(CONFIG),
        "run",
        f"{base_url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(max_examples),
        "--workers",
        str(workers),
        "--no-shrink",
        "--warnings",
        "off",
        "--report",
        "har,json",
        "--report-har-path",
        str(har),
        "--report-json-path",
        str(report),
    ]
    if token is not None:
        command += ["--header", f"Authorization: Bearer {token}"]
    if seed is not None:
        command += ["--seed", str(seed)]
    if max_time is not None:
        command += ["--max-time", str(max_time)]
    if phases:
        command += ["--phases", ",".join(phases)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=REPOSITORY)
    if not report.exists():
        raise AssertionError(f"schemathesis did not run:\n{done.stdout}\n{done.stderr}")
    entries = json.loads(har.read_text())["log"]["entries"]
    har.unlink()  # large, and only counted
    statuses = collections.Counter(int(entry["response"]["status"]) for entry in entries)
    summary = json.loads(report.read_text())
    return FuzzFigures(
        requests=len(entries),
        operations=int(summary["operations"]["tested"]),
        server_errors=sum(count for status, count in statuses.items() if status >= 500),
        statuses=dict(sorted(statuses.items())),
        failures={failure["code"]: int(failure["count"]) for failure in summary["failures"]},
        titles={failure["code"]: failure["title"] for failure in summary["failures"]},
        failing_operations={failure["code"]: list(failure["operations"]) for failure in summary["failures"]},
        tool_errors=len(summary.get("errors") or []),
        output=done.stdout[-20_000:],
    )
