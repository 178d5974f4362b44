"""synchronization configurations

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-03 07:00:00

One row per configured scope: exactly one of `itwin_id`, `imodel_id` and `connection_id` names it, each unique
(one configuration per scope) and deleted with what it names (ON DELETE CASCADE), so that deleting an iTwin,
an iModel or a connection removes its configuration. `settings` holds the flags set at that scope.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_configurations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("itwin_id", sa.String(length=36), nullable=True),
        sa.Column("imodel_id", sa.String(length=36), nullable=True),
        sa.Column("connection_id", sa.String(length=64), nullable=True),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("modified_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "(CASE WHEN itwin_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN imodel_id IS NULL THEN 0 ELSE 1 END)"
            " + (CASE WHEN connection_id IS NULL THEN 0 ELSE 1 END) = 1",
            name=op.f("ck_sync_configurations_one_scope"),
        ),
        sa.ForeignKeyConstraint(
            ["itwin_id"],
            ["itwins.id"],
            name=op.f("fk_sync_configurations_itwin_id_itwins"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["imodel_id"],
            ["imodels.id"],
            name=op.f("fk_sync_configurations_imodel_id_imodels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["connection_id"],
            ["sync_connections.id"],
            name=op.f("fk_sync_configurations_connection_id_sync_connections"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_configurations")),
        sa.UniqueConstraint("itwin_id", name=op.f("uq_sync_configurations_itwin_id")),
        sa.UniqueConstraint("imodel_id", name=op.f("uq_sync_configurations_imodel_id")),
        sa.UniqueConstraint("connection_id", name=op.f("uq_sync_configurations_connection_id")),
    )


def downgrade() -> None:
    op.drop_table("sync_configurations")
