"""Alembic environment. The schema comes only from these migrations; `twinbridge db upgrade` runs them."""

from __future__ import annotations

from alembic import context

from twinbridge.db import models  # noqa: F401  (registers every table on Base.metadata)
from twinbridge.db.base import Base

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
