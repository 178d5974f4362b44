"""Is this file an iModel? A .bim is an SQLite database in the BIS/ECDb layout (spec/imodel-format.md §1).

The check reads only metadata: it refuses anything that is not SQLite, not a BeDb, lacks the BIS tables,
has an ECDb profile other than 4.x, or fails SQLite's quick integrity check. Each refusal names the problem.
"""

from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

SQLITE_HEADER = b"SQLite format 3\x00"
BEDB_APPLICATION_ID = 0x42654462  # "BeDb"
REQUIRED_TABLES = ("be_Prop", "ec_Schema", "ec_Class", "bis_Element", "bis_Model")
SUPPORTED_ECDB_MAJOR = 4


class NotAnIModel(ValueError):
    """The file is not an iModel this server can use; the message says why, in words for the user."""


@dataclass(frozen=True)
class IModelFileInfo:
    root_subject: str | None
    element_count: int
    database_guid: str | None
    ecdb_profile: str
    biscore_version: str


def _connect_read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1", uri=True)


def inspect_imodel_file(path: Path) -> IModelFileInfo:
    """Checks that `path` is an iModel and reads a summary of it; raises NotAnIModel otherwise."""
    try:
        with path.open("rb") as handle:
            header = handle.read(len(SQLITE_HEADER))
    except OSError as failure:
        raise NotAnIModel(f"The file cannot be read: {failure.strerror}.") from None
    if header != SQLITE_HEADER:
        raise NotAnIModel("The file is not an iModel: it is not an SQLite database.")
    try:
        connection = _connect_read_only(path)
    except sqlite3.Error as failure:
        raise NotAnIModel(f"The file is not a readable SQLite database: {failure}.") from None
    try:
        return _inspect(connection)
    except sqlite3.DatabaseError as failure:
        raise NotAnIModel(f"The iModel file is corrupt: {failure}.") from None
    finally:
        connection.close()


def _inspect(connection: sqlite3.Connection) -> IModelFileInfo:
    integrity = connection.execute("PRAGMA quick_check(1)").fetchone()
    if integrity is None or integrity[0] != "ok":
        raise NotAnIModel(
            f"The iModel file is corrupt: SQLite reports '{integrity[0] if integrity else ''}'."
        )
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    if application_id != BEDB_APPLICATION_ID:
        raise NotAnIModel(
            "The file is an SQLite database but not an iModel: it is not a Bentley BeDb file "
            f"(application id {application_id:#x})."
        )
    tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    missing = [table for table in REQUIRED_TABLES if table not in tables]
    if missing:
        raise NotAnIModel(f"The file is not an iModel: it has no BIS table {', '.join(missing)}.")
    profile_row = connection.execute(
        "SELECT StrData FROM be_Prop WHERE Namespace='ec_Db' AND Name='SchemaVersion'"
    ).fetchone()
    profile = _profile_version(profile_row[0] if profile_row else None)
    biscore = connection.execute(
        "SELECT VersionDigit1, VersionDigit2, VersionDigit3 FROM ec_Schema WHERE Name='BisCore'"
    ).fetchone()
    if biscore is None:
        raise NotAnIModel("The file is not an iModel: it does not contain the BisCore schema.")
    root = connection.execute("SELECT CodeValue FROM bis_Element WHERE Id=1").fetchone()
    count = connection.execute("SELECT count(*) FROM bis_Element").fetchone()[0]
    guid_row = connection.execute(
        "SELECT Data FROM be_Prop WHERE Namespace='be_Db' AND Name='DbGuid'"
    ).fetchone()
    guid = (
        str(uuid.UUID(bytes=guid_row[0]))
        if guid_row and isinstance(guid_row[0], bytes) and len(guid_row[0]) == 16
        else None
    )
    return IModelFileInfo(
        root_subject=root[0] if root else None,
        element_count=int(count),
        database_guid=guid,
        ecdb_profile=profile,
        biscore_version=".".join(str(digit) for digit in biscore),
    )


def _profile_version(raw: str | None) -> str:
    if raw is None:
        raise NotAnIModel("The file is not an iModel: it has no ECDb profile version.")
    try:
        version = json.loads(raw)
        major = int(version["major"])
        text = f"{major}.{version.get('minor', 0)}.{version.get('sub1', 0)}.{version.get('sub2', 0)}"
    except (ValueError, KeyError, TypeError):
        raise NotAnIModel(f"The iModel's ECDb profile version '{raw}' cannot be read.") from None
    if major != SUPPORTED_ECDB_MAJOR:
        raise NotAnIModel(
            f"The iModel's ECDb profile {text} is not supported: this server reads ECDb 4.x iModels."
        )
    return text
