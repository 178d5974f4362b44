"""How a snapshot keeps rows (twinbridge.control.state.rows): values read back as they were saved."""

from __future__ import annotations

from datetime import UTC, datetime

from twinbridge.control.state import rows
from twinbridge.control.state.repository import Column, TableShape

FOLDERS = TableShape(
    "folders",
    columns=[Column("id", "plain"), Column("parent_id", "plain"), Column("created_at", "datetime")],
    self_references=[("parent_id", "id")],
)
ITEMS = TableShape(
    "items",
    columns=[
        Column("id", "plain"),
        Column("options", "json"),
        Column("digest", "bytes"),
        Column("on", "plain"),
    ],
)
MOMENT = datetime(2026, 12, 1, 11, 40, 5, 123456, tzinfo=UTC)


def test_values_read_back_as_the_same_python_values() -> None:
    saved = [("a", {"nested": [1, "two"]}, b"\x00\xff", True), ("b", "a JSON string", None, False)]

    document = rows.encode({"items": (ITEMS, saved)})

    assert rows.table_rows(rows.decode(document), ITEMS) == [list(row) for row in saved]


def test_timestamps_keep_their_zone_and_microseconds() -> None:
    document = rows.encode({"folders": (FOLDERS, [("root", None, MOMENT)])})

    assert rows.table_rows(rows.decode(document), FOLDERS) == [["root", None, MOMENT]]


def test_rows_of_a_table_that_names_itself_come_after_the_rows_they_name() -> None:
    saved = [("grandchild", "child", MOMENT), ("child", "root", MOMENT), ("root", None, MOMENT)]

    restored = rows.table_rows(rows.decode(rows.encode({"folders": (FOLDERS, saved)})), FOLDERS)

    assert [row[0] for row in restored] == ["root", "child", "grandchild"]


def test_a_table_the_snapshot_does_not_hold_gets_no_rows() -> None:
    assert rows.table_rows(rows.decode(rows.encode({})), FOLDERS) == []
