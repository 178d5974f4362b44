"""control API snapshots

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 11:40:00

One row per snapshot of the control API (twinbridge.control.state): the rows of every other table as they
were, serialized in `rows`, and a summary for listing. Kept in the database so that every API node of a
scale-out deployment sees the same snapshots and they outlive a restart; the blobs of a snapshot are kept by
the blob storage. Reset and restore leave this table alone.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "control_snapshots",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revision", sa.String(length=32), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("rows", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_control_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("control_snapshots")
