"""Entities written straight to STEP text as they are made, after IfcOpenShell's part of the file.

IfcOpenShell keeps every entity in memory until `write`, and the meshes are most of a file: at 50k elements
their coordinate and index lists were about two thirds of the 1.2 GB Python peak, and IfcOpenShell's writer
spent about 4 s per million triangles formatting them. So the geometry (point lists, face sets or IFC2X3
surface models, styled items, shape representations, styles), the products and their property sets go to
the file as STEP lines, formatted in bulk by `%`-formatting of whole arrays, and nothing of them stays in
memory.

The file begins with IfcOpenShell's part (header and the structure it holds, written once that is complete),
continues with the entities written here, numbered from `first_id` (above every id of the part), and ends
with `finish`. STEP lets an entity refer to one written after it, so the order of lines does not matter.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import ifcopenshell
import ifcopenshell.ifcopenshell_wrapper
import numpy as np
import numpy.typing as npt

from twinbridge.engines.ifc.geometry import Rgba, ifc_mesh_arrays
from twinbridge.engines.imodel.frames import MeshRecord, RecordType

# "%.6f" gives "2.500000"; IfcOpenShell (and most writers) give "2.5". Stripping the zeros keeps files small.
_TRAILING_ZEROS = re.compile(r"0+(?=[,)])")


def step_real(value: float) -> str:
    """A REAL as STEP wants it: always a decimal point, exponent as E (repr gives "1e-06")."""
    text = repr(float(value))
    if "e" in text:
        mantissa, exponent = text.split("e")
        if "." not in mantissa:
            mantissa += "."
        return f"{mantissa}E{exponent}"
    return text


def _coordinates_text(coordinates: npt.NDArray[np.float64]) -> str:
    """'(x,y,z),(x,y,z),...' with the coordinates (rounded to 1e-6 already) in short decimal form."""
    text = ("(%.6f,%.6f,%.6f)," * len(coordinates)) % tuple(coordinates.ravel().tolist())
    return _TRAILING_ZEROS.sub("", text[:-1])


class StepFragment:
    """Entity lines appended to a file, numbered from `first_id`; with `part`, the file begins with that STEP
    file's header and entities (all of it but the end of its DATA section)."""

    def __init__(self, path: Path, first_id: int, part: Path | None = None) -> None:
        self.path = path
        self.first_id = first_id
        self.next_id = first_id
        self._out = path.open("w", encoding="ascii", buffering=1 << 20)
        if part is not None:
            text = part.read_text(encoding="ascii")
            end = text.rfind("ENDSEC;")
            if end < 0 or "DATA;" not in text:
                self._out.close()
                raise ValueError(f"{part} has no DATA section")
            self._out.write(text[:end])

    def add(self, body: str) -> int:
        """Write `#id=BODY;` and return the id."""
        entity_id = self.next_id
        self.next_id += 1
        self._out.write(f"#{entity_id}={body};\n")
        return entity_id

    def reserve(self, count: int) -> int:
        """The first of `count` consecutive ids, for entities written in bulk with `write`."""
        first = self.next_id
        self.next_id += count
        return first

    def write(self, lines: str) -> None:
        self._out.write(lines)

    def size(self) -> int:
        """Bytes written to the file so far."""
        self._out.flush()
        return os.fstat(self._out.fileno()).st_size

    def finish(self) -> None:
        """End the DATA section and the file (the one begun with a part), and close it."""
        self._out.write("ENDSEC;\nEND-ISO-10303-21;\n")
        self._out.close()

    def close(self) -> None:
        if not self._out.closed:
            self._out.close()


class StepGeometryWriter:
    """Shape representations as STEP text in a fragment; styles are shared per colour."""

    def __init__(
        self,
        fragment: StepFragment,
        schema: str,
        body_context_id: int,
        tessellation: bool,
        scale: float = 1.0,
        axis_context_id: int | None = None,
    ) -> None:
        self.fragment = fragment
        # Metres to the file's length unit (1000 for millimetres).
        self.scale = scale
        self.schema = schema
        self.body_context_id = body_context_id
        # Line strings go to an 'Axis' representation (IfcGeometricCurveSet of polylines) in this context.
        self.axis_context_id = axis_context_id if axis_context_id is not None else body_context_id
        self.tessellation = tessellation
        # IFC4X3 added an optional TagList to IfcCartesianPointList3D.
        self._point_list_tail = ",$" if schema.startswith("IFC4X3") else ""
        self._styles: dict[Rgba, int] = {}

    def representation(
        self,
        meshes: Sequence[tuple[Rgba, npt.NDArray[Any], npt.NDArray[Any]]],
        lines: Sequence[tuple[npt.NDArray[Any], npt.NDArray[Any]]] = (),
    ) -> tuple[int | None, int]:
        """Id of an IfcProductDefinitionShape for (colour, positions, indices) meshes and (positions, segment
        indices) lines, and its triangles. The body representation, when there is one, is written last before
        the shape (its id is the shape's minus one)."""
        items = []
        triangles = 0
        add = self.fragment.add
        axis = self._axis_representation(lines)
        for rgba, positions, indices in meshes:
            if len(indices) < 3 or len(positions) == 0:
                continue
            item = self._mesh_item(positions, indices)
            add(f"IFCSTYLEDITEM(#{item},(#{self._style(rgba)}),$)")
            items.append(f"#{item}")
            triangles += len(indices) // 3
        representations = [f"#{axis}"] if axis is not None else []
        if items:
            kind = "Tessellation" if self.tessellation else "SurfaceModel"
            body = add(f"IFCSHAPEREPRESENTATION(#{self.body_context_id},'Body','{kind}',({','.join(items)}))")
            representations.append(f"#{body}")
        if not representations:
            return None, 0
        return add(f"IFCPRODUCTDEFINITIONSHAPE($,$,({','.join(representations)}))"), triangles

    def records_representation(self, records: Sequence[MeshRecord]) -> tuple[int | None, int]:
        return self.representation(
            [
                (record.rgba, record.positions, record.indices)
                for record in records
                if record.record_type is RecordType.MESH
            ],
            [
                (record.positions, record.indices)
                for record in records
                if record.record_type is RecordType.LINES
            ],
        )

    def _axis_representation(self, lines: Sequence[tuple[npt.NDArray[Any], npt.NDArray[Any]]]) -> int | None:
        """An 'Axis' IfcShapeRepresentation of polylines (segments that follow on each other are joined)."""
        add = self.fragment.add
        curves = []
        for positions, indices in lines:
            points = np.round(np.asarray(positions, dtype=np.float64).reshape(-1, 3) * self.scale, 6) + 0.0
            segments = np.asarray(indices, dtype=np.int64)[: len(indices) - len(indices) % 2].reshape(-1, 2)
            chain: list[int] = []
            for start, end in segments.tolist():
                if chain and chain[-1] == start:
                    chain.append(end)
                    continue
                if len(chain) >= 2:
                    curves.append(self._polyline(points, chain))
                chain = [start, end]
            if len(chain) >= 2:
                curves.append(self._polyline(points, chain))
        if not curves:
            return None
        curve_set = add(f"IFCGEOMETRICCURVESET(({','.join(f'#{curve}' for curve in curves)}))")
        return add(
            f"IFCSHAPEREPRESENTATION(#{self.axis_context_id},'Axis','GeometricCurveSet',(#{curve_set}))"
        )

    def _polyline(self, points: npt.NDArray[np.float64], chain: list[int]) -> int:
        coordinates = points[chain]
        first = self.fragment.reserve(len(coordinates))
        numbered = np.column_stack(
            (np.arange(first, first + len(coordinates), dtype=np.float64), coordinates)
        )
        lines = ("#%d=IFCCARTESIANPOINT((%.6f,%.6f,%.6f));\n" * len(coordinates)) % tuple(
            numbered.ravel().tolist()
        )
        self.fragment.write(_TRAILING_ZEROS.sub("", lines))
        return self.fragment.add(
            f"IFCPOLYLINE(({','.join(f'#{first + index}' for index in range(len(coordinates)))}))"
        )

    def _mesh_item(self, positions: npt.NDArray[Any], indices: npt.NDArray[Any]) -> int:
        if self.scale != 1.0:
            positions = positions * self.scale
        coordinates, triangles = ifc_mesh_arrays(positions, indices)
        fragment = self.fragment
        if self.tessellation:
            points = fragment.add(
                f"IFCCARTESIANPOINTLIST3D(({_coordinates_text(coordinates)}){self._point_list_tail})"
            )
            corners = ("(%d,%d,%d)," * len(triangles)) % tuple((triangles + 1).ravel().tolist())
            return fragment.add(f"IFCTRIANGULATEDFACESET(#{points},$,$,({corners[:-1]}),$)")
        # IFC2X3: one IfcCartesianPoint per vertex, and per triangle a poly loop, its bound and its face.
        count = len(coordinates)
        first_point = fragment.reserve(count)
        numbered = np.column_stack(
            (np.arange(first_point, first_point + count, dtype=np.float64), coordinates)
        )
        point_lines = ("#%d=IFCCARTESIANPOINT((%.6f,%.6f,%.6f));\n" * count) % tuple(
            numbered.ravel().tolist()
        )
        fragment.write(_TRAILING_ZEROS.sub("", point_lines))
        faces = len(triangles)
        first_loop = fragment.reserve(3 * faces)
        loops = np.arange(first_loop, first_loop + 3 * faces, 3, dtype=np.int64)
        table = np.column_stack(
            (loops, triangles + first_point, loops + 1, loops, loops + 2, loops + 1)
        )  # loop, its 3 points, bound, its loop, face, its bound
        fragment.write(
            (
                "#%d=IFCPOLYLOOP((#%d,#%d,#%d));\n#%d=IFCFACEOUTERBOUND(#%d,.T.);\n#%d=IFCFACE((#%d));\n"
                * faces
            )
            % tuple(table.ravel().tolist())
        )
        face_list = ("#%d," * faces) % tuple((loops + 2).tolist())
        shell = fragment.add(f"IFCOPENSHELL(({face_list[:-1]}))")
        return fragment.add(f"IFCSHELLBASEDSURFACEMODEL((#{shell}))")

    def _style(self, rgba: Rgba) -> int:
        style = self._styles.get(rgba)
        if style is None:
            style = self._create_style(rgba)
            self._styles[rgba] = style
        return style

    def _create_style(self, rgba: Rgba) -> int:
        add = self.fragment.add
        red, green, blue, alpha = rgba
        colour = add(
            f"IFCCOLOURRGB($,{step_real(red / 255.0)},{step_real(green / 255.0)},{step_real(blue / 255.0)})"
        )
        transparency = step_real(round(1.0 - alpha / 255.0, 4))
        if self.schema == "IFC2X3":
            # IFC2X3's IfcSurfaceStyleShading has no transparency; its rendering style does.
            shading = add(f"IFCSURFACESTYLERENDERING(#{colour},{transparency},$,$,$,$,$,$,.NOTDEFINED.)")
        else:
            shading = add(f"IFCSURFACESTYLESHADING(#{colour},{transparency})")
        surface_style = add(
            f"IFCSURFACESTYLE('#{red:02x}{green:02x}{blue:02x}{alpha:02x}',.BOTH.,(#{shading}))"
        )
        if self.schema == "IFC2X3":
            # IFC2X3 wraps styles in a presentation style assignment (removed in IFC4).
            return add(f"IFCPRESENTATIONSTYLEASSIGNMENT((#{surface_style}))")
        return surface_style


_NOT_PRINTABLE_ASCII = re.compile(r"[^\x20-\x7e]+")


def _encode_run(match: re.Match[str]) -> str:
    run = match.group(0)
    if all(ord(character) < 0x10000 for character in run):
        return "\\X2\\" + "".join(f"{ord(character):04X}" for character in run) + "\\X0\\"
    return "\\X4\\" + "".join(f"{ord(character):08X}" for character in run) + "\\X0\\"


def step_string(text: str) -> str:
    """A STEP string literal: quotes doubled, backslashes doubled, anything but printable ASCII as \\X2\\."""
    escaped = text.replace("\\", "\\\\").replace("'", "''")
    if not (text.isascii() and text.isprintable()):
        escaped = _NOT_PRINTABLE_ASCII.sub(_encode_run, escaped)
    return f"'{escaped}'"


def _is_enumeration(attribute: Any) -> bool:
    declared = attribute.type_of_attribute()
    return isinstance(declared, ifcopenshell.ifcopenshell_wrapper.named_type) and isinstance(
        declared.declared_type(), ifcopenshell.ifcopenshell_wrapper.enumeration_type
    )


class StepRef(int):
    """The id of an entity written to a fragment (an int that encodes as #id)."""


class StepDirections:
    """IfcDirection entities written once per distinct direction and shared by the placements that use it.

    Only the last `limit` distinct ones are remembered (the table is emptied when full), so that a model whose
    elements are turned every which way does not grow it with its size; a forgotten direction is written
    again when it comes back."""

    def __init__(self, text: StepEntityFactory, limit: int = 10_000) -> None:
        self.text = text
        self.limit = limit
        self._written: dict[tuple[float, float, float], StepRef] = {}

    def __call__(self, ratios: tuple[float, float, float]) -> StepRef:
        direction = self._written.get(ratios)
        if direction is None:
            if len(self._written) >= self.limit:
                self._written.clear()
            direction = self.text("IfcDirection", DirectionRatios=list(ratios))
            self._written[ratios] = direction
        return direction


class StepUnknown:
    """A LOGICAL's third value, UNKNOWN (encodes as .U.)."""


UNKNOWN = StepUnknown()


class StepTyped(NamedTuple):
    """A typed value for a select attribute, such as IFCLABEL('Steel')."""

    type_name: str
    value: Any


class StepEntityFactory:
    """Same calls as `EntityFactory` (`factory("IfcPropertySet", Name=...)`, `factory.value(...)`), but the
    entity is written to the fragment at once and the call returns its id.

    For the many small entities of property sets: writing them as text costs a fraction of creating them in
    IfcOpenShell (two native calls per attribute) and keeps nothing in memory. Values: None is $, str a
    string, bool .T./.F., int and float numbers, StepRef and IfcOpenShell entities references, StepTyped
    typed values, lists and tuples aggregates; a string given to an enumeration attribute is written as one.
    """

    def __init__(self, fragment: StepFragment, schema: str) -> None:
        self.fragment = fragment
        self._schema = ifcopenshell.ifcopenshell_wrapper.schema_by_name(schema)
        self._layouts: dict[str, tuple[str, dict[str, int], int, frozenset[int]]] = {}

    def __call__(self, entity_type: str, **attributes: Any) -> StepRef:
        return StepRef(self.fragment.add(self._body(entity_type, attributes)))

    def put(self, entity_id: int, entity_type: str, **attributes: Any) -> StepRef:
        """Writes the entity with an id reserved before (`StepFragment.reserve`)."""
        self.fragment.write(f"#{entity_id}={self._body(entity_type, attributes)};\n")
        return StepRef(entity_id)

    def _body(self, entity_type: str, attributes: dict[str, Any]) -> str:
        layout = self._layouts.get(entity_type)
        if layout is None:
            declaration: Any = self._schema.declaration_by_name(entity_type)
            attribute_list = declaration.all_attributes()
            names = [attribute.name() for attribute in attribute_list]
            indexes = {name: index for index, name in enumerate(names)}
            enumerations = frozenset(
                index for index, attribute in enumerate(attribute_list) if _is_enumeration(attribute)
            )
            layout = (declaration.name().upper(), indexes, len(names), enumerations)
            self._layouts[entity_type] = layout
        keyword, indexes, count, enumerations = layout
        values = ["$"] * count
        for name, value in attributes.items():
            index = indexes.get(name)
            if index is None:
                raise ValueError(f"{entity_type} has no attribute {name}")
            if value is not None:
                values[index] = f".{value}." if index in enumerations else self._encode(value)
        return f"{keyword}({','.join(values)})"

    def value(self, value_type: str, value: Any) -> StepTyped:
        return StepTyped(value_type.upper(), value)

    def _encode(self, value: Any) -> str:
        # Exact type checks first, most frequent first (names, typed values, references): this runs for
        # every attribute of every property entity.
        kind = type(value)
        if kind is str:
            return step_string(value)
        if kind is StepTyped:
            return f"{value.type_name}({self._encode(value.value)})"
        if kind is StepRef:
            return f"#{int(value)}"
        if kind is list or kind is tuple:
            return f"({','.join(self._encode(item) for item in value)})"
        if kind is StepUnknown:
            return ".U."
        if isinstance(value, bool):
            return ".T." if value else ".F."
        if isinstance(value, int):
            return str(int(value))
        if isinstance(value, float):
            return step_real(value)
        if isinstance(value, ifcopenshell.entity_instance):
            return f"#{value.id()}"
        if isinstance(value, str):
            return step_string(value)
        raise TypeError(f"cannot write {type(value).__name__} values as STEP")
