"""caller names of (issuer, subject), upload secrets kept hashed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 07:00:00

- A caller of an external issuer is named `<issuer URL>|<sub>` (twinbridge.auth.identity): the columns that
  hold callers' names grow from 255 to 1024 characters. SQLite does not enforce lengths, so there the
  tables are left as they are (recreating `itwins` with foreign keys on would delete its members).
- The secrets of upload URLs are kept as their SHA-256, like sign-in codes: a copy of the database uploads
  nothing. The columns are renamed to say so and their values hashed. The downgrade cannot recover the
  secrets: pending uploads lose their URL (a new one is made by starting the upload again).
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

NAME_COLUMNS = (
    ("itwin_members", "subject", False),
    ("itwin_favorites", "subject", False),
    ("itwin_recents", "subject", False),
    ("user_grants", "subject", False),
    ("runs", "requested_by", False),
    ("export_connections", "created_by", False),
    ("sync_connections", "created_by", False),
    ("itwins", "created_by", True),
    ("itwins", "modified_by", True),
    ("imodels", "created_by", True),
    ("imodel_versions", "created_by", True),
    ("named_versions", "created_by", True),
    ("storage_files", "created_by", True),
    ("storage_files", "modified_by", True),
    ("storage_folders", "created_by", True),
    ("storage_folders", "modified_by", True),
)
# (table, key column, secret column as it was, as it is now)
UPLOAD_SECRETS = (
    ("imodels", "id", "baseline_upload_token", "baseline_upload_token_hash"),
    ("storage_files", "id", "upload_token", "upload_token_hash"),
)


def _is_postgresql() -> bool:
    return bool(op.get_bind().dialect.name == "postgresql")


def _rename(table: str, old: str, new: str) -> None:
    # Both databases rename a column in place (SQLite since 3.25); no table is recreated.
    op.execute(f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")


def upgrade() -> None:
    if _is_postgresql():
        for table, column, nullable in NAME_COLUMNS:
            op.alter_column(
                table,
                column,
                existing_type=sa.String(length=255),
                type_=sa.String(length=1024),
                existing_nullable=nullable,
            )
    bind = op.get_bind()
    for table, key, old, new in UPLOAD_SECRETS:
        _rename(table, old, new)
        rows = bind.execute(sa.text(f"SELECT {key}, {new} FROM {table} WHERE {new} IS NOT NULL")).all()
        for row_key, secret in rows:
            bind.execute(
                sa.text(f"UPDATE {table} SET {new} = :digest WHERE {key} = :key"),
                {"digest": hashlib.sha256(secret.encode()).hexdigest(), "key": row_key},
            )


def downgrade() -> None:
    for table, _key, old, new in UPLOAD_SECRETS:
        op.execute(f"UPDATE {table} SET {new} = NULL")
        _rename(table, new, old)
    if _is_postgresql():
        for table, column, nullable in NAME_COLUMNS:
            op.alter_column(
                table,
                column,
                existing_type=sa.String(length=1024),
                type_=sa.String(length=255),
                existing_nullable=nullable,
            )
