"""A run's workspace: names made from callers' names stay inside it, an interrupted attempt's files go,
and a disk without TWINBRIDGE_MIN_FREE_DISK bytes free is refused before anything is written."""

from __future__ import annotations

from pathlib import Path

import pytest

from twinbridge.config import Settings
from twinbridge.platform.disk import NotEnoughDiskSpace
from twinbridge.runs.workspace import local_file_name, run_workspace


@pytest.mark.parametrize(
    ("name", "local"),
    [
        ("wall.ifc", "wall.ifc"),
        (".", "source"),
        ("..", "source"),
        ("", "source"),
        ("../../etc/passwd", "passwd"),
        ("C:\\models\\wall.IFC", "wall.IFC"),
        (".ifc", "source.ifc"),
        ("a\x00b\x1f.ifc", "a_b_.ifc"),
        ("x" * 300 + ".ifc", "x" * 50 + ".ifc"),
        ("wall.not an extension", "wall.not an extension"),
    ],
)
def test_a_callers_name_becomes_one_safe_file_name(name: str, local: str) -> None:
    assert local_file_name(name, "source") == local


def test_a_long_name_of_wide_characters_fits_a_file_system_name() -> None:
    assert len(local_file_name("é" * 300 + ".ifc", "source").encode()) <= 255


def test_the_workspace_removes_what_an_interrupted_attempt_left_and_goes_at_the_end(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, min_free_disk=0)
    leftover = tmp_path / "tmp" / "run-r1" / "half.ifc"
    leftover.parent.mkdir(parents=True)
    leftover.write_bytes(b"half")
    with run_workspace(settings, "r1") as directory:
        assert directory == leftover.parent
        assert list(directory.iterdir()) == []
        (directory / "out.ifc").write_bytes(b"x")
    assert not directory.exists()


def test_a_disk_with_less_free_space_than_required_is_refused_before_writing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, min_free_disk=2**62)
    with pytest.raises(NotEnoughDiskSpace) as raised, run_workspace(settings, "r1"):
        pass
    assert raised.value.needed == 2**62
    assert str(tmp_path) not in str(raised.value)
    assert list((tmp_path / "tmp").iterdir()) == []
