"""control API scripted-run rules and holds (issue 15)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-01 11:40:00

scripted_run_rules: the rules of POST /_twinbridge/scripts (newest matching wins). scripted_runs: the script
each run follows, chosen when a worker first takes it, and the state it is held in (POST
/_twinbridge/holds/{runId}/release); rows go with their run (ON DELETE CASCADE).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "scripted_run_rules",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("connection_id", sa.String(length=255), nullable=True),
        sa.Column("imodel_id", sa.String(length=255), nullable=True),
        sa.Column("script", sa.JSON(), nullable=True),
        sa.Column("engine_fault", sa.String(length=32), nullable=True),
        sa.Column("remaining", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scripted_run_rules")),
    )
    op.create_table(
        "scripted_runs",
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=36), nullable=True),
        sa.Column("script", sa.JSON(), nullable=True),
        sa.Column("engine_fault", sa.String(length=32), nullable=True),
        sa.Column("held_state", sa.String(length=32), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_scripted_runs_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("run_id", name=op.f("pk_scripted_runs")),
    )


def downgrade() -> None:
    op.drop_table("scripted_runs")
    op.drop_table("scripted_run_rules")
