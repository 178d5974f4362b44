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
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import ifcopenshell
import ifcopenshell.guid

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
            new("IfcPropertySingleValue", Name="Generated", NominalValue=model.create_entity("IfcBoolean", True)),
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


if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--generate-only":
    generate_ifc(Path(sys.argv[2]), int(sys.argv[3]))
