"""Meshes as IFC geometry (STEP text): tessellated for IFC4 on, faceted surface models for IFC2X3."""

from __future__ import annotations

from pathlib import Path

import ifcopenshell
import numpy as np
import pytest

from twinbridge.engines.ifc.geometry import box_mesh, ifc_mesh_arrays
from twinbridge.engines.ifc.stepfragment import (
    StepEntityFactory,
    StepFragment,
    StepGeometryWriter,
    StepRef,
    step_real,
)

Mesh = tuple[tuple[int, int, int, int], np.ndarray, np.ndarray]


def export_meshes(tmp_path: Path, schema: str, *groups: list[Mesh]) -> tuple[ifcopenshell.file, list[int]]:
    """Each group of meshes becomes one product's shape, written after IfcOpenShell's part as the exporter
    does."""
    file = ifcopenshell.file(schema=schema)
    context = file.create_entity(
        "IfcGeometricRepresentationContext", ContextType="Model", CoordinateSpaceDimension=3
    )
    file.write(str(tmp_path / "part.ifc"))
    fragment = StepFragment(tmp_path / "merged.ifc", file.get_max_id() + 1, tmp_path / "part.ifc")
    writer = StepGeometryWriter(fragment, schema, context.id(), tessellation=schema != "IFC2X3")
    create = StepEntityFactory(fragment, schema)
    triangles = []
    for meshes in groups:
        shape, count = writer.representation(meshes)
        triangles.append(count)
        create(
            "IfcBuildingElementProxy",
            GlobalId=ifcopenshell.guid.new(),
            Representation=None if shape is None else StepRef(shape),
        )
    fragment.finish()
    return ifcopenshell.open(str(tmp_path / "merged.ifc")), triangles


def test_box_mesh_has_twelve_outward_triangles_covering_the_box() -> None:
    positions, indices = box_mesh((0, 0, 0), (1, 2, 3))

    assert len(indices) == 36
    np.testing.assert_array_equal(positions.min(axis=0), [0, 0, 0])
    np.testing.assert_array_equal(positions.max(axis=0), [1, 2, 3])
    triangles = positions[indices.reshape(-1, 3)]
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    centres = triangles.mean(axis=1) - positions.mean(axis=0)
    assert np.all(np.einsum("ij,ij->i", normals, centres) > 0)


def test_mesh_arrays_merge_repeated_vertices_like_numpy_unique() -> None:
    generator = np.random.default_rng(3)
    positions = (generator.integers(0, 3, (60, 3)) / 3).astype(np.float32)
    indices = generator.integers(0, 60, 91).astype(np.uint32)

    coordinates, triangles = ifc_mesh_arrays(positions, indices)

    unique, inverse = np.unique(np.round(positions.astype(np.float64), 6), axis=0, return_inverse=True)
    np.testing.assert_array_equal(coordinates, unique)
    np.testing.assert_array_equal(triangles, inverse.reshape(-1)[indices[:90]].reshape(-1, 3))


@pytest.mark.parametrize(
    ("value", "text"), [(0.5, "0.5"), (1.0, "1.0"), (1e-06, "1.E-06"), (2.5e-05, "2.5E-05")]
)
def test_reals_always_have_a_decimal_point(value: float, text: str) -> None:
    assert step_real(value) == text


@pytest.mark.parametrize("schema", ["IFC4", "IFC4X3_ADD2"])
def test_ifc4_meshes_are_triangulated_face_sets_with_one_based_indices_and_a_style(
    tmp_path: Path, schema: str
) -> None:
    positions, indices = box_mesh((0, 0, 0), (1, 1, 1.5))

    file, triangles = export_meshes(tmp_path, schema, [((255, 0, 0, 128), positions, indices)])

    assert triangles == [12]
    (proxy,) = file.by_type("IfcBuildingElementProxy")
    (representation,) = proxy.Representation.Representations
    assert representation.RepresentationType == "Tessellation"
    (face_set,) = representation.Items
    assert face_set.is_a("IfcTriangulatedFaceSet")
    assert min(min(triangle) for triangle in face_set.CoordIndex) == 1
    assert sorted(face_set.Coordinates.CoordList) == sorted(tuple(map(float, row)) for row in positions)
    (styled,) = face_set.StyledByItem
    (surface_style,) = styled.Styles
    assert surface_style.Styles[0].Transparency == np.round(1 - 128 / 255, 4)


def test_ifc2x3_meshes_are_shell_based_surface_models(tmp_path: Path) -> None:
    positions, indices = box_mesh((0, 0, 0), (1, 1, 1))

    file, _ = export_meshes(tmp_path, "IFC2X3", [((0, 0, 255, 255), positions, indices)])

    (proxy,) = file.by_type("IfcBuildingElementProxy")
    (representation,) = proxy.Representation.Representations
    assert representation.RepresentationType == "SurfaceModel"
    (model,) = representation.Items
    assert model.is_a("IfcShellBasedSurfaceModel")
    faces = model.SbsmBoundary[0].CfsFaces
    assert len(faces) == 12
    corners = {point.Coordinates for face in faces for point in face.Bounds[0].Bound.Polygon}
    assert corners == {tuple(map(float, row)) for row in positions}
    (styled,) = model.StyledByItem
    assert styled.Styles[0].is_a("IfcPresentationStyleAssignment")


def test_styles_are_shared_per_colour(tmp_path: Path) -> None:
    positions, indices = box_mesh((0, 0, 0), (1, 1, 1))
    red = ((1, 2, 3, 255), positions, indices)

    file, _ = export_meshes(tmp_path, "IFC4", [red, red], [red])

    assert len(file.by_type("IfcSurfaceStyle")) == 1
    assert len(file.by_type("IfcStyledItem")) == 3


def test_meshes_without_triangles_give_no_representation(tmp_path: Path) -> None:
    empty = ((1, 2, 3, 255), np.zeros((0, 3), dtype=np.float32), np.zeros(0, dtype=np.uint32))

    file, triangles = export_meshes(tmp_path, "IFC4", [empty])

    assert triangles == [0]
    assert file.by_type("IfcBuildingElementProxy")[0].Representation is None
    assert not file.by_type("IfcProductDefinitionShape")
