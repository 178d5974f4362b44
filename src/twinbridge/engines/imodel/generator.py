"""Synthetic test iModels of any size (node/generate.js), for tests and benchmarks.

Content: a custom schema with typed properties (TwinbridgeTest:TestBeam / TestColumn, plus
Generic:PhysicalObject), `models` physical models, `categories` coloured categories, and elements cycling
through boxes, cones, L-shaped extrusions, pyramids (polyface meshes), spheres and two-colour elements, each
with an origin and a yaw. Deterministic for a given seed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from twinbridge.engines.imodel.errors import EngineUnavailableError, GenerateError
from twinbridge.engines.imodel.process import NODE_DIRECTORY

if TYPE_CHECKING:
    from twinbridge.engines.imodel.pool import EnginePool

GENERATE_SCRIPT = NODE_DIRECTORY / "generate.js"


def generate_imodel(
    path: Path | str,
    *,
    elements: int = 100,
    models: int = 3,
    categories: int = 4,
    seed: int = 1,
    overwrite: bool = True,
    pool: EnginePool | None = None,
    timeout: float = 1800.0,
) -> dict[str, Any]:
    """Write a synthetic iModel to `path`; returns the generator's summary (counts, ids, timings).

    With a pool, a warm engine does the work (no process start); without one, generate.js runs on its own.
    """
    target = Path(path).resolve()
    target.parent.mkdir(parents=True, exist_ok=True)
    arguments = {"elements": elements, "models": models, "categories": categories, "seed": seed}
    if pool is not None:
        with pool.engine() as engine:
            reply = engine.request(
                "generate", timeout=timeout, path=str(target), overwrite=overwrite, **arguments
            )
        return {key: value for key, value in reply.items() if key not in ("id", "ok")}
    node = shutil.which("node")
    if not node:
        raise EngineUnavailableError("node is not on PATH; the iModel generator needs Node 20 or later")
    command = [node, str(GENERATE_SCRIPT), "--out", str(target)]
    for key, value in arguments.items():
        command += [f"--{key}", str(value)]
    if overwrite:
        command.append("--overwrite")
    # A cache directory of its own: the native library locks it, and other engines may be running.
    with tempfile.TemporaryDirectory(prefix="twinbridge-generate-") as cache:
        try:
            completed = subprocess.run(
                command,
                cwd=NODE_DIRECTORY,
                capture_output=True,
                timeout=timeout,
                check=False,
                env={**os.environ, "TWINBRIDGE_IMODEL_CACHE_DIR": cache},
            )
        except subprocess.TimeoutExpired:
            raise GenerateError(f"generating {target} took more than {timeout:g} s") from None
    if completed.returncode != 0:
        message = completed.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GenerateError(f"generating {target} failed: {message[0] if message else completed.returncode}")
    summary: dict[str, Any] = json.loads(completed.stdout.decode().strip().splitlines()[-1])
    return summary
