"""Benchmark of the console's 3D viewer: time to first frame and frame rate of a 50,000-element IFC model.

It generates an IFC4 file of `--elements` IfcBuildingElementProxy boxes in a grid (a few shared extruded
boxes in four colours, one property set and one quantity set each), starts `twinbridge serve` on a fresh
data directory with the built console, uploads the file through the Storage API, and opens
`#/view/ifc?file=…` in headless Debian chromium (Playwright's Python package, software WebGL through
SwiftShader). The viewer publishes `window.__twinbridgeViewer` (timings and frame statistics); the benchmark
reads the time from the start of the download to the first frame drawn with the model, then orbits the
camera for `--frames` animation frames and reads the frames per second.

The floor is the same page, same run, with a one-element model: what the page, web-ifc's start-up and the
browser cost with no model to speak of. Printed ratios: time to first frame / floor's, and fps / floor's.

    python bench/bench_console_viewer.py [--elements 50000] [--frames 120] [--chromium /usr/bin/chromium]

Needs the built console (`cd console && npm run build`), `pip install playwright` and `chromium`.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import ifcopenshell
import ifcopenshell.guid

from twinbridge.testing.client import TwinbridgeClient
from twinbridge.testing.errors import expect
from twinbridge.testing.server import TwinbridgeServer

# Headless WebGL without a GPU: ANGLE on SwiftShader, the software renderer chromium ships.
CHROMIUM_ARGUMENTS = ["--use-angle=swiftshader", "--enable-unsafe-swiftshader", "--no-sandbox"]
# The user the built-in issuer signs in (TWINBRIDGE_SIGN_IN_USER's default).
USER = "developer"

COLOURS = ((0.8, 0.3, 0.2), (0.3, 0.6, 0.8), (0.6, 0.7, 0.3), (0.7, 0.7, 0.7))


def generate_ifc(target: Path, elements: int) -> None:
    """A grid of `elements` 1 x 1 x 3 m proxies sharing four coloured box shapes; cheap to write."""
    model = ifcopenshell.file(schema="IFC4")
    new = model.create_entity

    def point(*coordinates: float) -> Any:
        return new("IfcCartesianPoint", Coordinates=coordinates)

    def axes(location: Any) -> Any:
        return new("IfcAxis2Placement3D", Location=location)

    origin = axes(point(0.0, 0.0, 0.0))
    context = new(
        "IfcGeometricRepresentationContext",
        ContextType="Model",
        CoordinateSpaceDimension=3,
        Precision=1e-5,
        WorldCoordinateSystem=origin,
    )
    units = new("IfcUnitAssignment", Units=[new("IfcSIUnit", UnitType="LENGTHUNIT", Name="METRE")])
    project = new(
        "IfcProject",
        GlobalId=ifcopenshell.guid.new(),
        Name="Viewer benchmark",
        RepresentationContexts=[context],
        UnitsInContext=units,
    )
    site_placement = new("IfcLocalPlacement", RelativePlacement=origin)
    site = new("IfcSite", GlobalId=ifcopenshell.guid.new(), Name="Site", ObjectPlacement=site_placement)
    storey = new(
        "IfcBuildingStorey", GlobalId=ifcopenshell.guid.new(), Name="Ground", ObjectPlacement=site_placement
    )
    new("IfcRelAggregates", GlobalId=ifcopenshell.guid.new(), RelatingObject=project, RelatedObjects=[site])
    new("IfcRelAggregates", GlobalId=ifcopenshell.guid.new(), RelatingObject=site, RelatedObjects=[storey])

    centre = new("IfcAxis2Placement2D", Location=new("IfcCartesianPoint", Coordinates=(0.0, 0.0)))
    profile = new("IfcRectangleProfileDef", ProfileType="AREA", Position=centre, XDim=1.0, YDim=1.0)
    up = new("IfcDirection", DirectionRatios=(0.0, 0.0, 1.0))
    shapes = []
    for red, green, blue in COLOURS:
        solid = new(
            "IfcExtrudedAreaSolid", SweptArea=profile, Position=origin, ExtrudedDirection=up, Depth=3.0
        )
        rendering = new(
            "IfcSurfaceStyleRendering",
            SurfaceColour=new("IfcColourRgb", Red=red, Green=green, Blue=blue),
            ReflectanceMethod="NOTDEFINED",
        )
        style = new("IfcSurfaceStyle", Side="BOTH", Styles=[rendering])
        new("IfcStyledItem", Item=solid, Styles=[style])
        representation = new(
            "IfcShapeRepresentation",
            ContextOfItems=context,
            RepresentationIdentifier="Body",
            RepresentationType="SweptSolid",
            Items=[solid],
        )
        shapes.append(new("IfcProductDefinitionShape", Representations=[representation]))

    columns = max(1, int(elements**0.5))
    proxies = []
    for index in range(elements):
        row, column = divmod(index, columns)
        placement = new(
            "IfcLocalPlacement",
            PlacementRelTo=site_placement,
            RelativePlacement=axes(point(column * 2.0, row * 2.0, 0.0)),
        )
        proxies.append(
            new(
                "IfcBuildingElementProxy",
                GlobalId=ifcopenshell.guid.new(),
                Name=f"Proxy {index}",
                ObjectPlacement=placement,
                Representation=shapes[index % len(shapes)],
            )
        )
    new(
        "IfcRelContainedInSpatialStructure",
        GlobalId=ifcopenshell.guid.new(),
        RelatingStructure=storey,
        RelatedElements=proxies,
    )
    pset = new(
        "IfcPropertySet",
        GlobalId=ifcopenshell.guid.new(),
        Name="Pset_Benchmark",
        HasProperties=[
            new(
                "IfcPropertySingleValue",
                Name="Generated",
                NominalValue=model.create_entity("IfcBoolean", True),
            ),
            new("IfcPropertySingleValue", Name="Grid", NominalValue=model.create_entity("IfcLabel", "2 m")),
        ],
    )
    quantities = new(
        "IfcElementQuantity",
        GlobalId=ifcopenshell.guid.new(),
        Name="Qto_Benchmark",
        Quantities=[
            new("IfcQuantityVolume", Name="NetVolume", VolumeValue=3.0),
            new("IfcQuantityLength", Name="Height", LengthValue=3.0),
        ],
    )
    for definition in (pset, quantities):
        new(
            "IfcRelDefinesByProperties",
            GlobalId=ifcopenshell.guid.new(),
            RelatedObjects=proxies,
            RelatingPropertyDefinition=definition,
        )
    model.write(str(target))


def upload(client: TwinbridgeClient, itwin_id: str, path: Path) -> str:
    """Create, upload, complete (the Storage API); the stored file's id."""
    folder = expect(client.get("/storage/", params={"iTwinId": itwin_id}), 200).json()["_links"]["folder"][
        "href"
    ]
    created = expect(client.post(f"{folder}/files", json={"displayName": path.name}), 202).json()["_links"]
    expect(httpx.put(created["uploadUrl"]["href"], content=path.read_bytes(), timeout=120), 201)
    return str(expect(client.post(created["completeUrl"]["href"]), 200).json()["file"]["id"])


def measure(page: Any, file_id: str, frames: int, timeout_ms: int) -> dict[str, float]:
    """Opens the viewer on a file; time to the first frame with the model, then fps of an orbit."""
    page.goto("/console/#/itwins")  # leave the viewer, so that the next visit starts from nothing
    page.goto(f"/console/#/view/ifc?file={file_id}")
    page.wait_for_function(
        "() => window.__twinbridgeViewer && (window.__twinbridgeViewer.state === 'error' "
        "|| window.__twinbridgeViewer.firstModelFrameAt !== null)",
        timeout=timeout_ms,
    )
    stats = page.evaluate(
        """() => { const v = window.__twinbridgeViewer; return {state: v.state, elements: v.elementCount,
            started: v.downloadStartedAt, downloaded: v.downloadedAt, parsed: v.parsedAt,
            first: v.firstModelFrameAt}; }"""
    )
    if stats["state"] == "error":
        raise RuntimeError(page.get_by_role("alert").inner_text())
    orbit = page.evaluate("(frames) => window.__twinbridgeViewer.orbit(frames)", frames)
    return {
        "elements": stats["elements"],
        "first_frame_s": (stats["first"] - stats["started"]) / 1000,
        "download_s": (stats["downloaded"] - stats["started"]) / 1000,
        "parse_s": (stats["parsed"] - stats["downloaded"]) / 1000,
        "fps": orbit["fps"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--elements", type=int, default=50_000)
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--chromium", default=os.environ.get("TWINBRIDGE_TEST_CHROMIUM", "/usr/bin/chromium"))
    parser.add_argument("--headed", action="store_true", help="show the browser (needs a display)")
    arguments = parser.parse_args()
    from playwright.sync_api import sync_playwright  # imported late: --help works without it

    work = Path(tempfile.mkdtemp(prefix="twinbridge-bench-viewer-"))
    model_path, floor_path = work / f"grid-{arguments.elements}.ifc", work / "one-element.ifc"
    started = time.perf_counter()
    generate_ifc(model_path, arguments.elements)
    generate_ifc(floor_path, 1)
    size_mb = model_path.stat().st_size / 1e6
    print(
        f"generated {arguments.elements} elements ({size_mb:.1f} MB) in {time.perf_counter() - started:.1f} s"
    )
    timeout_ms = max(120_000, arguments.elements * 10)
    with TwinbridgeServer.start(work / "server") as server:
        with server.client(server.token(USER)) as client:
            itwin_id = client.create_itwin("Viewer benchmark")["id"]
            model_id, floor_id = upload(client, itwin_id, model_path), upload(client, itwin_id, floor_path)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=arguments.chromium, args=CHROMIUM_ARGUMENTS, headless=not arguments.headed
            )
            context = browser.new_context(viewport={"width": 1280, "height": 800}, base_url=server.url)
            page = context.new_page()
            page.goto("/console/")
            page.get_by_role("button", name="Sign in").first.click()
            page.wait_for_selector(f"header >> text={USER}")
            measure(page, floor_id, 10, timeout_ms)  # warm-up: the browser's caches, compiling the shaders
            floor = measure(page, floor_id, arguments.frames, timeout_ms)
            model = measure(page, model_id, arguments.frames, timeout_ms)
            renderer = page.evaluate(
                """() => { const gl = document.createElement('canvas').getContext('webgl2');
                    const info = gl && gl.getExtension('WEBGL_debug_renderer_info');
                    return info ? gl.getParameter(info.UNMASKED_RENDERER_WEBGL) : 'unknown'; }"""
            )
            browser.close()
    print(f"chromium {arguments.chromium}, WebGL renderer: {renderer}")
    print(f"{'model':>16} {'elements':>9} {'first frame s':>14} {'download s':>11} {'parse s':>8} {'fps':>6}")
    for name, row in (("one element", floor), (f"{arguments.elements} grid", model)):
        print(
            f"{name:>16} {row['elements']:>9.0f} {row['first_frame_s']:>14.2f} {row['download_s']:>11.2f} "
            f"{row['parse_s']:>8.2f} {row['fps']:>6.1f}"
        )
    print(
        "ratios against the one-element floor: "
        f"time to first frame {model['first_frame_s'] / floor['first_frame_s']:.1f}x, "
        f"frame rate {model['fps'] / floor['fps']:.2f}x"
    )


if __name__ == "__main__":
    main()
