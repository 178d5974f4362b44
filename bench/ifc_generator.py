"""Generated IFC4 files of walls, slabs and columns with property sets, for the synchronization benchmark.

The file is written as STEP text directly: IfcOpenShell's API would take minutes for 50,000 products, this
takes seconds, so generating is never the bottleneck of a benchmark. The building has storeys of
`PRODUCTS_PER_STOREY` products each, laid out in bays of `PATTERN`: walls are extruded rectangles (a
profile shared by the walls of one length; one wall in four turned by 90 degrees), slabs extruded squares
(one shared profile), columns octagonal prisms as IfcTriangulatedFaceSets (faceted, coordinates of their
own). Every product has its own placement, a Pset_<Class>Common of four properties, a base quantity set and
its class's coloured surface style.

    python bench/ifc_generator.py 10000 /tmp/generated-10000.ifc
"""

from __future__ import annotations

import math
import random
import sys
import uuid
from pathlib import Path

import ifcopenshell.guid

PRODUCTS_PER_STOREY = 2_500
STOREY_HEIGHT = 3.0
BAY = 6.0  # metres between grid lines
WALL_LENGTHS = (2.4, 3.6, 4.8, 6.0)
WALL_THICKNESS = 0.2
SLAB_DEPTH = 0.25
COLUMN_RADIUS = 0.2
COLUMN_SIDES = 8
# The products of one bay, in order: half walls, three columns, two slabs.
PATTERN = (
    *("IfcWall", "IfcColumn", "IfcWall", "IfcSlab", "IfcWall"),
    *("IfcColumn", "IfcWall", "IfcSlab", "IfcWall", "IfcColumn"),
)
COLORS = {"IfcWall": (0.85, 0.8, 0.7), "IfcSlab": (0.6, 0.6, 0.62), "IfcColumn": (0.7, 0.3, 0.25)}
PREDEFINED_TYPES = {"IfcWall": ".STANDARD.", "IfcSlab": ".FLOOR.", "IfcColumn": ".COLUMN."}
QUANTITY_ENTITIES = {"Length": "LENGTH", "Height": "LENGTH", "Width": "LENGTH", "Depth": "LENGTH",
                     "GrossArea": "AREA", "NetVolume": "VOLUME"}  # fmt: skip


def real(value: float) -> str:
    """A STEP REAL: always with a decimal point."""
    text = repr(round(value, 6) + 0.0)
    return text if "e" in text or "." in text else text + "."


def text(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def coordinates(values: tuple[float, ...]) -> str:
    return "(" + ",".join(real(value) for value in values) + ")"


class IfcGenerator:
    """Writes one file: numbered entity lines, `add` returning the reference (#n) of what it wrote."""

    def __init__(self, seed: int, products_per_storey: int = PRODUCTS_PER_STOREY) -> None:
        self.randomness = random.Random(seed)
        self.products_per_storey = products_per_storey
        self.lines: list[str] = []

    def add(self, entity: str) -> str:
        self.lines.append(f"#{len(self.lines) + 1}={entity};")
        return f"#{len(self.lines)}"

    def global_id(self) -> str:
        """A random (but seeded, so reproducible) GlobalId."""
        return str(ifcopenshell.guid.compress(uuid.UUID(int=self.randomness.getrandbits(128), version=4).hex))

    def placement(
        self, relative_to: str | None, location: tuple[float, float, float], x_axis: str | None
    ) -> str:
        point = self.add(f"IFCCARTESIANPOINT({coordinates(location)})")
        axes = f"{self.z_axis},{x_axis}" if x_axis else "$,$"
        position = self.add(f"IFCAXIS2PLACEMENT3D({point},{axes})")
        return self.add(f"IFCLOCALPLACEMENT({relative_to or '$'},{position})")

    def write(self, path: Path, products: int) -> None:
        add = self.add
        self.z_axis = add("IFCDIRECTION((0.,0.,1.))")
        self.x_axis = add("IFCDIRECTION((1.,0.,0.))")
        self.y_axis = add("IFCDIRECTION((0.,1.,0.))")
        world = add(f"IFCAXIS2PLACEMENT3D({add('IFCCARTESIANPOINT((0.,0.,0.))')},$,$)")
        context = add(f"IFCGEOMETRICREPRESENTATIONCONTEXT($,'Model',3,1.E-05,{world},$)")
        self.body = add(
            f"IFCGEOMETRICREPRESENTATIONSUBCONTEXT('Body','Model',*,*,*,*,{context},$,.MODEL_VIEW.,$)"
        )
        units = [
            add(f"IFCSIUNIT(*,.{kind}UNIT.,$,.{name}.)")
            for kind, name in (("LENGTH", "METRE"), ("AREA", "SQUARE_METRE"), ("VOLUME", "CUBIC_METRE"),
                               ("PLANEANGLE", "RADIAN"))
        ]  # fmt: skip
        assignment = add(f"IFCUNITASSIGNMENT(({','.join(units)}))")
        project = add(f"IFCPROJECT('{self.global_id()}',$,'Generated',$,$,$,$,({context}),{assignment})")
        site_placement = self.placement(None, (0.0, 0.0, 0.0), None)
        site = add(f"IFCSITE('{self.global_id()}',$,'Site',$,$,{site_placement},$,$,.ELEMENT.,$,$,$,$,$)")
        building_placement = self.placement(site_placement, (0.0, 0.0, 0.0), None)
        building = add(
            f"IFCBUILDING('{self.global_id()}',$,'Building',$,$,{building_placement},$,$,.ELEMENT.,$,$,$)"
        )
        add(f"IFCRELAGGREGATES('{self.global_id()}',$,$,$,{project},({site}))")
        add(f"IFCRELAGGREGATES('{self.global_id()}',$,$,$,{site},({building}))")

        # Shared by the products of a class: profiles, their position, styles.
        profile_position = add(f"IFCAXIS2PLACEMENT2D({add('IFCCARTESIANPOINT((0.,0.))')},$)")
        self.wall_profiles = {
            length: add(
                f"IFCRECTANGLEPROFILEDEF(.AREA.,$,{profile_position},{real(length)},{real(WALL_THICKNESS)})"
            )
            for length in WALL_LENGTHS
        }
        self.slab_profile = add(
            f"IFCRECTANGLEPROFILEDEF(.AREA.,$,{profile_position},{real(BAY)},{real(BAY)})"
        )
        self.styles = {}
        for ifc_class, (red, green, blue) in COLORS.items():
            colour = add(f"IFCCOLOURRGB($,{real(red)},{real(green)},{real(blue)})")
            shading = add(f"IFCSURFACESTYLESHADING({colour},0.)")
            self.styles[ifc_class] = add(f"IFCSURFACESTYLE({text(ifc_class)},.BOTH.,({shading}))")

        storeys = []
        written = 0
        for level in range(max(1, math.ceil(products / self.products_per_storey))):
            elevation = level * STOREY_HEIGHT
            storey_placement = self.placement(building_placement, (0.0, 0.0, elevation), None)
            storey = add(
                f"IFCBUILDINGSTOREY('{self.global_id()}',$,'Level {level}',$,$,{storey_placement},$,$,"
                f".ELEMENT.,{real(elevation)})"
            )
            storeys.append(storey)
            count = min(self.products_per_storey, products - written)
            bays_per_row = max(1, math.ceil(math.sqrt(count / len(PATTERN))))
            contained = []
            for index in range(count):
                bay, slot = divmod(index, len(PATTERN))
                written += 1
                corner = ((bay % bays_per_row) * BAY, (bay // bays_per_row) * BAY)
                contained.append(self.product(PATTERN[slot], written, storey_placement, corner, slot))
            add(
                f"IFCRELCONTAINEDINSPATIALSTRUCTURE('{self.global_id()}',$,$,$,({','.join(contained)}),{storey})"
            )
        add(f"IFCRELAGGREGATES('{self.global_id()}',$,$,$,{building},({','.join(storeys)}))")

        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", encoding="ascii") as stream:
            stream.write(
                "ISO-10303-21;\nHEADER;\nFILE_DESCRIPTION(('ViewDefinition [ReferenceView]'),'2;1');\n"
                f"FILE_NAME({text(path.name)},'2026-01-01T00:00:00',(''),(''),'twinbridge bench',"
                "'bench/ifc_generator.py','');\nFILE_SCHEMA(('IFC4'));\nENDSEC;\nDATA;\n"
            )
            stream.write("\n".join(self.lines))
            stream.write("\nENDSEC;\nEND-ISO-10303-21;\n")

    def product(
        self, ifc_class: str, number: int, storey: str, corner: tuple[float, float], slot: int
    ) -> str:
        """One product with its placement, body, style, property set and quantities; its reference."""
        add = self.add
        x, y = corner
        bearing = slot % 4 == 0 or ifc_class != "IfcWall"
        turned = False
        if ifc_class == "IfcWall":
            length = WALL_LENGTHS[self.randomness.randrange(len(WALL_LENGTHS))]
            height = STOREY_HEIGHT - SLAB_DEPTH
            turned = slot % 4 == 2
            location = (x + 0.3, y + 0.1 * slot, SLAB_DEPTH)
            item = self.extrusion(self.wall_profiles[length], (length / 2, 0.0, 0.0), height)
            quantities = {"Length": length, "Height": height, "Width": WALL_THICKNESS,
                          "NetVolume": length * WALL_THICKNESS * height}  # fmt: skip
        elif ifc_class == "IfcSlab":
            location = (x, y, 0.0)
            item = self.extrusion(self.slab_profile, (BAY / 2, BAY / 2, 0.0), SLAB_DEPTH)
            quantities = {"Depth": SLAB_DEPTH, "GrossArea": BAY * BAY, "NetVolume": BAY * BAY * SLAB_DEPTH}
        else:
            height = STOREY_HEIGHT - SLAB_DEPTH - 0.01 * self.randomness.randrange(20)
            radius = COLUMN_RADIUS + 0.01 * self.randomness.randrange(10)
            location = (x + 0.05 * slot, y, SLAB_DEPTH)
            item = self.prism(radius, height)
            area = 0.5 * COLUMN_SIDES * radius * radius * math.sin(2 * math.pi / COLUMN_SIDES)
            quantities = {"Length": height, "NetVolume": height * area}
        placement = self.placement(storey, location, self.y_axis if turned else self.x_axis)
        add(f"IFCSTYLEDITEM({item},({self.styles[ifc_class]}),$)")
        kind = "Tessellation" if ifc_class == "IfcColumn" else "SweptSolid"
        shape = add(f"IFCSHAPEREPRESENTATION({self.body},'Body','{kind}',({item}))")
        definition = add(f"IFCPRODUCTDEFINITIONSHAPE($,$,({shape}))")
        name = f"{ifc_class[3:]} {number}"
        product = add(
            f"{ifc_class.upper()}('{self.global_id()}',$,{text(name)},$,$,{placement},{definition},"
            f"'T{number}',{PREDEFINED_TYPES[ifc_class]})"
        )
        properties = {
            "Reference": f"IFCIDENTIFIER({text(name)})",
            "IsExternal": f"IFCBOOLEAN(.{'T' if slot == 0 else 'F'}.)",
            "LoadBearing": f"IFCBOOLEAN(.{'T' if bearing else 'F'}.)",
            "FireRating": f"IFCLABEL('{'REI 90' if bearing else 'EI 30'}')",
        }
        values = [
            add(f"IFCPROPERTYSINGLEVALUE({text(key)},$,{value},$)") for key, value in properties.items()
        ]
        pset = add(
            f"IFCPROPERTYSET('{self.global_id()}',$,'Pset_{ifc_class[3:]}Common',$,({','.join(values)}))"
        )
        add(f"IFCRELDEFINESBYPROPERTIES('{self.global_id()}',$,$,$,({product}),{pset})")
        amounts = [
            add(f"IFCQUANTITY{QUANTITY_ENTITIES[key]}({text(key)},$,$,{real(value)},$)")
            for key, value in quantities.items()
        ]
        qset = add(
            f"IFCELEMENTQUANTITY('{self.global_id()}',$,'Qto_{ifc_class[3:]}BaseQuantities',$,$,"
            f"({','.join(amounts)}))"
        )
        add(f"IFCRELDEFINESBYPROPERTIES('{self.global_id()}',$,$,$,({product}),{qset})")
        return product

    def extrusion(self, profile: str, offset: tuple[float, float, float], depth: float) -> str:
        point = self.add(f"IFCCARTESIANPOINT({coordinates(offset)})")
        position = self.add(f"IFCAXIS2PLACEMENT3D({point},$,$)")
        return self.add(f"IFCEXTRUDEDAREASOLID({profile},{position},{self.z_axis},{real(depth)})")

    def prism(self, radius: float, height: float) -> str:
        """A closed octagonal prism as a triangulated face set, outward-facing triangles."""
        angles = [2 * math.pi * side / COLUMN_SIDES for side in range(COLUMN_SIDES)]
        ring = [(radius * math.cos(angle), radius * math.sin(angle)) for angle in angles]
        points = [(px, py, 0.0) for px, py in ring] + [(px, py, height) for px, py in ring]
        top = COLUMN_SIDES
        triangles = []
        for side in range(COLUMN_SIDES):
            following = (side + 1) % COLUMN_SIDES
            triangles += [(side, following, top + following), (side, top + following, top + side)]
        for corner in range(1, COLUMN_SIDES - 1):
            triangles += [(0, corner + 1, corner), (top, top + corner, top + corner + 1)]
        point_list = self.add("IFCCARTESIANPOINTLIST3D((" + ",".join(coordinates(p) for p in points) + "),$)")
        indices = ",".join(f"({a + 1},{b + 1},{c + 1})" for a, b, c in triangles)
        return self.add(f"IFCTRIANGULATEDFACESET({point_list},$,.T.,({indices}),$)")


def generate_ifc(
    path: Path, products: int, *, seed: int = 7, products_per_storey: int = PRODUCTS_PER_STOREY
) -> Path:
    """An IFC4 file at `path` with exactly `products` walls, slabs and columns (in `PATTERN`'s shares)."""
    IfcGenerator(seed, products_per_storey).write(path, products)
    return path


if __name__ == "__main__":
    generate_ifc(Path(sys.argv[2]), int(sys.argv[1]))
