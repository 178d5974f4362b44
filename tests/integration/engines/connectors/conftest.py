"""Fixtures of the IFC connector's integration tests: each sample synchronized once per session."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from twinbridge.engines.connectors import SyncReport, synchronize_ifc
from twinbridge.engines.imodel import EnginePool

SyncFunction = Callable[[Path], tuple[Path, SyncReport]]


@pytest.fixture(scope="session")
def synced(tmp_path_factory: pytest.TempPathFactory, engine_pool: EnginePool) -> SyncFunction:
    """Each sample synchronized once into an empty iModel (file key "main"); tests share the results."""
    directory = tmp_path_factory.mktemp("ifc-sync")
    done: dict[Path, tuple[Path, SyncReport]] = {}

    def sync(source: Path) -> tuple[Path, SyncReport]:
        if source not in done:
            output = directory / f"{source.stem}.bim"
            done[source] = (output, synchronize_ifc([source], None, output, engine_pool, file_keys=["main"]))
        return done[source]

    return sync
