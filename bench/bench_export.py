"""Benchmark of iModel -> IFC export against its two floors, on generated iModels.

For each size (elements) it prints:
- elements per second of the whole export (engine + IFC building + writing, IFC4.3);
- peak memory of the process tree: Python's RSS high-water mark (getrusage) plus the engine's (VmHWM);
- ratio = export time / (floor a + floor b), where floor a is the engine's exportGraphics alone over the same
  elements (stream drained, no IFC work) and floor b is IfcOpenShell writing the same triangles as
  IfcTriangulatedFaceSets into a minimal file from meshes collected beforehand (no iModel work).
Targets: ratio <= 1.5 and peak memory < 1 GB at 50k elements; at 100k, 500k and 1.5M elements, peak memory
(Python and the engine together) under 2 GB and flat past 100k, and 1.5M in under 30 minutes.
The floors hold every mesh in memory, so they are measured only up to --floors-up-to elements (100,000); the
larger sizes print the export alone, and its file's size. Every size checks that the file holds one IfcElement
per element (counted line by line: IfcOpenShell cannot open a 7 GB file here).
The exporter writes geometry as STEP text itself (stepfragment.py), several times faster than IfcOpenShell's
writer, so it can beat floor b. For that reason a third time is shown: "step s", the same meshes through the
exporter's own geometry writer (no IfcOpenShell), and "ratio*" = export time / (floor a + step s), the
overhead of everything else (properties, structure, waiting on each other).

Each size runs in a child process of its own, so that peak memory is that of one export.

    python bench/bench_export.py [--sizes 1000,10000,50000] [--cache DIR] [--floors-up-to N] [--ifc-version V]
    python bench/bench_export.py --sizes 100000,500000,1500000   # the large table (about 25 minutes,
                                                                 # plus generating the iModels once)
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import ifcopenshell
import ifcopenshell.ifcopenshell_wrapper
import numpy as np

from twinbridge.engines.ifc import export_imodel_to_ifc
from twinbridge.engines.ifc.factory import EntityFactory
from twinbridge.engines.ifc.geometry import ifc_mesh_arrays
from twinbridge.engines.ifc.stepfragment import StepFragment, StepGeometryWriter
from twinbridge.engines.imodel import EnginePool
from twinbridge.engines.imodel.generator import generate_imodel

DEFAULT_SIZES = (1_000, 10_000, 50_000)


def python_peak_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def product_lines(path: Path, schema: str) -> int:
    """The IfcElement entities of a STEP file, counted line by line (files of 1.5 million elements are too big
    for IfcOpenShell to open on this machine)."""
    declaration: Any = ifcopenshell.ifcopenshell_wrapper.schema_by_name(schema).declaration_by_name(
        "IfcElement"
    )
    keywords: set[bytes] = set()
    pending = [declaration]
    while pending:
        entity = pending.pop()
        keywords.add(f"={str(entity.name()).upper()}(".encode())
        pending.extend(entity.subtypes())
    count = 0
    with path.open("rb") as lines:
        for line in lines:
            start = line.find(b"=")
            if start > 0 and line[start : line.find(b"(", start) + 1] in keywords:
                count += 1
    return count


def measure(size: int, cache: Path, floors: bool, ifc_version: str) -> dict[str, Any]:
    """One size, in the current process: export first (for the memory peak), then the two floors."""
    source = cache / f"generated-{size}.bim"
    if not source.exists():
        generate_imodel(source, elements=size, models=5, categories=6, seed=11)
    work = Path(tempfile.mkdtemp(prefix="twinbridge-bench-"))
    result: dict[str, Any] = {"elements": size}
    with EnginePool(1) as pool:
        with pool.open(source):
            pass  # the first open of a file pays for page-cache reads; no measurement should
        started = time.perf_counter()
        summary = export_imodel_to_ifc(source, work / "export.ifc", ifc_version=ifc_version, pool=pool)
        result["export_seconds"] = time.perf_counter() - started
        result["triangles"] = summary.triangles
        result["file_bytes"] = (work / "export.ifc").stat().st_size
        result["python_peak_bytes"] = python_peak_bytes()
        result["engine_peak_bytes"] = pool.peak_memory_bytes()
        result["elements_per_second"] = size / result["export_seconds"]
        result["peak_bytes"] = result["python_peak_bytes"] + result["engine_peak_bytes"]
        result["products"] = product_lines(work / "export.ifc", summary.schema)
        if result["products"] != size:
            raise SystemExit(f"the file holds {result['products']} products, not {size}")
        if not floors:
            shutil.rmtree(work)
            return result

        with pool.open(source) as imodel:
            ids = [
                int(row["id"], 16)
                for row in imodel.query("SELECT ECInstanceId id FROM bis.GeometricElement3d")
            ]
            started = time.perf_counter()
            triangles = sum(graphics.triangle_count for graphics in imodel.export_graphics(ids))
            result["floor_engine_seconds"] = time.perf_counter() - started
            assert triangles == summary.triangles, (triangles, summary.triangles)
            meshes = [
                (record.positions.copy(), record.indices.copy())
                for graphics in imodel.export_graphics(ids)
                for record in graphics.records
            ]

    started = time.perf_counter()
    write_meshes_only(meshes, work / "floor.ifc")
    result["floor_ifc_seconds"] = time.perf_counter() - started
    started = time.perf_counter()
    write_meshes_as_step(meshes, work / "floor.step")
    result["floor_step_seconds"] = time.perf_counter() - started
    result["ratio"] = result["export_seconds"] / (
        result["floor_engine_seconds"] + result["floor_ifc_seconds"]
    )
    result["ratio_step"] = result["export_seconds"] / (
        result["floor_engine_seconds"] + result["floor_step_seconds"]
    )
    shutil.rmtree(work)
    return result


def write_meshes_only(meshes: list[tuple[np.ndarray, np.ndarray]], target: Path) -> None:
    """The IFC floor: the same triangles, converted the same way, in a file with nothing else.

    The garbage collector is off as in the exporter, so that the floor is not slowed by it either.
    """
    gc.disable()
    model = ifcopenshell.file(schema="IFC4X3_ADD2")
    create = EntityFactory(model)
    for positions, indices in meshes:
        coordinates, triangles = ifc_mesh_arrays(positions, indices)
        point_list = create("IfcCartesianPointList3D", CoordList=coordinates.tolist())
        create("IfcTriangulatedFaceSet", Coordinates=point_list, CoordIndex=(triangles + 1).tolist())
    model.write(str(target))


def write_meshes_as_step(meshes: list[tuple[np.ndarray, np.ndarray]], target: Path) -> None:
    """The exporter's own geometry writer alone: the same triangles as STEP text, one default colour."""
    fragment = StepFragment(target, first_id=100)
    writer = StepGeometryWriter(fragment, "IFC4X3_ADD2", body_context_id=1, tessellation=True)
    for positions, indices in meshes:
        writer.representation([((192, 192, 192, 255), positions, indices)])
    fragment.close()


def _floor(row: dict[str, Any], key: str, width: int) -> str:
    """A floor's column, or a dash for a size measured without floors."""
    return f"{row[key]:>{width}.2f}" if key in row else f"{'-':>{width}}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", default=",".join(str(size) for size in DEFAULT_SIZES))
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "twinbridge-bench")
    parser.add_argument("--floors-up-to", type=int, default=100_000)
    parser.add_argument("--ifc-version", default="IFC4.3")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    arguments.cache.mkdir(parents=True, exist_ok=True)
    if arguments.child:
        floors = arguments.child <= arguments.floors_up_to
        print(json.dumps(measure(arguments.child, arguments.cache, floors, arguments.ifc_version)))
        return
    print(f"{'elements':>9} {'triangles':>10} {'export s':>9} {'el/s':>8} {'engine s':>9} {'ifc s':>7} "
          f"{'ratio':>6} {'step s':>7} {'ratio*':>7} {'python MB':>10} {'engine MB':>10} "
          f"{'peak MB':>8} {'file MB':>8}")  # fmt: skip
    for size in (int(text) for text in arguments.sizes.split(",") if text.strip()):
        completed = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                str(size),
                "--cache",
                str(arguments.cache),
                "--floors-up-to",
                str(arguments.floors_up_to),
                "--ifc-version",
                arguments.ifc_version,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        row = json.loads(completed.stdout.strip().splitlines()[-1])
        megabytes = {key: row[key] / 1e6 for key in ("python_peak_bytes", "engine_peak_bytes", "peak_bytes")}
        print(
            f"{row['elements']:>9} {row['triangles']:>10} {row['export_seconds']:>9.2f} "
            f"{row['elements_per_second']:>8.0f} {_floor(row, 'floor_engine_seconds', 9)} "
            f"{_floor(row, 'floor_ifc_seconds', 7)} {_floor(row, 'ratio', 6)} "
            f"{_floor(row, 'floor_step_seconds', 7)} "
            f"{_floor(row, 'ratio_step', 7)} {megabytes['python_peak_bytes']:>10.0f} "
            f"{megabytes['engine_peak_bytes']:>10.0f} {megabytes['peak_bytes']:>8.0f} "
            f"{row['file_bytes'] / 1e6:>8.0f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
