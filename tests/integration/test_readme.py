"""The README's first steps run as written and print what the README shows.

Every `sh` block from "First steps" to "What is served" runs, in order, in one bash process against a
served twinbridge, from a folder that holds the repository's `samples/` and `.venv/` as a clone does. The
`text` block after a `sh` block is what that block prints (`…` stands for anything on its line); a block
with no `text` block after it must print nothing.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.integration.conftest import Server

REPOSITORY = Path(__file__).resolve().parents[2]
README = REPOSITORY / "README.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.DOTALL)
END_OF_BLOCK = "@@readme-block-end@@"


def walkthrough() -> list[tuple[str, str | None]]:
    """(code, expected output or None) of each `sh` block of the walkthrough sections."""
    text = README.read_text()
    section = text[text.index("## First steps") : text.index("## What is served")]
    blocks: list[tuple[str, str | None]] = []
    for match in BLOCK.finditer(section):
        language, body = match.group(1), match.group(2)
        if language == "sh":
            blocks.append((body, None))
        elif language == "text" and blocks and blocks[-1][1] is None:
            blocks[-1] = (blocks[-1][0], body)
    return blocks


def matches(expected: str, printed: str) -> bool:
    lines = [".*".join(re.escape(part) for part in line.split("…")) for line in expected.splitlines()]
    return re.fullmatch("\n".join(lines), printed.rstrip("\n")) is not None


def test_the_readme_walkthrough_has_blocks_with_their_output() -> None:
    blocks = walkthrough()
    assert len(blocks) >= 10
    assert sum(expected is not None for _, expected in blocks) >= 8


def test_every_command_of_the_first_steps_prints_what_the_readme_shows(
    server: Server, environment: dict[str, str], tmp_path: Path
) -> None:
    work = tmp_path / "clone"
    work.mkdir()
    (work / "samples").symlink_to(REPOSITORY / "samples")
    (work / ".venv").symlink_to(Path(sys.executable).parent.parent)
    blocks = walkthrough()
    script = "set -euo pipefail\n" + "".join(
        f"{code.replace('http://127.0.0.1:8080', server.url)}\necho {END_OF_BLOCK}\n" for code, _ in blocks
    )
    done = subprocess.run(
        ["bash", "-c", script],
        cwd=work,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=900,
        check=False,
    )
    printed = done.stdout.split(f"{END_OF_BLOCK}\n")
    assert done.returncode == 0, f"block {len(printed)} failed:\n{printed[-1]}"
    for index, (code, expected) in enumerate(blocks):
        if expected is None:
            assert printed[index] == "", (
                f"this block should print nothing:\n{code}\nit printed:\n{printed[index]}"
            )
        else:
            assert matches(expected, printed[index]), f"{code}\nprinted:\n{printed[index]}\nnot:\n{expected}"
