from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tests.conftest import SAMPLE_IMODELS
from twinbridge.imodels.validation import NotAnIModel, inspect_imodel_file

SAMPLE_FILES = sorted(SAMPLE_IMODELS.glob("*.*bim"))


@pytest.mark.parametrize("sample", SAMPLE_FILES, ids=lambda path: path.name)
def test_every_sample_imodel_is_accepted(sample: Path) -> None:
    info = inspect_imodel_file(sample)
    assert info.ecdb_profile.startswith("4.")
    assert info.element_count >= 3


def test_summary_reads_the_root_subject_and_guid() -> None:
    info = inspect_imodel_file(SAMPLE_IMODELS / "213d69e0-9a83-4e3f-942d-694e94c9f905m.bim")
    assert info.root_subject == "Empty Test iModel"
    assert info.database_guid == "213d69e0-9a83-4e3f-942d-694e94c9f905"


def _refusal(path: Path) -> str:
    with pytest.raises(NotAnIModel) as raised:
        inspect_imodel_file(path)
    return str(raised.value)


def test_text_file_is_refused_as_not_sqlite(tmp_path: Path) -> None:
    path = tmp_path / "model.bim"
    path.write_text("ISO-10303-21;\n")
    assert _refusal(path) == "The file is not an iModel: it is not an SQLite database."


def test_plain_sqlite_database_is_refused_as_not_a_bedb(tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE t (x)")
    assert "not a Bentley BeDb file" in _refusal(path)


def test_bedb_without_bis_tables_is_refused_naming_them(tmp_path: Path) -> None:
    path = tmp_path / "bare.bim"
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA application_id=1113932898")
        connection.execute("CREATE TABLE be_Prop (x)")
    assert "it has no BIS table ec_Schema, ec_Class, bis_Element, bis_Model" in _refusal(path)


def test_unsupported_ecdb_profile_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "old.bim"
    shutil.copy(SAMPLE_IMODELS / "Building Blocks.bim", path)
    with sqlite3.connect(path) as connection:
        connection.execute(
            "UPDATE be_Prop SET StrData=? WHERE Namespace='ec_Db' AND Name='SchemaVersion'",
            ('{"major":3,"minor":1}',),
        )
    assert "ECDb profile 3.1.0.0 is not supported" in _refusal(path)


def test_truncated_imodel_is_refused_as_corrupt(tmp_path: Path) -> None:
    source = (SAMPLE_IMODELS / "Building Blocks.bim").read_bytes()
    path = tmp_path / "truncated.bim"
    path.write_bytes(source[: len(source) // 3])
    assert "corrupt" in _refusal(path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.bim"
    path.write_bytes(b"")
    assert _refusal(path) == "The file is not an iModel: it is not an SQLite database."
