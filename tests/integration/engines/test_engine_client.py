"""The engine client against real engine processes: queries, meshes, errors, crashes and hangs."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import SAMPLE_IMODELS
from tests.integration.engines.helpers import GENERATED_ELEMENTS
from twinbridge.engines.imodel import (
    EngineCrashedError,
    EngineOptions,
    EnginePool,
    GraphicsExportReport,
    IModelFileError,
    QueryError,
    RecordType,
)


def element_ids(pool: EnginePool, path: Path) -> list[int]:
    with pool.open(path) as imodel:
        return [
            int(row["id"], 16) for row in imodel.query("SELECT ECInstanceId id FROM bis.GeometricElement3d")
        ]


def test_pool_processes_are_warmed_once_and_reused(engine_pool: EnginePool, generated_imodel: Path) -> None:
    with engine_pool.engine() as engine:
        first_pid = engine.pid
        assert engine.warm_info["warmMs"] >= 0
    with engine_pool.engine() as engine:
        assert engine.pid == first_pid
        assert engine.request("ping")["warmed"] is True


def test_queries_stream_every_row_in_batches(engine_pool: EnginePool, generated_imodel: Path) -> None:
    with engine_pool.open(generated_imodel) as imodel:
        rows = list(
            imodel.query("SELECT ECInstanceId id, CodeValue code FROM bis.PhysicalElement", batch_size=7)
        )

    assert len(rows) == GENERATED_ELEMENTS
    assert {row["code"] for row in rows} == {f"E-{index}" for index in range(1, GENERATED_ELEMENTS + 1)}


def test_local_meshes_lie_in_the_element_bounding_boxes(
    engine_pool: EnginePool, generated_imodel: Path
) -> None:
    ids = element_ids(engine_pool, generated_imodel)
    with engine_pool.open(generated_imodel) as imodel:
        boxes = {
            int(row["id"], 16): (row["low"], row["high"])
            for row in imodel.query(
                "SELECT ECInstanceId id, BBoxLow low, BBoxHigh high FROM bis.GeometricElement3d"
            )
        }
        report = GraphicsExportReport()
        seen = []
        for graphics in imodel.export_graphics(ids, report=report, chunk_size=16):
            seen.append(graphics.element_id)
            low, high = boxes[graphics.element_id]
            for record in graphics.records:
                assert record.record_type is RecordType.MESH
                assert record.positions.dtype == np.float32
                assert record.indices.max() < len(record.positions)
                upper = np.array([high["x"], high["y"], high["z"]]) + 1e-3
                lower = np.array([low["x"], low["y"], low["z"]]) - 1e-3
                assert np.all(record.positions <= upper)
                assert np.all(record.positions >= lower)

    assert sorted(seen) == sorted(ids)
    assert report.elements_with_graphics == GENERATED_ELEMENTS
    assert report.triangles > GENERATED_ELEMENTS * 4
    assert report.engine_restarts == 0


def test_two_colour_elements_give_one_record_per_colour(
    engine_pool: EnginePool, generated_imodel: Path
) -> None:
    with engine_pool.open(generated_imodel) as imodel:
        (row,) = imodel.query_all("SELECT ECInstanceId id FROM bis.Element WHERE UserLabel = 'twoColour 6'")
        (graphics,) = imodel.export_graphics([int(row["id"], 16)])

    assert len({record.rgba for record in graphics.records}) == 2


@pytest.mark.parametrize("content", [b"just text", b"SQLite format 3\x00" + b"\x00" * 200])
def test_files_that_are_not_imodels_raise_imodel_file_errors(
    engine_pool: EnginePool, tmp_path: Path, content: bytes
) -> None:
    path = tmp_path / "not-an-imodel.bim"
    path.write_bytes(content)

    with pytest.raises(IModelFileError), engine_pool.open(path):
        pass


def test_a_plain_sqlite_database_is_not_an_imodel(engine_pool: EnginePool, tmp_path: Path) -> None:
    path = tmp_path / "plain.db"
    with sqlite3.connect(path) as database:
        database.execute("CREATE TABLE t (x)")

    with pytest.raises(IModelFileError, match="property table"), engine_pool.open(path):
        pass


def test_a_bad_statement_raises_query_error_and_the_engine_stays_usable(
    engine_pool: EnginePool, generated_imodel: Path
) -> None:
    with engine_pool.open(generated_imodel) as imodel:
        with pytest.raises(QueryError):
            imodel.query_all("SELECT Nothing FROM bis.NoSuchClass")
        assert imodel.query_all("SELECT COUNT(*) n FROM bis.PhysicalElement") == [{"n": GENERATED_ELEMENTS}]


def test_leaving_a_stream_early_cancels_it_and_the_engine_stays_usable(
    engine_pool: EnginePool, generated_imodel: Path
) -> None:
    ids = element_ids(engine_pool, generated_imodel)
    with engine_pool.open(generated_imodel) as imodel:
        for _ in imodel.export_graphics(ids, chunk_size=5):
            break
        for _ in imodel.query("SELECT ECInstanceId FROM bis.Element", batch_size=2):
            break
        assert imodel.query_all("SELECT COUNT(*) n FROM bis.PhysicalElement") == [{"n": GENERATED_ELEMENTS}]


def test_an_engine_killed_mid_export_is_replaced_and_the_export_completes(generated_imodel: Path) -> None:
    with EnginePool(1) as pool:
        ids = element_ids(pool, generated_imodel)
        report = GraphicsExportReport()
        delivered = []
        with pool.open(generated_imodel) as imodel:
            first_pid = imodel.engine.pid
            for graphics in imodel.export_graphics(ids, chunk_size=10, report=report):
                if not delivered:
                    assert first_pid is not None
                    os.kill(first_pid, signal.SIGKILL)
                delivered.append(graphics.element_id)
            assert imodel.engine.pid != first_pid
            assert imodel.query_all("SELECT COUNT(*) n FROM bis.PhysicalElement") == [
                {"n": GENERATED_ELEMENTS}
            ]

    assert sorted(delivered) == sorted(ids)
    assert len(delivered) == len(set(delivered))
    assert report.engine_restarts >= 1
    assert report.failed_element_ids == []
    assert pool.restarts >= 1


def test_a_hung_engine_times_out_is_replaced_and_the_export_completes(generated_imodel: Path) -> None:
    with EnginePool(1, EngineOptions(stream_idle_timeout=3.0)) as pool:
        ids = element_ids(pool, generated_imodel)
        report = GraphicsExportReport()
        delivered = []
        with pool.open(generated_imodel) as imodel:
            stopped_pid = imodel.engine.pid
            for graphics in imodel.export_graphics(ids, chunk_size=10, report=report):
                if not delivered:
                    assert stopped_pid is not None
                    os.kill(stopped_pid, signal.SIGSTOP)
                delivered.append(graphics.element_id)

    assert sorted(delivered) == sorted(ids)
    assert report.engine_restarts >= 1


def test_an_element_that_crashes_the_engine_is_isolated_and_reported_failed(generated_imodel: Path) -> None:
    with EnginePool(1) as pool:
        ids = element_ids(pool, generated_imodel)
    culprit = ids[37]
    options = EngineOptions(environment={"TWINBRIDGE_ENGINE_TEST_CRASH_ELEMENTS": f"0x{culprit:x}"})
    with EnginePool(1, options) as pool, pool.open(generated_imodel) as imodel:
        report = GraphicsExportReport()
        results = list(imodel.export_graphics(ids, chunk_size=16, report=report))

    assert [graphics.element_id for graphics in results if graphics.failed] == [culprit]
    assert report.failed_element_ids == [culprit]
    assert sorted(graphics.element_id for graphics in results) == sorted(ids)
    # 16 -> 8 -> 4 -> 2 -> 1: one crash per halving until the element is alone.
    assert report.engine_restarts == 5


def test_a_damaged_geometry_stream_never_loses_the_other_elements(
    damaged_imodel: tuple[Path, list[int]],
) -> None:
    # The native faceter crashes on this stream most of the time, not always: whatever happens, every
    # undamaged element arrives once; a damaged one arrives, is reported failed, or has no graphics.
    path, damaged = damaged_imodel
    with EnginePool(1) as pool:
        ids = element_ids(pool, path)
        report = GraphicsExportReport()
        with pool.open(path) as imodel:
            results = list(imodel.export_graphics(ids, chunk_size=8, report=report))

    failed = [graphics.element_id for graphics in results if graphics.failed]
    assert set(failed) <= set(damaged)
    delivered = [graphics.element_id for graphics in results]
    assert len(delivered) == len(set(delivered))
    assert set(delivered) >= set(ids) - set(damaged)


def test_a_crash_outside_an_export_raises_and_the_pool_starts_a_new_engine(generated_imodel: Path) -> None:
    with EnginePool(1) as pool:
        with pool.open(generated_imodel) as imodel:
            assert imodel.engine.pid is not None
            os.kill(imodel.engine.pid, signal.SIGKILL)
            with pytest.raises(EngineCrashedError):
                imodel.query_all("SELECT COUNT(*) n FROM bis.Element")
        with pool.open(SAMPLE_IMODELS / "Building Blocks.bim") as imodel:
            assert imodel.info["name"] == "Blocks.bim"
