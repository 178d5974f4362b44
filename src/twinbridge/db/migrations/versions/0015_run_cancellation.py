"""run cancellation requests (issue 15)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 11:40:00

`cancel_requested_at`: when a caller asked to cancel an executing run (POST …/runs/{id}/cancel, a twinbridge
extension); the worker executing it polls the column and stops the run.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cancel_requested_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("cancel_requested_at")
