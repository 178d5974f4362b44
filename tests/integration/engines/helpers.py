"""Constants and small readers shared by the engine integration tests and their fixtures."""

from __future__ import annotations

import sqlite3
from pathlib import Path

GENERATED_ELEMENTS = 120
GENERATED_MODELS = 3
# A sphere's GeometryStream cut short: the native faceter dies with SIGSEGV on it (found by fuzzing).
DAMAGED_GEOMETRY_STREAM = bytes.fromhex(
    "7b00900130000600008800000001000000080d0801013804000000280000001c00000018000c0d1e110100070509001805065c0001dcdb"
    "040003000000"
)


def geometric_element_count(path: Path) -> int:
    with sqlite3.connect(f"file:{path}?immutable=1", uri=True) as database:
        (count,) = database.execute("SELECT COUNT(*) FROM bis_GeometricElement3d").fetchone()
    return int(count)
