"""one active run per iModel per API

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01 07:30:00

An Export run and a Synchronization run of the same iModel may be active together (an export reads an
immutable version; a synchronization writes the next one); two runs of the same API may not.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("api", sa.String(length=16), nullable=True))
    op.execute("UPDATE runs SET api = CASE WHEN kind = 'export' THEN 'export' ELSE 'synchronization' END")
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.alter_column("api", existing_type=sa.String(length=16), nullable=False)
        batch_op.drop_constraint("uq_runs_active_imodel_id", type_="unique")
        batch_op.create_unique_constraint("uq_runs_active_imodel_id_api", ["active_imodel_id", "api"])


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_constraint("uq_runs_active_imodel_id_api", type_="unique")
        batch_op.create_unique_constraint("uq_runs_active_imodel_id", ["active_imodel_id"])
        batch_op.drop_column("api")
