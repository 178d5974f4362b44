"""Alembic environment. The schema comes only from these migrations, written by hand (there is no ORM
metadata to compare against); `twinbridge db upgrade` runs them."""

from __future__ import annotations

from alembic import context

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=None,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
