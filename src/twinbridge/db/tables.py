"""Tables as repositories see them: an entity dataclass per row, its columns named by its fields.

A repository writes its own SQL; a Table gives it the column list of a SELECT, builds an entity from a row,
and writes the INSERT, UPDATE and DELETE of a whole entity. Fields marked NOT_A_COLUMN (a run's jobs, a
connection's newest run) come after the columns and are filled by the repository: a SELECT may add their
values as computed columns after the table's, in field order, and `row` takes them.
"""

from __future__ import annotations

from dataclasses import Field, dataclass, fields
from functools import cached_property
from typing import Any, Generic, TypeVar

from twinbridge.db.database import Row

Entity = TypeVar("Entity")
_COLUMN = "column"
# `field(..., metadata=NOT_A_COLUMN)`: a field of an entity that is not a column of its table.
NOT_A_COLUMN = {_COLUMN: False}


@dataclass(frozen=True)
class Table(Generic[Entity]):
    name: str
    entity: type[Entity]
    key: tuple[str, ...] = ("id",)

    @cached_property
    def columns(self) -> tuple[str, ...]:
        declared: tuple[Field[Any], ...] = fields(self.entity)  # type: ignore[arg-type]
        columns = tuple(item.name for item in declared if item.metadata.get(_COLUMN, True))
        if [item.name for item in declared[: len(columns)]] != list(columns):
            raise TypeError(f"{self.entity.__name__}: fields that are not columns must come last")
        return columns

    def select(self, alias: str | None = None) -> str:
        """The column list of a SELECT of whole entities, e.g. "r.id, r.kind, …" for alias "r"."""
        selected = self._selects.get(alias)
        if selected is None:
            prefix = f"{alias}." if alias else ""
            selected = self._selects[alias] = ", ".join(prefix + column for column in self.columns)
        return selected

    @cached_property
    def _selects(self) -> dict[str | None, str]:
        return {}

    def row(self, values: Row) -> Entity:
        return self.entity(*values)

    def rows(self, rows: list[Row]) -> list[Entity]:
        return [self.entity(*values) for values in rows]

    def values(self, entity: Entity) -> dict[str, Any]:
        return {column: getattr(entity, column) for column in self.columns}

    @cached_property
    def insert_sql(self) -> str:
        return (
            f"INSERT INTO {self.name} ({', '.join(self.columns)}) "
            f"VALUES ({', '.join(':' + column for column in self.columns)})"
        )

    @cached_property
    def update_sql(self) -> str:
        assignments = ", ".join(f"{column} = :{column}" for column in self.columns if column not in self.key)
        return f"UPDATE {self.name} SET {assignments} WHERE {self._key_condition}"

    @cached_property
    def upsert_sql(self) -> str:
        """Insert, or replace the row with the same key: one statement, so two writers cannot race."""
        assignments = ", ".join(
            f"{column} = excluded.{column}" for column in self.columns if column not in self.key
        )
        return f"{self.insert_sql} ON CONFLICT ({', '.join(self.key)}) DO UPDATE SET {assignments}"

    @cached_property
    def delete_sql(self) -> str:
        return f"DELETE FROM {self.name} WHERE {self._key_condition}"

    @cached_property
    def get_sql(self) -> str:
        return f"SELECT {self.select()} FROM {self.name} WHERE {self._key_condition}"

    @property
    def _key_condition(self) -> str:
        return " AND ".join(f"{column} = :{column}" for column in self.key)

    def key_values(self, *values: Any) -> dict[str, Any]:
        return dict(zip(self.key, values, strict=True))
