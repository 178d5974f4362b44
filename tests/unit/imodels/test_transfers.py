"""Ranges, ETags and block lists as Azure Blob Storage clients send and read them."""

from __future__ import annotations

import io
from pathlib import Path
from typing import BinaryIO, cast

import pytest

from twinbridge.imodels.transfers import (
    ByteRange,
    ConcatenatedBlobs,
    ConditionNotMet,
    RangeNotSatisfiable,
    block_ids,
    check_if_match,
    read_range,
    requested_range,
)
from twinbridge.platform.errors import InvalidRequest
from twinbridge.storage.blobs import LocalBlobStorage


@pytest.mark.parametrize(
    ("header", "wanted"),
    [
        (None, None),
        ("", None),
        ("bytes=0-0", ByteRange(0, 0)),
        ("bytes=10-19", ByteRange(10, 19)),
        ("bytes=90-", ByteRange(90, 99)),
        ("bytes=90-500", ByteRange(90, 99)),
        ("bytes=-10", ByteRange(90, 99)),
        ("bytes=-500", ByteRange(0, 99)),
        ("bytes=5-3", None),  # not a valid range: ignored
        ("bytes=0-1,5-6", None),  # several ranges: the whole file
        ("items=0-1", None),
    ],
)
def test_requested_range_of_a_hundred_byte_file(header: str | None, wanted: ByteRange | None) -> None:
    assert requested_range(header, 100) == wanted


@pytest.mark.parametrize("header", ["bytes=100-", "bytes=100-200", "bytes=-0"])
def test_range_past_the_end_is_not_satisfiable_and_says_the_size(header: str) -> None:
    with pytest.raises(RangeNotSatisfiable) as refused:
        requested_range(header, 100)
    assert refused.value.headers == {"Content-Range": "bytes */100"}


def test_content_range_names_first_and_last_byte_and_size() -> None:
    assert ByteRange(0, 0).content_range(1253376) == "bytes 0-0/1253376"
    assert ByteRange(10, 19).length == 10


def test_if_match_accepts_the_etag_quoted_or_not_or_a_star() -> None:
    for header in ('"abc"', "abc", "*", '"x", "abc"'):
        check_if_match(header, '"abc"')
    check_if_match(None, '"abc"')
    with pytest.raises(ConditionNotMet):
        check_if_match('"other"', '"abc"')


class _Unseekable(io.BytesIO):
    def seekable(self) -> bool:
        return False


@pytest.mark.parametrize("stream_class", [io.BytesIO, _Unseekable])
def test_read_range_reads_from_the_start_for_the_length(stream_class: type[io.BytesIO]) -> None:
    content = bytes(range(256)) * 20_000
    stream = stream_class(content)
    assert b"".join(read_range(stream, 1_500_000, 2_000_000)) == content[1_500_000:3_500_000]
    assert stream.closed


def test_block_list_gives_ids_in_order_whatever_their_kind() -> None:
    document = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        b"<BlockList><Latest>AA==</Latest><Committed> AQ== </Committed>"
        b"<Uncommitted>Ag==</Uncommitted></BlockList>"
    )
    assert block_ids(document) == ["AA==", "AQ==", "Ag=="]


@pytest.mark.parametrize(
    "document",
    [
        b"",
        b"<BlockList></BlockList>",
        b"<Blocks><Latest>A</Latest></Blocks>",
        b"<BlockList><Other>A</Other></BlockList>",
        b"<BlockList><Latest></Latest></BlockList>",
    ],
)
def test_a_block_list_that_is_not_one_is_refused(document: bytes) -> None:
    with pytest.raises(InvalidRequest) as refused:
        block_ids(document)
    assert [detail.code for detail in refused.value.details] == ["InvalidBlockList"]


def test_concatenated_blobs_read_as_one_stream(tmp_path: Path) -> None:
    blobs = LocalBlobStorage(tmp_path)
    for key, content in (("a", b"first-"), ("b", b""), ("c", b"third")):
        source = tmp_path / f"{key}.src"
        source.write_bytes(content)
        blobs.put_file(f"blocks/{key}", source)
    joined = ConcatenatedBlobs(blobs, ["blocks/c", "blocks/a", "blocks/b", "blocks/c"])
    stored = blobs.put_stream("joined", cast(BinaryIO, joined))
    assert blobs.local_path("joined").read_bytes() == b"thirdfirst-third"
    assert stored.size == 16
