"""Meshes as IFC geometry: tessellated for IFC4 on, faceted surface models for IFC2X3."""

from __future__ import annotations

import ifcopenshell
import numpy as np

from twinbridge.engines.ifc.factory import EntityFactory
from twinbridge.engines.ifc.geometry import GeometryWriter, box_mesh


def writer_for(schema: str) -> GeometryWriter:
    file = ifcopenshell.file(schema=schema)
    context = file.create_entity(
        "IfcGeometricRepresentationContext", ContextType="Model", CoordinateSpaceDimension=3
    )
    return GeometryWriter(EntityFactory(file), context, tessellation=schema != "IFC2X3")


def test_box_mesh_has_twelve_outward_triangles_covering_the_box() -> None:
    positions, indices = box_mesh((0, 0, 0), (1, 2, 3))

    assert len(indices) == 36
    np.testing.assert_array_equal(positions.min(axis=0), [0, 0, 0])
    np.testing.assert_array_equal(positions.max(axis=0), [1, 2, 3])
    triangles = positions[indices.reshape(-1, 3)]
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    centres = triangles.mean(axis=1) - positions.mean(axis=0)
    assert np.all(np.einsum("ij,ij->i", normals, centres) > 0)


def test_ifc4_meshes_are_triangulated_face_sets_with_one_based_indices_and_a_style() -> None:
    writer = writer_for("IFC4")
    positions, indices = box_mesh((0, 0, 0), (1, 1, 1))

    shape, triangles = writer.representation([((255, 0, 0, 128), positions, indices)])

    assert triangles == 12
    (representation,) = shape.Representations
    assert representation.RepresentationType == "Tessellation"
    (face_set,) = representation.Items
    assert face_set.is_a("IfcTriangulatedFaceSet")
    assert min(min(triangle) for triangle in face_set.CoordIndex) == 1
    (styled,) = face_set.StyledByItem
    (surface_style,) = styled.Styles
    assert surface_style.Styles[0].Transparency == np.round(1 - 128 / 255, 4)


def test_ifc2x3_meshes_are_shell_based_surface_models() -> None:
    writer = writer_for("IFC2X3")
    positions, indices = box_mesh((0, 0, 0), (1, 1, 1))

    shape, _ = writer.representation([((0, 0, 255, 255), positions, indices)])

    (representation,) = shape.Representations
    assert representation.RepresentationType == "SurfaceModel"
    (model,) = representation.Items
    assert model.is_a("IfcShellBasedSurfaceModel")
    assert len(model.SbsmBoundary[0].CfsFaces) == 12


def test_styles_are_shared_per_colour() -> None:
    writer = writer_for("IFC4")
    positions, indices = box_mesh((0, 0, 0), (1, 1, 1))

    writer.representation([((1, 2, 3, 255), positions, indices), ((1, 2, 3, 255), positions, indices)])

    assert len(writer.create.file.by_type("IfcSurfaceStyle")) == 1


def test_meshes_without_triangles_give_no_representation() -> None:
    shape, triangles = writer_for("IFC4").representation(
        [((1, 2, 3, 255), np.zeros((0, 3), dtype=np.float32), np.zeros(0, dtype=np.uint32))]
    )

    assert shape is None
    assert triangles == 0
