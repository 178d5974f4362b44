"""imodels (extent, coordinate system, named versions)

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 07:00:00

An iModel keeps the extent and the horizontal coordinate system it was created or updated with; a version
may carry the description and the synchronization of the changeset that made it. Named versions name a
version (index 0 is the baseline). The blocks of a block upload (files over 256 MiB sent as Put Block and
Put Block List) are listed so that those never committed can be deleted with their iModel.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("imodels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extent", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("horizontal_crs_id", sa.String(length=255), nullable=True))

    with op.batch_alter_table("imodel_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("description", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("synchronization_info", sa.JSON(), nullable=True))

    op.create_table(
        "named_versions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("imodel_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("changeset_index", sa.Integer(), nullable=False),
        sa.Column("changeset_id", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_by", sa.String(length=255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["imodel_id"],
            ["imodels.id"],
            name=op.f("fk_named_versions_imodel_id_imodels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_named_versions")),
        sa.UniqueConstraint("imodel_id", "name", name="uq_named_versions_imodel_id_name"),
        sa.UniqueConstraint(
            "imodel_id", "changeset_index", name="uq_named_versions_imodel_id_changeset_index"
        ),
    )

    op.create_table(
        "imodel_upload_blocks",
        sa.Column("imodel_id", sa.String(length=36), nullable=False),
        sa.Column("block_key", sa.String(length=512), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["imodel_id"],
            ["imodels.id"],
            name=op.f("fk_imodel_upload_blocks_imodel_id_imodels"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("imodel_id", "block_key", name=op.f("pk_imodel_upload_blocks")),
    )


def downgrade() -> None:
    op.drop_table("imodel_upload_blocks")
    op.drop_table("named_versions")
    with op.batch_alter_table("imodel_versions", schema=None) as batch_op:
        batch_op.drop_column("synchronization_info")
        batch_op.drop_column("description")
    with op.batch_alter_table("imodels", schema=None) as batch_op:
        batch_op.drop_column("horizontal_crs_id")
        batch_op.drop_column("extent")
