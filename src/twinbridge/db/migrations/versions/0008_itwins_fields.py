"""itwins (every upstream field) and storage folders

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 07:00:00

The iTwin's upstream fields become columns, existing iTwins get their number (upstream: the id when none is
given) and a modification time, and each caller's favorite and recently used iTwins get a table.

On SQLite the columns are only added (ALTER TABLE ADD COLUMN): recreating `itwins` in batch mode would drop
the table with foreign keys on, which deletes every member, folder and file of every iTwin. The downgrade
drops them with ALTER TABLE DROP COLUMN (SQLite 3.35 and later) for the same reason. Storage folders need no
new column: their table has had every field since 0002.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_ITWIN_COLUMNS = (
    "itwin_type",
    "data_center_location",
    "geographic_location",
    "latitude",
    "longitude",
    "iana_time_zone",
    "parent_id",
    "itwin_account_id",
    "modified_at",
    "modified_by",
)


def upgrade() -> None:
    with op.batch_alter_table("itwins", schema=None) as batch_op:
        batch_op.add_column(sa.Column("itwin_type", sa.String(length=255), nullable=True))
        batch_op.add_column(
            sa.Column("data_center_location", sa.String(length=64), nullable=False, server_default="East US")
        )
        batch_op.add_column(sa.Column("geographic_location", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("latitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("longitude", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("iana_time_zone", sa.String(length=64), nullable=True))
        # No foreign key: adding one would make SQLite recreate the table (see above); the service checks it.
        batch_op.add_column(sa.Column("parent_id", sa.String(length=36), nullable=True))
        batch_op.add_column(sa.Column("itwin_account_id", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("modified_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("modified_by", sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f("ix_itwins_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index("ix_itwins_sub_class_number", ["sub_class", "number"], unique=False)
    op.execute("UPDATE itwins SET number = id WHERE number IS NULL")
    op.execute(
        "UPDATE itwins SET modified_at = created_at, modified_by = created_by WHERE modified_at IS NULL"
    )

    op.create_table(
        "itwin_favorites",
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("itwin_id", sa.String(length=36), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["itwin_id"], ["itwins.id"], name=op.f("fk_itwin_favorites_itwin_id_itwins"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("subject", "itwin_id", name=op.f("pk_itwin_favorites")),
    )
    op.create_table(
        "itwin_recents",
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("itwin_id", sa.String(length=36), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["itwin_id"], ["itwins.id"], name=op.f("fk_itwin_recents_itwin_id_itwins"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("subject", "itwin_id", name=op.f("pk_itwin_recents")),
    )
    with op.batch_alter_table("itwin_favorites", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_itwin_favorites_itwin_id"), ["itwin_id"], unique=False)
    with op.batch_alter_table("itwin_recents", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_itwin_recents_itwin_id"), ["itwin_id"], unique=False)
        batch_op.create_index("ix_itwin_recents_subject_used_at", ["subject", "used_at"], unique=False)


def downgrade() -> None:
    op.drop_table("itwin_recents")
    op.drop_table("itwin_favorites")
    op.drop_index("ix_itwins_sub_class_number", table_name="itwins")
    op.drop_index(op.f("ix_itwins_parent_id"), table_name="itwins")
    sqlite = op.get_bind().dialect.name == "sqlite"
    for column in reversed(_ITWIN_COLUMNS):
        if sqlite:
            op.execute(f"ALTER TABLE itwins DROP COLUMN {column}")
        else:
            op.drop_column("itwins", column)
