"""Element placements: iModel Origin + Yaw/Pitch/Roll (degrees) as IFC axis placements.

The rotation is R = Rz(yaw) . Ry(-pitch) . Rx(roll) (imodel-format.md section 1.7, from itwinjs-core
YawPitchRollAngles), world = Origin + R . local. An IfcAxis2Placement3D holds the same transform as its
Axis (R's third column, local Z) and RefDirection (R's first column, local X).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import numpy.typing as npt

Vector = tuple[float, float, float]


def rotation_matrix(yaw: float, pitch: float, roll: float) -> npt.NDArray[np.float64]:
    """The 3x3 local-to-world rotation of a placement whose angles are in degrees."""
    c0, s0 = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    c1, s1 = math.cos(math.radians(pitch)), math.sin(math.radians(pitch))
    c2, s2 = math.cos(math.radians(roll)), math.sin(math.radians(roll))
    return np.array(
        [
            [c0 * c1, -(s0 * c2 + c0 * s1 * s2), s0 * s2 - c0 * s1 * c2],
            [s0 * c1, c0 * c2 - s0 * s1 * s2, -(c0 * s2 + s0 * s1 * c2)],
            [s1, c1 * s2, c1 * c2],
        ]
    )


def _clean(values: Any) -> Vector:
    # Rounding keeps cos(90 deg) = 6e-17 out of the file and lets equal directions share one entity.
    x, y, z = (round(float(value), 12) + 0.0 for value in values)
    return (x, y, z)


def axis_directions(yaw: float, pitch: float, roll: float) -> tuple[Vector, Vector] | None:
    """(Axis, RefDirection) of the placement, or None when there is no rotation (IFC's defaults apply)."""
    if yaw % 360 == 0 and pitch % 360 == 0 and roll % 360 == 0:
        return None
    rotation = rotation_matrix(yaw, pitch, roll)
    return _clean(rotation[:, 2]), _clean(rotation[:, 0])


def local_to_world(
    origin: Vector, yaw: float, pitch: float, roll: float, points: npt.NDArray[np.floating[Any]]
) -> npt.NDArray[np.float64]:
    """Apply a placement to (n, 3) local points (used by tests and the bounding-box fallback checks)."""
    rotation = rotation_matrix(yaw, pitch, roll)
    result: npt.NDArray[np.float64] = np.asarray(points, dtype=np.float64) @ rotation.T + np.asarray(origin)
    return result


def placement_matrix(location: Any, axis: Any = None, ref_direction: Any = None) -> npt.NDArray[np.float64]:
    """The 4x4 transform of an IFC axis placement (IfcAxis2Placement3D's rules for missing directions)."""
    z = np.asarray(axis if axis is not None else (0.0, 0.0, 1.0), dtype=np.float64)
    z = z / (np.linalg.norm(z) or 1.0)
    x = np.asarray(ref_direction if ref_direction is not None else (1.0, 0.0, 0.0), dtype=np.float64)
    x = x - np.dot(x, z) * z
    if np.linalg.norm(x) < 1e-12:  # RefDirection along Axis: IFC's default X for that Z
        x = np.array((1.0, 0.0, 0.0)) if abs(z[0]) < 0.9 else np.array((0.0, 1.0, 0.0))
        x = x - np.dot(x, z) * z
    x = x / np.linalg.norm(x)
    matrix = np.identity(4)
    matrix[:3, 0] = x
    matrix[:3, 1] = np.cross(z, x)
    matrix[:3, 2] = z
    matrix[:3, 3] = np.asarray(location if location is not None else (0.0, 0.0, 0.0), dtype=np.float64)[:3]
    return matrix


def element_matrix(origin: Vector, yaw: float, pitch: float, roll: float) -> npt.NDArray[np.float64]:
    """The 4x4 transform of an iModel placement (Origin, Yaw/Pitch/Roll in degrees)."""
    matrix = np.identity(4)
    matrix[:3, :3] = rotation_matrix(yaw, pitch, roll)
    matrix[:3, 3] = origin
    return matrix


def relative_axes(
    parent: npt.NDArray[np.float64] | None, child: npt.NDArray[np.float64], length_factor: float = 1.0
) -> tuple[Vector, tuple[Vector, Vector] | None]:
    """Location and (Axis, RefDirection) of `child` relative to `parent` (None: the world), the location
    divided by `length_factor` (the file's length unit in metres); directions None when not rotated."""
    relative = child if parent is None else np.linalg.solve(parent, child)
    location = _clean(relative[:3, 3] / length_factor)
    rotation = relative[:3, :3]
    if np.allclose(rotation, np.identity(3), atol=1e-12):
        return location, None
    return location, (_clean(rotation[:, 2]), _clean(rotation[:, 0]))
