"""Triangle meshes as IFC geometry, with surface colours.

IFC4 and IFC4.3 get one IfcTriangulatedFaceSet per (element, colour) record ('Tessellation'); IFC2X3 has no
tessellated geometry, so each record becomes an IfcShellBasedSurfaceModel of triangular faces
('SurfaceModel', allowed by Coordination View 2.0). Coordinates are element-local (the element's
IfcLocalPlacement carries the placement) and rounded to the micrometre, which also makes the file about half
as big and twice as fast to write as full float precision.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ifcopenshell
import numpy as np
import numpy.typing as npt

from twinbridge.engines.ifc.factory import EntityFactory
from twinbridge.engines.imodel.frames import MeshRecord, RecordType

COORDINATE_DECIMALS = 6
Rgba = tuple[int, int, int, int]
DEFAULT_RGBA: Rgba = (192, 192, 192, 255)

# The 12 triangles of a box whose corners are numbered by bits (x = bit 0, y = bit 1, z = bit 2), outward.
_BOX_TRIANGLES = np.array(
    [
        [0, 2, 3], [0, 3, 1],  # bottom (z low)
        [4, 5, 7], [4, 7, 6],  # top
        [0, 1, 5], [0, 5, 4],  # y low
        [2, 6, 7], [2, 7, 3],  # y high
        [0, 4, 6], [0, 6, 2],  # x low
        [1, 3, 7], [1, 7, 5],  # x high
    ],
    dtype=np.uint32,
)  # fmt: skip


def box_mesh(
    low: tuple[float, float, float], high: tuple[float, float, float]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.uint32]]:
    """Corner positions and triangle indices of an axis-aligned box (the bounding-box fallback)."""
    corners = np.array(
        [
            [(low, high)[bit & 1][0], (low, high)[(bit >> 1) & 1][1], (low, high)[(bit >> 2) & 1][2]]
            for bit in range(8)
        ],
        dtype=np.float64,
    )
    return corners, _BOX_TRIANGLES.reshape(-1)


def ifc_mesh_arrays(
    positions: npt.NDArray[Any], indices: npt.NDArray[Any]
) -> tuple[list[list[float]], npt.NDArray[np.int64]]:
    """Rounded coordinates with duplicates merged, and the (n, 3) zero-based triangles that index them.

    exportGraphics repeats a vertex for every face that meets at a sharp edge (a box has 24 vertices, not 8);
    the IFC body has no normals, so merging them cuts points, memory and file size without changing the shape.
    """
    rounded = np.round(positions.astype(np.float64), COORDINATE_DECIMALS)
    unique, inverse = np.unique(rounded, axis=0, return_inverse=True)
    corners = indices[: len(indices) - len(indices) % 3]
    triangles = inverse.reshape(-1)[corners].reshape(-1, 3).astype(np.int64)
    return unique.tolist(), triangles


class GeometryWriter:
    """Creates shape representations in one file; styles are shared per colour."""

    def __init__(
        self, create: EntityFactory, body_context: ifcopenshell.entity_instance, tessellation: bool
    ) -> None:
        self.create = create
        self.body_context = body_context
        self.tessellation = tessellation
        self.schema = create.file.schema
        self._styles: dict[Rgba, ifcopenshell.entity_instance] = {}

    def representation(
        self, meshes: Sequence[tuple[Rgba, npt.NDArray[Any], npt.NDArray[Any]]]
    ) -> tuple[ifcopenshell.entity_instance | None, int]:
        """An IfcProductDefinitionShape for (colour, positions, indices) meshes, and its triangle count."""
        items = []
        triangles = 0
        for rgba, positions, indices in meshes:
            if len(indices) < 3 or len(positions) == 0:
                continue
            item = self._mesh_item(positions, indices)
            self._style(item, rgba)
            items.append(item)
            triangles += len(indices) // 3
        if not items:
            return None, 0
        shape = self.create(
            "IfcShapeRepresentation",
            ContextOfItems=self.body_context,
            RepresentationIdentifier="Body",
            RepresentationType="Tessellation" if self.tessellation else "SurfaceModel",
            Items=items,
        )
        return self.create("IfcProductDefinitionShape", Representations=[shape]), triangles

    def records_representation(
        self, records: Sequence[MeshRecord]
    ) -> tuple[ifcopenshell.entity_instance | None, int]:
        return self.representation(
            [
                (record.rgba, record.positions, record.indices)
                for record in records
                if record.record_type is RecordType.MESH
            ]
        )

    def _mesh_item(
        self, positions: npt.NDArray[Any], indices: npt.NDArray[Any]
    ) -> ifcopenshell.entity_instance:
        coordinates, triangles = ifc_mesh_arrays(positions, indices)
        if self.tessellation:
            point_list = self.create("IfcCartesianPointList3D", CoordList=coordinates)
            return self.create(
                "IfcTriangulatedFaceSet", Coordinates=point_list, CoordIndex=(triangles + 1).tolist()
            )
        create = self.create
        points = [create("IfcCartesianPoint", Coordinates=coordinate) for coordinate in coordinates]
        faces = []
        for first, second, third in triangles.tolist():
            loop = create("IfcPolyLoop", Polygon=[points[first], points[second], points[third]])
            bound = create("IfcFaceOuterBound", Bound=loop, Orientation=True)
            faces.append(create("IfcFace", Bounds=[bound]))
        shell = create("IfcOpenShell", CfsFaces=faces)
        return create("IfcShellBasedSurfaceModel", SbsmBoundary=[shell])

    def _style(self, item: ifcopenshell.entity_instance, rgba: Rgba) -> None:
        style = self._styles.get(rgba)
        if style is None:
            style = self._create_style(rgba)
            self._styles[rgba] = style
        styles = [style]
        self.create("IfcStyledItem", Item=item, Styles=styles)

    def _create_style(self, rgba: Rgba) -> ifcopenshell.entity_instance:
        red, green, blue, alpha = rgba
        colour = self.create(
            "IfcColourRgb", Name=None, Red=red / 255.0, Green=green / 255.0, Blue=blue / 255.0
        )
        transparency = round(1.0 - alpha / 255.0, 4)
        if self.schema == "IFC2X3":
            # IFC2X3's IfcSurfaceStyleShading has no transparency; its rendering style does.
            shading = self.create(
                "IfcSurfaceStyleRendering",
                SurfaceColour=colour,
                Transparency=transparency,
                ReflectanceMethod="NOTDEFINED",
            )
        else:
            shading = self.create("IfcSurfaceStyleShading", SurfaceColour=colour, Transparency=transparency)
        surface_style = self.create(
            "IfcSurfaceStyle",
            Name=f"#{red:02x}{green:02x}{blue:02x}{alpha:02x}",
            Side="BOTH",
            Styles=[shading],
        )
        if self.schema == "IFC2X3":
            # IFC2X3 wraps styles in a presentation style assignment (removed in IFC4).
            return self.create("IfcPresentationStyleAssignment", Styles=[surface_style])
        return surface_style
