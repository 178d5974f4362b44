"""Reading in processes of their own: what they make comes back, what they raise is raised, a process that
dies is a clear error, and a reader that stops early ends its process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SAMPLES
from twinbridge.engines.connectors import SourceFileError
from twinbridge.engines.connectors.reading_process import largest_peak_bytes, read_in_process

SOURCE = Path("model.ifc")


def _process_ids(path: Path, count: int) -> Iterator[int]:
    for _ in range(count):
        yield os.getpid()


def _raises_after_one(path: Path) -> Iterator[int]:
    yield 1
    raise SourceFileError(path, "its syntax is invalid")


def _raises_unpicklable(path: Path) -> Iterator[int]:
    class Local(Exception):
        pass

    raise Local("a local exception class does not pickle")
    yield 0


def _dies(path: Path) -> Iterator[int]:
    os.kill(os.getpid(), signal.SIGKILL)
    yield 0


def _endless(path: Path) -> Iterator[int]:
    while True:
        yield os.getpid()


def test_what_a_reading_process_yields_comes_back_in_order_from_another_process() -> None:
    process_ids = list(read_in_process(SOURCE, _process_ids, 3))
    assert len(process_ids) == 3
    assert len(set(process_ids)) == 1
    assert process_ids[0] != os.getpid()
    assert largest_peak_bytes() > 0


def test_each_reading_is_a_process_of_its_own() -> None:
    (first,) = read_in_process(SOURCE, _process_ids, 1)
    (second,) = read_in_process(SOURCE, _process_ids, 1)
    assert first != second


def test_a_source_file_error_in_a_reading_process_is_raised_as_it_is() -> None:
    reading = read_in_process(SOURCE, _raises_after_one)
    assert next(reading) == 1
    with pytest.raises(SourceFileError) as raised:
        next(reading)
    assert (raised.value.path, raised.value.problem) == (SOURCE, "its syntax is invalid")


def test_an_exception_that_does_not_pickle_comes_back_as_its_text() -> None:
    with pytest.raises(RuntimeError, match="Local: a local exception class does not pickle"):
        list(read_in_process(SOURCE, _raises_unpicklable))


def test_a_reading_process_that_dies_is_a_source_file_error_naming_the_file() -> None:
    with pytest.raises(SourceFileError, match="IfcOpenShell stopped while reading the file") as raised:
        list(read_in_process(SOURCE, _dies))
    assert raised.value.path == SOURCE


def test_a_reader_that_stops_early_ends_its_process() -> None:
    reading = read_in_process(SOURCE, _endless)
    process_id = next(reading)
    reading.close()
    with pytest.raises(ProcessLookupError):
        os.kill(process_id, 0)


CELERY_POOL_READING = """
import sys
import time
from pathlib import Path

import billiard.pool

from twinbridge.engines.connectors.ifc_reader import read_ifc


def products_meshed(path):
    return sum(1 for record in read_ifc(Path(path), threads=1).products if record.mesh)


if __name__ == "__main__":
    pool = billiard.pool.Pool(1)  # Celery's prefork pool, as `twinbridge worker` runs it
    try:
        print(pool.apply(products_meshed, (sys.argv[1],)))
    finally:
        pool.terminate()
        pool.join()
"""


def test_a_celery_pool_process_reads_a_file_in_processes_of_its_own(tmp_path: Path) -> None:
    script = tmp_path / "celery_pool_reading.py"
    script.write_text(CELERY_POOL_READING)
    completed = subprocess.run(
        [sys.executable, str(script), str(SAMPLES / "ifc" / "pass-sps005-250612_wall_with_window.ifc")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.strip().splitlines()[-1] == "2"  # the wall and the window; the opening has none


def _silent(path: Path, process_id_file: str) -> Iterator[int]:
    Path(process_id_file).write_text(str(os.getpid()))
    while True:
        time.sleep(1)
    yield 0


class Canceled(Exception):
    pass


def test_a_check_that_raises_while_nothing_comes_stops_the_reading_and_its_process(tmp_path: Path) -> None:
    process_id_file = tmp_path / "reader.pid"
    checks = []

    def check() -> None:
        checks.append(True)
        if process_id_file.exists():
            raise Canceled

    with pytest.raises(Canceled):
        list(read_in_process(SOURCE, _silent, str(process_id_file), check=check))
    assert checks
    with pytest.raises(ProcessLookupError):
        os.kill(int(process_id_file.read_text()), 0)
