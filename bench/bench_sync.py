"""Benchmark of IFC -> iModel synchronization against its two floors, on generated IFC files.

For each size (products: walls, slabs and columns with property sets, bench/ifc_generator.py) it prints:
- products per second of `synchronize_ifc` into an empty iModel (reading, tessellating, building the
  element specs, writing and saving the snapshot);
- peak memory of the process tree: Python's RSS high-water mark (getrusage), plus the largest of the reading
  processes' (reading_process.py: they read the file one after the other, each reporting its own
  high-water mark), plus the engine's (VmHWM). The fork server the reading processes come from is counted
  too ("python MB" includes it: its memory is mostly shared with them, so this overstates);
- ratio = sync time / (floor a + floor b), where floor a is IfcOpenShell alone: opening the same file and
  draining its geometry iterator over the same products with the connector's settings, geometry library
  and threads (the meshes taken as numpy views, nothing else), and floor b is the engine alone:
  `SnapshotWriter.upsert_elements` of the very element specs the sync wrote (captured during it), into a
  new snapshot with the same schema, models and categories, and saving it.
Targets: ratio <= 1.5 and peak memory < 1.5 GB at 50k products (issue 13); under 2 GB at 200k (issue 18).
"read s" is the time to read the file's products (read_products: records, property types, containers) and
"mesh+write s" that of meshing them a batch at a time while the engine writes the previous batch, and saving
(the connector's own report).

Each size runs in a child process of its own, so that peak memory is that of one synchronization.

    python bench/bench_sync.py [--sizes 1000,10000,50000] [--cache DIR] [--profile FILE]
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from multiprocessing import forkserver
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.geom
import numpy as np

from harness import note
from ifc_generator import generate_ifc
from twinbridge.engines.connectors import ifc_reader, reading_process, synchronize_ifc
from twinbridge.engines.connectors.writer import SnapshotWriter
from twinbridge.engines.imodel import EnginePool
from twinbridge.engines.imodel.process import high_water_mark_bytes

DEFAULT_SIZES = (1_000, 10_000, 50_000)
WARM_UP_PRODUCTS = 20


def python_peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def fork_server_peak_bytes() -> int:
    """The RSS high-water mark of the fork server of the reading processes (0 when none was started)."""
    process_id = getattr(forkserver._forkserver, "_forkserver_pid", None)
    return (high_water_mark_bytes(process_id) or 0) if process_id else 0


def generated_file(cache: Path, products: int) -> Path:
    path = cache / f"generated-{products}.ifc"
    if not path.exists():
        started = time.perf_counter()
        generate_ifc(path, products)
        note(f"generated {path.name} in {time.perf_counter() - started:.1f} s")
    return path


class WriterCalls:
    """Records what the connector asks of its SnapshotWriter, so that floor b can replay it.

    The specs are pickled to a file as they are written (the connector holds one batch at a time, so
    keeping them would add to the peak being measured); the time that takes counts in the sync's, which
    makes the ratio a little worse than the connector's. Time spent in `upsert_elements` is summed as well.
    """

    RECORDED = ("create", "import_schemas", "ensure_model", "ensure_category", "ensure_repository_link")

    def __init__(self, spool: Path) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any], Any]] = []
        self.spool_path = spool
        self.spool = spool.open("wb")
        self.upsert_seconds = 0.0
        self.originals: dict[str, Any] = {}

    def __enter__(self) -> WriterCalls:
        for name in (*self.RECORDED, "upsert_elements"):
            original = getattr(SnapshotWriter, name)
            self.originals[name] = original
            setattr(SnapshotWriter, name, self._recording(name, original))
        return self

    def __exit__(self, *exc_info: object) -> None:
        for name, original in self.originals.items():
            setattr(SnapshotWriter, name, original)
        self.spool.close()

    def specs(self) -> list[dict[str, Any]]:
        """Every spec the sync upserted, in order."""
        specs: list[dict[str, Any]] = []
        with self.spool_path.open("rb") as spool:
            while True:
                try:
                    specs += pickle.load(spool)
                except EOFError:
                    return specs

    def _recording(self, name: str, original: Any) -> Any:
        calls = self

        def recorded(writer: SnapshotWriter, *arguments: Any, **keywords: Any) -> Any:
            started = time.perf_counter()
            result = original(writer, *arguments, **keywords)
            if name == "upsert_elements":
                calls.upsert_seconds += time.perf_counter() - started
                pickle.dump(list(arguments[0]), calls.spool, protocol=pickle.HIGHEST_PROTOCOL)
            else:
                calls.calls.append((name, arguments, keywords, result))
            return result

        return recorded


def floor_ifcopenshell(source: Path) -> tuple[float, int]:
    """Seconds to open the file and mesh its importable products as the connector does; their triangles."""
    started = time.perf_counter()
    model = ifcopenshell.open(str(source))
    products = [product for product in ifc_reader.importable_products(model) if ifc_reader.meshed(product)]
    triangles = 0
    # One thread, as `_tessellate` uses when the connector is not told a number (synchronize_ifc never is),
    # and as many products per iterator.
    for start in range(0, len(products), ifc_reader.PRODUCTS_PER_ITERATOR):
        iterator = ifcopenshell.geom.iterator(
            ifc_reader._settings(),
            model,
            1,
            include=products[start : start + ifc_reader.PRODUCTS_PER_ITERATOR],
            geometry_library=ifc_reader.GEOMETRY_LIBRARY,
        )
        if iterator.initialize():
            while True:
                geometry = iterator.get().geometry
                np.frombuffer(geometry.verts_buffer, "d")
                triangles += len(np.frombuffer(geometry.faces_buffer, "i")) // 3
                if not iterator.next():
                    break
    return time.perf_counter() - started, triangles


def floor_engine(pool: EnginePool, calls: WriterCalls, specs: list[dict[str, Any]]) -> float:
    """Seconds for the engine to insert the sync's element specs into a new snapshot and save it."""
    with pool.engine() as engine:
        writer = SnapshotWriter(engine)
        for name, arguments, keywords, result in calls.calls:
            replayed = getattr(writer, name)(*arguments, **keywords)
            if name != "create":  # ids must match: the specs refer to them
                assert replayed == result, (name, replayed, result)
        started = time.perf_counter()
        writer.upsert_elements(specs)
        writer.save("floor b")
        seconds = time.perf_counter() - started
        writer.close()
    return seconds


def measure(products: int, cache: Path, profile: Path | None) -> dict[str, Any]:
    """One size, in the current process: the sync first (for the memory peak), then the two floors."""
    source = generated_file(cache, products)
    warm_up = generated_file(cache, WARM_UP_PRODUCTS)
    work = Path(tempfile.mkdtemp(prefix="twinbridge-bench-"))
    result: dict[str, Any] = {"products": products}
    with EnginePool(1) as pool:
        # The engine's start and the first imports are not what is measured.
        synchronize_ifc([warm_up], None, work / "warm-up.bim", pool)
        profiler = cProfile.Profile() if profile else None
        with WriterCalls(work / "specs.pickle") as calls:
            started = time.perf_counter()
            if profiler:
                profiler.enable()
            report = synchronize_ifc([source], None, work / "sync.bim", pool)
            if profiler:
                profiler.disable()
            result["sync_seconds"] = time.perf_counter() - started
        result["python_peak_bytes"] = python_peak_bytes() + fork_server_peak_bytes()
        result["reader_peak_bytes"] = reading_process.largest_peak_bytes()
        result["engine_peak_bytes"] = pool.peak_memory_bytes()
        if profiler and profile:
            profiler.dump_stats(str(profile))
        assert report.inserted == products, (report.inserted, products)
        assert not report.issues, report.issues[:5]
        result["read_seconds"] = report.files[0].read_seconds
        result["write_seconds"] = report.write_seconds
        result["upsert_seconds"] = calls.upsert_seconds
        specs = calls.specs()
        result["triangles"] = sum(
            len(entry["indexedMesh"]["pointIndex"]) // 4
            for spec in specs
            for entry in spec["geom"]
            if "indexedMesh" in entry
        )
        result["floor_engine_seconds"] = floor_engine(pool, calls, specs)
        del specs
    result["floor_ifc_seconds"], triangles = floor_ifcopenshell(source)
    assert triangles == result["triangles"], (triangles, result["triangles"])
    result["ratio"] = result["sync_seconds"] / (result["floor_ifc_seconds"] + result["floor_engine_seconds"])
    result["products_per_second"] = products / result["sync_seconds"]
    result["peak_bytes"] = (
        result["python_peak_bytes"] + result["reader_peak_bytes"] + result["engine_peak_bytes"]
    )
    shutil.rmtree(work)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(str(size) for size in DEFAULT_SIZES))
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "twinbridge-bench")
    parser.add_argument("--profile", type=Path, help="cProfile the sync of each size into FILE-<size>")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    arguments.cache.mkdir(parents=True, exist_ok=True)
    if arguments.child:
        profile = Path(f"{arguments.profile}-{arguments.child}") if arguments.profile else None
        print(json.dumps(measure(arguments.child, arguments.cache, profile)))
        return
    print(f"{'products':>9} {'triangles':>10} {'sync s':>8} {'prod/s':>7} {'read s':>7} {'mesh+write s':>12} "
          f"{'floor a':>8} {'floor b':>8} {'ratio':>6} {'python MB':>10} {'reader MB':>10} {'engine MB':>10} "
          f"{'peak MB':>8}")  # fmt: skip
    for size in (int(text) for text in arguments.sizes.split(",") if text.strip()):
        # Generated here, not in the child: the generator's memory is not the sync's peak.
        generated_file(arguments.cache, size)
        generated_file(arguments.cache, WARM_UP_PRODUCTS)
        command = [sys.executable, __file__, "--child", str(size), "--cache", str(arguments.cache)]
        if arguments.profile:
            command += ["--profile", str(arguments.profile)]
        completed = subprocess.run(command, check=False, capture_output=True, text=True)
        if completed.returncode != 0:
            raise SystemExit(f"size {size} failed:\n{completed.stderr}")
        row = json.loads(completed.stdout.strip().splitlines()[-1])
        megabytes = {
            key: row[key] / 1e6
            for key in ("python_peak_bytes", "reader_peak_bytes", "engine_peak_bytes", "peak_bytes")
        }
        print(
            f"{row['products']:>9} {row['triangles']:>10} {row['sync_seconds']:>8.2f} "
            f"{row['products_per_second']:>7.0f} {row['read_seconds']:>7.2f} {row['write_seconds']:>12.2f} "
            f"{row['floor_ifc_seconds']:>8.2f} {row['floor_engine_seconds']:>8.2f} {row['ratio']:>6.2f} "
            f"{megabytes['python_peak_bytes']:>10.0f} {megabytes['reader_peak_bytes']:>10.0f} "
            f"{megabytes['engine_peak_bytes']:>10.0f} "
            f"{megabytes['peak_bytes']:>8.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
