"""All SQL of reset and snapshots: the schema read from the database's catalog, whole tables read, emptied and
refilled, and the rows of `control_snapshots`.

Generic over the tables: whatever table a migration adds is wiped, saved and restored without an edit here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from twinbridge.db.database import Row, Transaction
from twinbridge.db.models.control_snapshot import ControlSnapshot
from twinbridge.db.tables import Table

SNAPSHOTS = Table("control_snapshots", ControlSnapshot, key=("name",))
# What a reset leaves and a snapshot does not hold: the schema's revision, the snapshots themselves, and the
# service clients registered with the built-in issuer (credentials of the set-up, like the issuer's keys on
# disk: a test suite registers its client once, and its tokens keep working across resets).
KEPT_TABLES = frozenset({"alembic_version", SNAPSHOTS.name, "service_clients"})


@dataclass(frozen=True)
class Column:
    name: str
    # How values of the column are kept in a snapshot: "json", "datetime", "bytes" or "plain".
    kind: str


@dataclass
class TableShape:
    name: str
    columns: list[Column] = field(default_factory=list)
    # Tables its foreign keys name (itself left out), and (column, referenced column) of those naming itself.
    parents: set[str] = field(default_factory=set)
    self_references: list[tuple[str, str]] = field(default_factory=list)
    # PostgreSQL: (column, sequence) of its serial and identity columns.
    sequences: list[tuple[str, str]] = field(default_factory=list)


# The schema of each (dialect, migration revision): it changes only with a migration, and reading it from
# PostgreSQL's information_schema costs more than a whole restore of a small world.
_SCHEMAS: dict[tuple[str, str], list[TableShape]] = {}


def _kind(declared_type: str) -> str:
    declared = declared_type.lower()
    if "json" in declared:
        return "json"
    if "timestamp" in declared or "datetime" in declared:
        return "datetime"
    if declared in {"blob", "bytea"} or "binary" in declared:
        return "bytes"
    return "plain"


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class StateRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    # ---- the schema ------------------------------------------------------------------------------------

    async def tables(self) -> list[TableShape]:
        """Every table of the state (all but KEPT_TABLES), parents before the tables that refer to them."""
        key = (self.transaction.dialect, await self.revision())
        known = _SCHEMAS.get(key)
        if known is None:
            shapes = await (
                self._sqlite_tables() if self.transaction.dialect == "sqlite" else self._postgres_tables()
            )
            known = _SCHEMAS[key] = _parents_first(
                {name: shape for name, shape in shapes.items() if name not in KEPT_TABLES}
            )
        return known

    async def _sqlite_tables(self) -> dict[str, TableShape]:
        names = await self.transaction.all(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
        shapes: dict[str, TableShape] = {}
        for (name,) in names:
            shape = shapes[name] = TableShape(name)
            for column, declared in await self.transaction.all(
                "SELECT name, type FROM pragma_table_info(:table) ORDER BY cid", {"table": name}
            ):
                shape.columns.append(Column(column, _kind(declared or "")))
            for parent, column, referenced in await self.transaction.all(
                'SELECT "table", "from", "to" FROM pragma_foreign_key_list(:table)', {"table": name}
            ):
                _add_reference(shape, parent, column, referenced)
        return shapes

    async def _postgres_tables(self) -> dict[str, TableShape]:
        shapes: dict[str, TableShape] = {}
        for name, column, declared in await self.transaction.all(
            "SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns c"
            " JOIN pg_tables t ON t.schemaname = c.table_schema AND t.tablename = c.table_name"
            " WHERE c.table_schema = current_schema() ORDER BY c.table_name, c.ordinal_position"
        ):
            shapes.setdefault(name, TableShape(name)).columns.append(Column(column, _kind(declared)))
        for name, parent, column, referenced in await self.transaction.all(
            "SELECT child.relname, parent.relname, child_column.attname, parent_column.attname"
            " FROM pg_constraint c"
            " JOIN pg_class child ON child.oid = c.conrelid"
            " JOIN pg_class parent ON parent.oid = c.confrelid"
            " JOIN pg_namespace n ON n.oid = child.relnamespace"
            " JOIN pg_attribute child_column ON child_column.attrelid = c.conrelid"
            " AND child_column.attnum = c.conkey[1]"
            " JOIN pg_attribute parent_column ON parent_column.attrelid = c.confrelid"
            " AND parent_column.attnum = c.confkey[1]"
            " WHERE c.contype = 'f' AND n.nspname = current_schema()"
        ):
            if name in shapes:
                _add_reference(shapes[name], parent, column, referenced)
        for name, column, sequence in await self.transaction.all(
            "SELECT table_name, column_name, pg_get_serial_sequence(format('%I', table_name), column_name)"
            " FROM information_schema.columns WHERE table_schema = current_schema()"
            " AND (column_default LIKE 'nextval(%' OR is_identity = 'YES')"
        ):
            if name in shapes and sequence is not None:
                shapes[name].sequences.append((column, sequence))
        return shapes

    async def revision(self) -> str:
        return str(await self.transaction.value("SELECT version_num FROM alembic_version") or "")

    # ---- whole tables ----------------------------------------------------------------------------------

    async def lock(self, tables: Sequence[TableShape]) -> None:
        """Keeps every other writer out of the tables until the transaction ends; readers go on (PostgreSQL;
        on SQLite the transaction already holds the database's one write lock)."""
        if self.transaction.dialect == "postgresql" and tables:
            names = ", ".join(_quoted(table.name) for table in tables)
            await self.transaction.execute(f"LOCK TABLE {names} IN SHARE ROW EXCLUSIVE MODE")

    async def runs_held_by_workers(self, now: datetime) -> list[str]:
        """Active runs a worker holds under a live lease: they are executing (or scripted, or on hold)."""
        rows = await self.transaction.all(
            "SELECT id FROM runs WHERE active_imodel_id IS NOT NULL AND worker_id IS NOT NULL"
            " AND lease_expires_at >= :now ORDER BY created_at, id",
            {"now": now},
        )
        return [str(row[0]) for row in rows]

    async def read(self, table: TableShape) -> list[Row]:
        columns = ", ".join(_quoted(column.name) for column in table.columns)
        return await self.transaction.all(f"SELECT {columns} FROM {_quoted(table.name)}")

    async def delete_all(self, tables: Sequence[TableShape]) -> None:
        """Empties the tables, those that refer to others first."""
        for table in reversed(tables):
            await self.transaction.execute(f"DELETE FROM {_quoted(table.name)}")

    async def insert(self, table: TableShape, rows: list[list[Any]]) -> None:
        if not rows:
            return
        columns = table.columns
        json_columns = [index for index, column in enumerate(columns) if column.kind == "json"]
        if self.transaction.dialect == "sqlite":
            # SQLite keeps JSON as text; written here, so that a JSON string or number keeps its quotes.
            for row in rows:
                for index in json_columns:
                    if row[index] is not None:
                        row[index] = orjson.dumps(row[index]).decode()
        names = ", ".join(_quoted(column.name) for column in columns)
        placeholders = ", ".join(f":c{index}" for index in range(len(columns)))
        sql = f"INSERT INTO {_quoted(table.name)} ({names}) VALUES ({placeholders})"
        await self.transaction.execute_many(
            sql, [{f"c{index}": value for index, value in enumerate(row)} for row in rows]
        )

    async def restart_sequences(self, table: TableShape) -> None:
        """PostgreSQL: serial columns go on after the restored rows' highest value (SQLite takes the highest
        rowid by itself)."""
        for column, sequence in table.sequences:
            await self.transaction.value(
                f"SELECT setval(:sequence, COALESCE((SELECT MAX({_quoted(column)})"
                f" FROM {_quoted(table.name)}), 0) + 1, false)",
                {"sequence": sequence},
            )

    # ---- snapshots -------------------------------------------------------------------------------------

    async def add_snapshot(self, snapshot: ControlSnapshot) -> None:
        await self.transaction.execute(SNAPSHOTS.insert_sql, SNAPSHOTS.values(snapshot))

    async def snapshot(self, name: str) -> ControlSnapshot | None:
        row = await self.transaction.one(
            f"SELECT {SNAPSHOTS.select()} FROM control_snapshots WHERE name = :name", {"name": name}
        )
        return SNAPSHOTS.row(row) if row is not None else None

    async def snapshot_exists(self, name: str) -> bool:
        found = await self.transaction.value(
            "SELECT 1 FROM control_snapshots WHERE name = :name", {"name": name}
        )
        return found is not None

    async def snapshot_summaries(self) -> list[tuple[str, datetime, dict[str, Any]]]:
        """(name, created at, summary) of every snapshot, oldest first, without their rows."""
        rows = await self.transaction.all(
            "SELECT name, created_at, summary FROM control_snapshots ORDER BY created_at, name"
        )
        return [(str(name), created_at, summary) for name, created_at, summary in rows]

    async def delete_snapshot(self, name: str) -> bool:
        return (
            await self.transaction.execute("DELETE FROM control_snapshots WHERE name = :name", {"name": name})
            > 0
        )


def _add_reference(shape: TableShape, parent: str, column: str, referenced: str) -> None:
    if parent == shape.name:
        shape.self_references.append((column, referenced))
    else:
        shape.parents.add(parent)


def _parents_first(shapes: dict[str, TableShape]) -> list[TableShape]:
    """The tables in an order that inserts a row's parents before it. The foreign keys of the schema form no
    cycle; one would be broken in name order, and the database would say if that does not do."""
    ordered: list[TableShape] = []
    remaining = dict(sorted(shapes.items()))
    while remaining:
        ready = [name for name, shape in remaining.items() if not shape.parents & remaining.keys()]
        for name in ready or [next(iter(remaining))]:
            ordered.append(remaining.pop(name))
    return ordered
