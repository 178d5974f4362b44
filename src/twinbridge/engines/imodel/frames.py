"""The engine's stdout frames and its binary mesh batches (layout in node/README.md).

Decoding never copies vertex data: every array is a `numpy.frombuffer` view into the frame's bytes, so a
batch costs its own size once, and it is freed as soon as the last view of it is dropped.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass
from enum import IntEnum
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import orjson

from twinbridge.engines.imodel.errors import EngineProtocolError

FRAME_HEADER = struct.Struct(">IB")  # payload length, kind
KIND_JSON = 0x4A  # "J"
KIND_BINARY = 0x42  # "B"
# Nothing the engine sends comes near this; a larger length means the stream is out of step.
MAX_FRAME_BYTES = 1 << 30

BATCH_MAGIC = 0x314D4254  # "TBM1"
BATCH_HEADER = struct.Struct("<IIII")  # magic, request id, record count, flags
RECORD_HEADER = struct.Struct("<BBBB4BQQQQII")
BATCH_FLAG_LOCAL_FRAME = 1
RECORD_FLAG_NORMALS = 1
RECORD_FLAG_TWO_SIDED = 2
RECORD_FLAG_PARAMS = 4
RECORD_FLAG_FLOAT64 = 8


class RecordType(IntEnum):
    MESH = 1
    LINES = 2


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame: a decoded JSON message, or the raw payload of a binary batch."""

    kind: int
    message: dict[str, Any] | None
    payload: bytes

    @property
    def is_json(self) -> bool:
        return self.kind == KIND_JSON


def parse_frame(kind: int, payload: bytes) -> Frame:
    if kind == KIND_JSON:
        try:
            message = orjson.loads(payload)
        except ValueError as problem:
            raise EngineProtocolError(f"a JSON frame that is not JSON: {problem}") from None
        if not isinstance(message, dict):
            raise EngineProtocolError("a JSON frame that is not an object")
        return Frame(kind, message, b"")
    if kind == KIND_BINARY:
        return Frame(kind, None, payload)
    raise EngineProtocolError(f"unknown frame kind 0x{kind:02x}")


@dataclass(frozen=True, slots=True)
class MeshRecord:
    """One (element, colour, material) part of an element's graphics.

    `positions` is (n, 3) float32 (float64 when requested), `indices` is flat uint32: 3 per triangle for
    meshes, 2 per segment for lines. `rgba` has alpha = 255 - transparency.
    """

    record_type: RecordType
    element_id: int
    sub_category_id: int
    material_id: int
    texture_id: int
    geometry_class: int
    rgba: tuple[int, int, int, int]
    two_sided: bool
    positions: npt.NDArray[np.floating[Any]]
    normals: npt.NDArray[np.float32] | None
    params: npt.NDArray[np.float32] | None
    indices: npt.NDArray[np.uint32]

    @property
    def triangle_count(self) -> int:
        return len(self.indices) // 3 if self.record_type is RecordType.MESH else 0


@dataclass(frozen=True, slots=True)
class MeshBatch:
    request_id: int
    local_frame: bool
    records: list[MeshRecord]


def decode_mesh_batch(payload: bytes) -> MeshBatch:
    """Decode a binary batch into records whose arrays are views into `payload`."""
    if len(payload) < BATCH_HEADER.size:
        raise EngineProtocolError(f"a mesh batch of {len(payload)} bytes is shorter than its header")
    magic, request_id, record_count, batch_flags = BATCH_HEADER.unpack_from(payload, 0)
    if magic != BATCH_MAGIC:
        raise EngineProtocolError(f"a mesh batch with magic 0x{magic:08x} instead of 0x{BATCH_MAGIC:08x}")
    offset = BATCH_HEADER.size
    records: list[MeshRecord] = []
    for _ in range(record_count):
        if offset + RECORD_HEADER.size > len(payload):
            raise EngineProtocolError("a mesh batch ends inside a record header")
        (
            record_type,
            flags,
            geometry_class,
            _reserved,
            red,
            green,
            blue,
            alpha,
            element_id,
            sub_category_id,
            material_id,
            texture_id,
            vertex_count,
            index_count,
        ) = RECORD_HEADER.unpack_from(payload, offset)
        offset += RECORD_HEADER.size
        position_type = np.float64 if flags & RECORD_FLAG_FLOAT64 else np.float32
        position_bytes = vertex_count * 3 * np.dtype(position_type).itemsize
        needed = (
            position_bytes
            + (vertex_count * 12 if flags & RECORD_FLAG_NORMALS else 0)
            + (vertex_count * 8 if flags & RECORD_FLAG_PARAMS else 0)
            + index_count * 4
        )
        if offset + needed > len(payload):
            raise EngineProtocolError(
                f"a mesh record of element 0x{element_id:x} runs past the end of its batch"
            )
        positions = cast(
            "npt.NDArray[np.floating[Any]]",
            np.frombuffer(payload, position_type, vertex_count * 3, offset).reshape(vertex_count, 3),
        )
        offset += position_bytes
        normals = None
        if flags & RECORD_FLAG_NORMALS:
            normals = np.frombuffer(payload, np.float32, vertex_count * 3, offset).reshape(vertex_count, 3)
            offset += vertex_count * 12
        params = None
        if flags & RECORD_FLAG_PARAMS:
            params = np.frombuffer(payload, np.float32, vertex_count * 2, offset).reshape(vertex_count, 2)
            offset += vertex_count * 8
        indices = np.frombuffer(payload, np.uint32, index_count, offset)
        offset += index_count * 4
        try:
            kind = RecordType(record_type)
        except ValueError:
            raise EngineProtocolError(f"unknown mesh record type {record_type}") from None
        records.append(
            MeshRecord(
                record_type=kind,
                element_id=element_id,
                sub_category_id=sub_category_id,
                material_id=material_id,
                texture_id=texture_id,
                geometry_class=geometry_class,
                rgba=(red, green, blue, alpha),
                two_sided=bool(flags & RECORD_FLAG_TWO_SIDED),
                positions=positions,
                normals=normals,
                params=params,
                indices=indices,
            )
        )
    if offset != len(payload):
        raise EngineProtocolError(f"a mesh batch has {len(payload) - offset} bytes after its last record")
    return MeshBatch(request_id, bool(batch_flags & BATCH_FLAG_LOCAL_FRAME), records)


def group_by_element(records: list[MeshRecord]) -> Iterator[tuple[int, list[MeshRecord]]]:
    """Consecutive records of one element (the engine keeps an element's records together)."""
    current: list[MeshRecord] = []
    for record in records:
        if current and record.element_id != current[0].element_id:
            yield current[0].element_id, current
            current = []
        current.append(record)
    if current:
        yield current[0].element_id, current


def element_id_to_hex(element_id: int) -> str:
    """iTwin.js spelling of an id, as the engine's JSON uses it."""
    return f"0x{element_id:x}"


def element_id_from_hex(text: str) -> int:
    return int(text, 16)
