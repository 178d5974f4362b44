"""The OpenAPI document tells the truth: schemathesis fuzzes every operation of a served twinbridge, with a
token and without one, and finds no 5xx and no answer the document does not describe (a bounded pass;
bench/fuzz_api.py runs a longer one)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fuzzing import run_schemathesis
from tests.integration.conftest import Server

Cli = Callable[..., subprocess.CompletedProcess[str]]
# Few examples per operation: the coverage phase's boundary cases are most of the pass either way.
MAX_EXAMPLES = 2
SEED = 17


@pytest.mark.e2e
@pytest.mark.parametrize("with_token", [True, False], ids=["token", "no-token"])
def test_fuzzing_every_operation_finds_no_5xx_and_no_schema_violation(
    server: Server, cli: Cli, tmp_path: Path, with_token: bool
) -> None:
    token = cli("token", "--user", "fuzzer").stdout.strip() if with_token else None
    figures = run_schemathesis(
        server.url,
        tmp_path / "fuzz",
        token=token,
        max_examples=MAX_EXAMPLES,
        seed=SEED,
        # Without a token every operation that needs one answers 401 whatever it is sent: random cases do.
        phases=() if with_token else ("fuzzing",),
    )
    assert figures.operations >= 90
    assert figures.requests > (1000 if with_token else 100)
    assert (figures.server_errors, figures.failing_operations) == (0, {}), (
        f"{figures.describe()}\n{figures.output}"
    )
