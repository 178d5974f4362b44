"""Yaw/Pitch/Roll placements (imodel-format.md section 1.7) as IFC axis placements."""

from __future__ import annotations

import numpy as np
import pytest

from twinbridge.engines.ifc.placement import axis_directions, local_to_world, rotation_matrix


def test_no_rotation_needs_no_directions() -> None:
    assert axis_directions(0, 0, 0) is None
    assert axis_directions(360, 0, -360) is None


def test_yaw_turns_x_toward_y() -> None:
    axis, reference = axis_directions(90, 0, 0) or ((), ())

    assert axis == pytest.approx((0, 0, 1))
    assert reference == pytest.approx((0, 1, 0))


def test_pitch_raises_x_toward_z() -> None:
    axis, reference = axis_directions(0, 90, 0) or ((), ())

    assert reference == pytest.approx((0, 0, 1))
    assert axis == pytest.approx((-1, 0, 0))


def test_roll_turns_y_toward_z() -> None:
    rotation = rotation_matrix(0, 0, 90)

    np.testing.assert_allclose(rotation @ [0, 1, 0], [0, 0, 1], atol=1e-12)


def test_rotation_is_orthonormal_for_any_angles() -> None:
    rotation = rotation_matrix(33, -71, 148)

    np.testing.assert_allclose(rotation @ rotation.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)


def test_building_blocks_element_87_lands_where_the_spatial_index_says() -> None:
    # Yaw 90, local box 0..2.078 x 0..2.078 x 0..0.52 at origin (2.078, -2.078, 0): world x 0..2.078,
    # y -2.078..0 (checked against dgn_SpatialIndex in imodel-format.md).
    size = 2.078223437482735
    corners = np.array([[x, y, z] for x in (0, size) for y in (0, size) for z in (0, 0.5195)])

    world = local_to_world((size, -size, 0.0), 90, 0, 0, corners)

    np.testing.assert_allclose(world.min(axis=0), [0, -size, 0], atol=1e-9)
    np.testing.assert_allclose(world.max(axis=0), [size, 0, 0.5195], atol=1e-9)


def test_directions_are_columns_of_the_rotation() -> None:
    rotation = rotation_matrix(30, 20, 10)

    axis, reference = axis_directions(30, 20, 10) or ((), ())

    np.testing.assert_allclose(axis, rotation[:, 2], atol=1e-12)
    np.testing.assert_allclose(reference, rotation[:, 0], atol=1e-12)
