"""The binary mesh batch decoder, on batches packed here the way engine.js packs them."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from twinbridge.engines.imodel.errors import EngineProtocolError
from twinbridge.engines.imodel.frames import (
    BATCH_HEADER,
    BATCH_MAGIC,
    KIND_BINARY,
    KIND_JSON,
    RECORD_FLAG_FLOAT64,
    RECORD_FLAG_NORMALS,
    RECORD_FLAG_TWO_SIDED,
    RECORD_HEADER,
    RecordType,
    decode_mesh_batch,
    group_by_element,
    parse_frame,
)


def pack_record(
    element_id: int,
    positions: np.ndarray,
    indices: list[int],
    *,
    normals: np.ndarray | None = None,
    rgba: tuple[int, int, int, int] = (10, 20, 30, 255),
    two_sided: bool = False,
    record_type: int = 1,
) -> bytes:
    flags = (RECORD_FLAG_NORMALS if normals is not None else 0) | (RECORD_FLAG_TWO_SIDED if two_sided else 0)
    if positions.dtype == np.float64:
        flags |= RECORD_FLAG_FLOAT64
    header = RECORD_HEADER.pack(
        record_type, flags, 0, 0, *rgba, element_id, 0x20, 0, 0, len(positions), len(indices)
    )
    body = positions.tobytes()
    if normals is not None:
        body += normals.astype(np.float32).tobytes()
    return header + body + np.asarray(indices, dtype=np.uint32).tobytes()


def pack_batch(records: list[bytes], *, local: bool = True, request_id: int = 7) -> bytes:
    return BATCH_HEADER.pack(BATCH_MAGIC, request_id, len(records), 1 if local else 0) + b"".join(records)


TRIANGLE = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=np.float32)


def test_decodes_positions_indices_colour_and_ids() -> None:
    batch = decode_mesh_batch(pack_batch([pack_record(0x1C, TRIANGLE, [0, 1, 2], rgba=(1, 2, 3, 200))]))

    assert batch.request_id == 7
    assert batch.local_frame
    (record,) = batch.records
    assert record.record_type is RecordType.MESH
    assert record.element_id == 0x1C
    assert record.sub_category_id == 0x20
    assert record.rgba == (1, 2, 3, 200)
    np.testing.assert_array_equal(record.positions, TRIANGLE)
    assert record.indices.tolist() == [0, 1, 2]
    assert record.triangle_count == 1
    assert record.normals is None


def test_arrays_are_views_into_the_frame_not_copies() -> None:
    payload = pack_batch([pack_record(1, TRIANGLE, [0, 1, 2])])

    record = decode_mesh_batch(payload).records[0]

    assert not record.positions.flags.owndata
    assert record.positions.base is not None
    assert not record.indices.flags.owndata


def test_decodes_normals_float64_positions_and_two_sided_flag() -> None:
    positions = TRIANGLE.astype(np.float64) + 1e6
    normals = np.tile(np.array([0, 0, 1], dtype=np.float32), (3, 1))

    (record,) = decode_mesh_batch(
        pack_batch([pack_record(5, positions, [0, 1, 2], normals=normals, two_sided=True)])
    ).records

    assert record.positions.dtype == np.float64
    np.testing.assert_array_equal(record.positions, positions)
    assert record.normals is not None
    np.testing.assert_array_equal(record.normals, normals)
    assert record.two_sided


def test_line_records_have_no_triangles() -> None:
    (record,) = decode_mesh_batch(pack_batch([pack_record(5, TRIANGLE, [0, 1, 1, 2], record_type=2)])).records

    assert record.record_type is RecordType.LINES
    assert record.triangle_count == 0


def test_records_of_one_element_are_grouped_in_order() -> None:
    batch = decode_mesh_batch(
        pack_batch(
            [
                pack_record(1, TRIANGLE, [0, 1, 2]),
                pack_record(1, TRIANGLE, [0, 1, 2], rgba=(255, 0, 0, 255)),
                pack_record(2, TRIANGLE, [0, 1, 2]),
            ]
        )
    )

    groups = [(element_id, len(records)) for element_id, records in group_by_element(batch.records)]

    assert groups == [(1, 2), (2, 1)]


def test_a_wrong_magic_is_a_protocol_error() -> None:
    payload = bytearray(pack_batch([pack_record(1, TRIANGLE, [0, 1, 2])]))
    payload[0:4] = struct.pack("<I", 0xDEADBEEF)

    with pytest.raises(EngineProtocolError, match="magic"):
        decode_mesh_batch(bytes(payload))


def test_a_truncated_batch_is_a_protocol_error() -> None:
    payload = pack_batch([pack_record(1, TRIANGLE, [0, 1, 2])])

    with pytest.raises(EngineProtocolError):
        decode_mesh_batch(payload[:-4])


def test_trailing_bytes_are_a_protocol_error() -> None:
    with pytest.raises(EngineProtocolError, match="after its last record"):
        decode_mesh_batch(pack_batch([pack_record(1, TRIANGLE, [0, 1, 2])]) + b"\0\0")


def test_json_frames_are_decoded_and_binary_frames_kept_raw() -> None:
    assert parse_frame(KIND_JSON, b'{"id": 3, "ok": true}').message == {"id": 3, "ok": True}
    assert parse_frame(KIND_BINARY, b"abc").payload == b"abc"
    with pytest.raises(EngineProtocolError):
        parse_frame(KIND_JSON, b"[1, 2]")
    with pytest.raises(EngineProtocolError):
        parse_frame(0x58, b"")
