"""synchronization diagnostic reports

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01 09:40:00

One row per task of a synchronization run that wrote a report: the report itself is a JSON blob
(`blob_key`). Rows go with their run (ON DELETE CASCADE; runs go with their connection or iModel), and the
services that delete runs delete the blobs. One report per task: a retried run replaces it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sync_reports",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("imodel_id", sa.String(length=36), nullable=False),
        sa.Column("blob_key", sa.String(length=1024), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_sync_reports_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_reports")),
        sa.UniqueConstraint("run_id", "task_id", name=op.f("uq_sync_reports_run_id_task_id")),
    )
    with op.batch_alter_table("sync_reports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sync_reports_imodel_id"), ["imodel_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sync_reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sync_reports_imodel_id"))
    op.drop_table("sync_reports")
