"""`twinbridge convert` as a user runs it: a summary line on success, one error line and exit 1 otherwise."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import ifcopenshell
import pytest

from tests.integration.engines.helpers import GENERATED_ELEMENTS


def convert(*arguments: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).parent / "twinbridge"
    command = [str(script)] if script.exists() else [sys.executable, "-m", "twinbridge.cli"]
    return subprocess.run(
        [*command, "convert", *arguments], capture_output=True, text=True, timeout=600, check=False
    )


def test_convert_writes_the_ifc_file_and_prints_a_summary(generated_imodel: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.ifc"

    result = convert(str(generated_imodel), str(target), "--ifc-version", "IFC4 RV 1.2")

    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    (summary,) = result.stderr.strip().splitlines()
    assert f"{GENERATED_ELEMENTS} elements" in summary
    assert "triangles" in summary
    assert summary.endswith(" s")
    assert ifcopenshell.open(str(target)).schema_identifier == "IFC4"


def test_convert_exports_only_the_chosen_models(generated_imodel: Path, tmp_path: Path) -> None:
    target = tmp_path / "one-model.ifc"

    result = convert(str(generated_imodel), str(target), "--model", "0x11", "--model", "0x12")

    assert result.returncode == 0, result.stderr
    model = ifcopenshell.open(str(target))
    assert len(model.by_type("IfcBuildingStorey")) == 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--ifc-version", "IFC5"], 'unknown IFC version "IFC5"'),
        (["--model", "0x999"], 'model "0x999" is not a model of'),
        (["--mapping", "MAPPING"], '"classes" must be an object'),
    ],
)
def test_bad_options_give_one_error_line_and_exit_code_1(
    generated_imodel: Path, tmp_path: Path, arguments: list[str], message: str
) -> None:
    mapping = tmp_path / "mapping.json"
    mapping.write_text(json.dumps({"classes": ["IfcWall"]}))
    target = tmp_path / "out.ifc"

    result = convert(
        str(generated_imodel),
        str(target),
        *[str(mapping) if value == "MAPPING" else value for value in arguments],
    )

    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("error: ")
    assert message in line
    assert not target.exists()


@pytest.mark.parametrize("content", [b"plain text, not an iModel", b"SQLite format 3\x00" + bytes(4000)])
def test_files_that_are_not_imodels_give_one_error_line(tmp_path: Path, content: bytes) -> None:
    source = tmp_path / "input.bim"
    source.write_bytes(content)

    result = convert(str(source), str(tmp_path / "out.ifc"))

    assert result.returncode == 1
    (line,) = result.stderr.strip().splitlines()
    assert "is not a readable iModel" in line
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out.ifc").exists()


def test_a_corrupt_imodel_gives_one_error_line(generated_imodel: Path, tmp_path: Path) -> None:
    source = tmp_path / "corrupt.bim"
    shutil.copyfile(generated_imodel, source)
    with source.open("r+b") as file:
        file.seek(4096)
        file.write(b"\xff" * 8192)

    result = convert(str(source), str(tmp_path / "out.ifc"))

    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error: ")
    assert not (tmp_path / "out.ifc").exists()


def test_a_missing_input_gives_one_error_line(tmp_path: Path) -> None:
    result = convert(str(tmp_path / "missing.bim"), str(tmp_path / "out.ifc"))

    assert result.returncode == 1
    assert result.stderr.strip() == f"error: {tmp_path / 'missing.bim'} does not exist or is not a file"
