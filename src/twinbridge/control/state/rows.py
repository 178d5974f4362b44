"""How a snapshot keeps the rows of the tables: one JSON document, each column's values in a form that reads
back as the same Python value (timestamps, bytes and JSON columns by the column's type)."""

from __future__ import annotations

import base64
from datetime import date, datetime
from typing import Any

import orjson

from twinbridge.control.state.repository import TableShape
from twinbridge.db.database import Row


def _encoded(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64encode(value).decode()
    if kind == "datetime" and isinstance(value, date):
        return value.isoformat()
    return value


def _decoded(kind: str, value: Any) -> Any:
    if value is None:
        return None
    if kind == "bytes":
        return base64.b64decode(value)
    if kind == "datetime":
        return datetime.fromisoformat(value)
    return value


def encode(tables: dict[str, tuple[TableShape, list[Row]]]) -> str:
    """{table: {"columns": [...], "rows": [[...]]}} for the tables' rows."""
    document = {
        name: {
            "columns": [column.name for column in shape.columns],
            "rows": [
                [_encoded(column.kind, value) for column, value in zip(shape.columns, row, strict=True)]
                for row in rows
            ],
        }
        for name, (shape, rows) in tables.items()
    }
    return orjson.dumps(document).decode()


def decode(document: str) -> dict[str, Any]:
    return dict(orjson.loads(document))


def table_rows(decoded: dict[str, Any], shape: TableShape) -> list[list[Any]]:
    """The saved rows of one table in the order of its columns now (a snapshot is restored only to the
    schema revision it was taken at); in a table with a foreign key to itself, each row after the one it
    names."""
    saved = decoded.get(shape.name)
    if not saved:
        return []
    positions = [saved["columns"].index(column.name) for column in shape.columns]
    rows = [
        [
            _decoded(column.kind, row[position])
            for column, position in zip(shape.columns, positions, strict=True)
        ]
        for row in saved["rows"]
    ]
    for column, referenced in shape.self_references:
        rows = _referenced_first(rows, shape, column, referenced)
    return rows


def _referenced_first(
    rows: list[list[Any]], shape: TableShape, column: str, referenced: str
) -> list[list[Any]]:
    names = [item.name for item in shape.columns]
    child, parent = names.index(column), names.index(referenced)
    ordered: list[list[Any]] = []
    placed: set[Any] = set()
    pending = rows
    while pending:
        ready = [row for row in pending if row[child] is None or row[child] in placed]
        if not ready:  # a row naming a row that is not there: left to the database to refuse
            ready = pending
        ordered.extend(ready)
        placed.update(row[parent] for row in ready)
        ready_ids = {id(row) for row in ready}
        pending = [row for row in pending if id(row) not in ready_ids]
    return ordered
