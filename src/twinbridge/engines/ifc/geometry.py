"""Triangle meshes prepared for IFC (the STEP text is written by stepfragment.py).

IFC4 and IFC4.3 get one IfcTriangulatedFaceSet per (element, colour) record ('Tessellation'); IFC2X3 has no
tessellated geometry, so each record becomes an IfcShellBasedSurfaceModel of triangular faces
('SurfaceModel', allowed by Coordination View 2.0). Coordinates are element-local (the element's
IfcLocalPlacement carries the placement) and rounded to the micrometre, which also makes the file about half
as big and twice as fast to write as full float precision.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

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
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Rounded (n, 3) coordinates with duplicates merged, and the (m, 3) zero-based triangles indexing them.

    exportGraphics repeats a vertex for every face that meets at a sharp edge (a box has 24 vertices, not 8);
    the IFC body has no normals, so merging them cuts points, memory and file size without changing the shape.
    """
    # + 0.0 turns -0.0 into 0.0, so that no "-0." is written.
    rounded = np.round(positions.astype(np.float64).reshape(-1, 3), COORDINATE_DECIMALS) + 0.0
    corners = indices[: len(indices) - len(indices) % 3]
    if len(rounded) == 0:
        return rounded, np.zeros((0, 3), dtype=np.int64)
    # The same result as np.unique(axis=0, return_inverse=True) (rows in lexicographic order), at a third of
    # its cost on the small arrays of one mesh, where np.unique's fixed overhead dominated the profile.
    order = np.lexsort((rounded[:, 2], rounded[:, 1], rounded[:, 0]))
    ordered = rounded[order]
    starts = np.empty(len(ordered), dtype=bool)
    starts[0] = True
    np.any(ordered[1:] != ordered[:-1], axis=1, out=starts[1:])
    inverse = np.empty(len(ordered), dtype=np.int64)
    inverse[order] = np.cumsum(starts) - 1
    triangles = inverse[corners].reshape(-1, 3)
    return ordered[starts], triangles
