"""A baseline file uploaded and a checkpoint downloaded by @azure/storage-blob itself, the library behind
Bentley's storage clients, against a served twinbridge: Put Blob, Put Block with Put Block List (how it sends
files over 256 MiB), and downloads with Content-Length, ETag and a range."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import SAMPLE_IMODELS
from tests.integration.conftest import Server

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(shutil.which("node") is None, reason="@azure/storage-blob needs node on PATH"),
]
Cli = Callable[..., subprocess.CompletedProcess[str]]
CLIENT = Path(__file__).with_name("azure_blob_client.js")
SOURCE = SAMPLE_IMODELS / "Building Blocks.bim"


def _azure(*arguments: str) -> dict[str, Any]:
    done = subprocess.run(["node", str(CLIENT), *arguments], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.mark.parametrize("mode", ["upload-in-blocks", "upload"])
def test_baseline_sent_by_the_azure_client_becomes_the_imodel_and_downloads_the_same(
    server: Server, cli: Cli, tmp_path: Path, mode: str
) -> None:
    itwin_id = cli("itwins", "create", "Plant", "--owner", "alice").stdout.strip()
    headers = {"Authorization": f"Bearer {cli('token', '--user', 'alice').stdout.strip()}"}
    created = httpx.post(
        f"{server.url}/imodels",
        json={"iTwinId": itwin_id, "name": "Blocks", "baselineFile": {"size": SOURCE.stat().st_size}},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    links = created.json()["iModel"]["_links"]
    assert _azure(mode, links["upload"]["href"], str(SOURCE)) == {"status": 201}
    completed = httpx.post(links["complete"]["href"], json={}, headers=headers)
    assert completed.status_code == 200, completed.text
    assert completed.json()["baselineFile"]["state"] == "initialized"

    download = completed.json()["baselineFile"]["_links"]["download"]
    assert download["storageType"] == "azure"
    target = tmp_path / "downloaded.bim"
    seen = _azure("download", download["href"], str(target))
    content = SOURCE.read_bytes()
    assert target.read_bytes() == content
    assert (seen["status"], seen["contentLength"]) == (200, len(content))
    assert seen["etag"].startswith('"')
    assert (seen["rangeStatus"], seen["contentRange"]) == (206, f"bytes 100-1099/{len(content)}")
    assert bytes.fromhex(seen["rangeHex"]) == content[100:1100]
