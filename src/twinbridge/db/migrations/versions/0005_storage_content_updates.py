"""storage content updates

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 03:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("storage_files", schema=None) as batch_op:
        batch_op.add_column(sa.Column("pending_blob_key", sa.String(length=512), nullable=True))
        batch_op.add_column(sa.Column("pending_size", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("pending_sha256", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("storage_files", schema=None) as batch_op:
        batch_op.drop_column("pending_sha256")
        batch_op.drop_column("pending_size")
        batch_op.drop_column("pending_blob_key")
